//! The queue: deliveries with their history, the human controls on them
//! and on whole items (approval bound to the item's version), pause and
//! resume, and the channels' status.

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::calendar::items_matching;
use super::ops::{self, Overdue};
use super::problem::{Problem, ProblemDetails};
use super::ApiState;
use crate::access::Principal;
use crate::delivery::{Delivery, DeliverySummary, HoldReason, State as DeliveryState, Transition};
use crate::store::{AuditEntry, AuditFilter, ChannelActivity, QueueFilter};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(read))
        .routes(routes!(cancel))
        .routes(routes!(retry))
        .routes(routes!(confirm_sent))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(paused))
        .routes(routes!(channels))
        .routes(routes!(audit))
        .routes(routes!(test_channel))
}

/// A delivery as listed (its variant is in `GET /deliveries/{id}`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryRow {
    pub id: i64,
    pub item: String,
    pub channel: String,
    pub occasion: String,
    /// planned, due, in_flight, retrying, held:<reason>, sent, failed, cancelled.
    pub state: String,
    pub due_at: DateTime<Utc>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub remote_url: Option<String>,
    pub requires_approval: bool,
    pub approved: bool,
}

pub(super) fn row(d: &Delivery, now: DateTime<Utc>) -> DeliveryRow {
    listed(d.summary(), now)
}

pub(super) fn listed(d: DeliverySummary, now: DateTime<Utc>) -> DeliveryRow {
    DeliveryRow {
        state: d.display_state(now),
        id: d.id,
        item: d.item,
        channel: d.channel,
        occasion: d.occasion,
        due_at: d.due_at,
        attempts: d.attempts,
        last_error: d.last_error,
        remote_url: d.remote_url,
        requires_approval: d.requires_approval,
        approved: d.approved,
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryRow>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// planned, in_flight, retrying, held, sent, failed or cancelled.
    pub state: Option<String>,
    /// With state=held: approval, paused, uncertain, missed, credentials, unsupported.
    pub hold_reason: Option<String>,
    pub channel: Option<String>,
    pub item: Option<String>,
    /// Only items of this kind: news, briefing, event, notice or post.
    pub kind: Option<String>,
    /// Only items of this campaign.
    pub campaign: Option<String>,
    /// Only items with this topic.
    pub topic: Option<String>,
    /// Due at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Due before this time (RFC 3339).
    pub before: Option<DateTime<Utc>>,
    /// true: only deliveries still waiting for someone to approve them.
    pub awaiting_approval: Option<bool>,
    /// The `next` of the page before.
    pub after: Option<String>,
    /// At most 500; 100 when absent.
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/deliveries", params(DeliveryQuery),
    security(("crier" = ["read"])), tag = "queue",
    responses((status = 200, body = DeliveryPage), (status = 400, body = ProblemDetails)))]
async fn list(
    State(state): State<ApiState>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<DeliveryPage>, Problem> {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let (kind, campaign, topic) = (q.kind.as_deref(), q.campaign.as_deref(), q.topic.as_deref());
    let items = items_matching(&state.workspace(), kind, campaign, topic)?;
    let filter = QueueFilter {
        state: parse(q.state.as_deref(), "state", DeliveryState::parse)?,
        hold_reason: parse(q.hold_reason.as_deref(), "hold_reason", HoldReason::parse)?,
        channel: q.channel,
        item: q.item,
        limit: Some(limit + 1),
        after: q.after.as_deref().map(cursor).transpose()?,
        due_from: q.from,
        due_before: q.before,
        awaiting_approval: q.awaiting_approval.unwrap_or(false),
        items,
    };
    let mut rows = state.store.list_summaries(&filter).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let now = Utc::now();
    Ok(Json(DeliveryPage {
        next: rows
            .last()
            .filter(|_| more)
            .map(|d| cursor_of(d.due_at, d.id)),
        deliveries: rows.into_iter().map(|d| listed(d, now)).collect(),
    }))
}

fn parse<T>(v: Option<&str>, field: &str, f: fn(&str) -> Option<T>) -> Result<Option<T>, Problem> {
    v.map(|s| f(s).ok_or_else(|| Problem::bad_request(field, format!("unknown value `{s}`"))))
        .transpose()
}

/// A listing's `next`: where the page after the row (`due_at`, `id`) starts.
pub(super) fn cursor_of(due_at: DateTime<Utc>, id: i64) -> String {
    format!("{}.{id}", due_at.timestamp_millis())
}

fn cursor(s: &str) -> Result<(DateTime<Utc>, i64), Problem> {
    let bad = || Problem::bad_request("after", "the `next` of an earlier page");
    let (ms, id) = s.split_once('.').ok_or_else(bad)?;
    let ms: i64 = ms.parse().map_err(|_| bad())?;
    let id: i64 = id.parse().map_err(|_| bad())?;
    Ok((DateTime::from_timestamp_millis(ms).ok_or_else(bad)?, id))
}

/// One delivery: its row, exactly what it sends, and its history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryRow,
    #[schema(value_type = Object)]
    pub variant: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<Transition>,
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}", params(("id" = i64, Path)),
    security(("crier" = ["read"])), tag = "queue",
    responses((status = 200, body = DeliveryDetail), (status = 404, body = ProblemDetails)))]
async fn read(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<DeliveryDetail>, Problem> {
    let d = state
        .store
        .get(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no delivery with id {id}")))?;
    let history = state.store.history(id).await?;
    Ok(Json(DeliveryDetail {
        delivery: row(&d, Utc::now()),
        variant: serde_json::to_value(&d.variant).expect("JSON of plain data"),
        history,
    }))
}

#[derive(Debug, Deserialize, ToSchema, Default)]
pub struct Reason {
    /// Why, for the audit log and the item's author.
    pub reason: Option<String>,
}

pub(super) async fn done(state: &ApiState, d: Delivery) -> Json<DeliveryRow> {
    state.wake.notify_one();
    Json(row(&d, Utc::now()))
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/cancel", params(("id" = i64, Path)),
    security(("crier" = ["operate"])), tag = "queue",
    responses((status = 200, body = DeliveryRow), (status = 409, body = ProblemDetails)))]
async fn cancel(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Json<DeliveryRow>, Problem> {
    let d = ops::cancel(state.store.as_ref(), id, who.actor, Utc::now()).await?;
    Ok(done(&state, d).await)
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/retry", params(("id" = i64, Path)),
    security(("crier" = ["operate"])), tag = "queue",
    responses((status = 200, body = DeliveryRow), (status = 409, body = ProblemDetails)))]
async fn retry(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Json<DeliveryRow>, Problem> {
    let d = ops::retry(state.store.as_ref(), id, who.actor, Utc::now()).await?;
    Ok(done(&state, d).await)
}

#[derive(Debug, Deserialize, ToSchema, Default)]
pub struct PauseRequest {
    /// One channel; everything when absent.
    pub channel: Option<String>,
}

/// Held as uncertain, and a person has seen the post on the network:
/// record it as sent, so it is never sent twice.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/confirm-sent", params(("id" = i64, Path)),
    security(("crier" = ["operate"])), tag = "queue",
    responses((status = 200, body = DeliveryRow), (status = 409, body = ProblemDetails)))]
async fn confirm_sent(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Json<DeliveryRow>, Problem> {
    let d = ops::confirm_sent(state.store.as_ref(), id, who.actor, Utc::now()).await?;
    Ok(done(&state, d).await)
}

#[utoipa::path(post, path = "/api/v1/pause", request_body = PauseRequest,
    security(("crier" = ["operate"])), tag = "queue",
    responses((status = 200, body = Object)))]
async fn pause(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    body: Option<Json<PauseRequest>>,
) -> Result<Json<serde_json::Value>, Problem> {
    let channel = body.and_then(|Json(b)| b.channel);
    known_channel(&state, channel.as_deref())?;
    let store = state.store.as_ref();
    store
        .set_paused(channel.as_deref(), true, who.actor, Utc::now())
        .await?;
    state.wake.notify_one();
    Ok(Json(
        serde_json::to_value(store.paused().await?).expect("JSON"),
    ))
}

fn known_channel(state: &ApiState, channel: Option<&str>) -> Result<(), Problem> {
    match channel {
        Some(c) if state.workspace().channel(c).is_none() => {
            Err(Problem::bad_request("channel", format!("no channel `{c}`")))
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize, ToSchema, Default)]
pub struct ResumeRequest {
    /// One channel; everything when absent.
    pub channel: Option<String>,
    /// What to do with each delivery whose time passed while paused; when
    /// absent they stay held and are listed for a decision.
    pub overdue: Option<Overdue>,
    /// A choice for one overdue delivery, in place of `overdue` for it.
    #[serde(default)]
    pub decisions: Vec<OverdueDecision>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OverdueDecision {
    pub id: i64,
    pub overdue: Overdue,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResumeResult {
    /// Deliveries decided by `overdue`.
    pub decided: Vec<DeliveryRow>,
    /// Overdue deliveries still held for a decision.
    pub held: Vec<DeliveryRow>,
}

#[utoipa::path(post, path = "/api/v1/resume", request_body = ResumeRequest,
    security(("crier" = ["operate"])), tag = "queue",
    responses((status = 200, body = ResumeResult)))]
async fn resume(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    body: Option<Json<ResumeRequest>>,
) -> Result<Json<ResumeResult>, Problem> {
    let request = body.map(|Json(b)| b).unwrap_or_default();
    known_channel(&state, request.channel.as_deref())?;
    let now = Utc::now();
    let store = state.store.as_ref();
    let overdue = ops::resume(store, request.channel.as_deref(), who.actor.clone(), now).await?;
    let config = &state.workspace().config;
    let (mut decided, mut held) = (Vec::new(), Vec::new());
    for d in &overdue {
        let own = request.decisions.iter().find(|c| c.id == d.id);
        let outcome = match own.map(|c| c.overdue).or(request.overdue) {
            None => None,
            Some(choice) => ops::decide_overdue(store, config, d, choice, who.actor.clone(), now)
                .await
                .map_err(|e| Problem::new(409, "Not possible now").detail(e.to_string()))?,
        };
        match outcome {
            Some(done) => decided.push(row(&done, now)),
            None => held.push(row(d, now)),
        }
    }
    state.wake.notify_one();
    Ok(Json(ResumeResult { decided, held }))
}

#[utoipa::path(get, path = "/api/v1/pause", security(("crier" = ["read"])), tag = "queue",
    responses((status = 200, body = Object)))]
async fn paused(State(state): State<ApiState>) -> Result<Json<serde_json::Value>, Problem> {
    let p = state.store.paused().await?;
    Ok(Json(serde_json::to_value(p).expect("JSON of plain data")))
}

/// A channel as the team sees it: what it is, whether its secrets are
/// set here, and whether something holds it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChannelStatus {
    pub name: String,
    pub kind: String,
    /// Each secret's environment variable, and whether it is set (never its value).
    pub secrets: Vec<SecretStatus>,
    /// e.g. "needs new credentials"; absent when nothing is wrong.
    pub attention: Option<String>,
    pub paused: bool,
    /// The limits it counts with and where they came from.
    pub limits: Option<String>,
    /// When it last sent something.
    pub last_sent: Option<DateTime<Utc>>,
    /// Its latest delivery now failed or waiting to retry, and why.
    pub last_failed: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Deliveries by state.
    #[schema(value_type = Object)]
    pub counts: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretStatus {
    pub variable: String,
    pub set: bool,
}

#[utoipa::path(get, path = "/api/v1/channels", security(("crier" = ["read"])), tag = "channels",
    responses((status = 200, body = Vec<ChannelStatus>)))]
async fn channels(State(state): State<ApiState>) -> Result<Json<Vec<ChannelStatus>>, Problem> {
    let ws = state.workspace();
    let notes = state.store.channel_statuses().await?;
    let counts = state.store.counts().await?;
    let paused = state.store.paused().await?;
    let activity = state.store.channel_activity().await?;
    let out = ws
        .channels
        .iter()
        .map(|c| ChannelStatus {
            name: c.name().into(),
            kind: c.kind().into(),
            secrets: c
                .secrets()
                .iter()
                .map(|s| SecretStatus {
                    variable: s.0.to_string(),
                    set: s.is_set(),
                })
                .collect(),
            attention: notes
                .iter()
                .find(|(n, _)| n == c.name())
                .map(|(_, note)| note.clone()),
            paused: paused.covers(c.name()),
            limits: c.limits(),
            last_sent: activity_of(&activity, c.name()).and_then(|a| a.last_sent),
            last_failed: activity_of(&activity, c.name()).and_then(|a| a.last_failed),
            last_error: activity_of(&activity, c.name()).and_then(|a| a.last_error.clone()),
            counts: counts
                .iter()
                .filter(|(n, _, _)| n == c.name())
                .map(|(_, s, n)| (s.as_str().to_string(), *n))
                .collect(),
        })
        .collect();
    Ok(Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub item: Option<String>,
    pub channel: Option<String>,
    /// As recorded: `person:EMAIL`, `token:NAME`, `cli:USER` or `daemon`.
    pub actor: Option<String>,
    /// Entries at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    pub offset: Option<usize>,
    /// At most 500; 100 when absent.
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery),
    security(("crier" = ["read"])), tag = "queue",
    responses((status = 200, body = Vec<Object>)))]
async fn audit(
    State(state): State<ApiState>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, Problem> {
    let filter = AuditFilter {
        item: q.item,
        channel: q.channel,
        actor: q.actor,
        since: q.since,
        content_only: false,
        offset: q.offset.unwrap_or(0),
        limit: q.limit.unwrap_or(100).clamp(1, 500),
    };
    Ok(Json(state.store.audit(&filter).await?))
}

#[utoipa::path(post, path = "/api/v1/channels/{name}/test", params(("name" = String, Path)),
    security(("crier" = ["operate"])), tag = "channels",
    responses((status = 200, body = ops::ChannelTest), (status = 404, body = ProblemDetails)))]
async fn test_channel(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<ops::ChannelTest>, Problem> {
    let ws = state.workspace();
    let channel = ws
        .channel(&name)
        .ok_or_else(|| Problem::not_found(format!("no channel `{name}`")))?;
    let data_dir = ws.config.data_dir();
    Ok(Json(
        ops::test_channel(channel, &state.services, &data_dir).await,
    ))
}

fn activity_of<'a>(all: &'a [ChannelActivity], channel: &str) -> Option<&'a ChannelActivity> {
    all.iter().find(|a| a.channel == channel)
}
