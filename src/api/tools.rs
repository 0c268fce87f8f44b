//! What the CLI's `check`, `preview`, `when` and `count` do, for saved
//! items and for drafts that are not saved.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::items::{draft_overlay, ItemWrite};
use super::problem::{Finding, Problem, ProblemDetails};
use super::ApiState;
use crate::content::load::Overlay;
use crate::diagnostics::{Report, Severity};
use crate::workspace::Workspace;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(check))
        .routes(routes!(preview_draft))
        .routes(routes!(preview_item))
        .routes(routes!(when))
        .routes(routes!(count))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    /// No errors: `crier serve` would take this content.
    pub ok: bool,
    pub items: usize,
    pub variants: usize,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
pub struct CheckRequest {
    /// A draft item to check as if saved; the saved workspace when absent.
    pub draft: Option<ItemWrite>,
}

#[utoipa::path(post, path = "/api/v1/check", request_body = CheckRequest,
    security(("crier" = ["read"])), tag = "content",
    responses((status = 200, body = CheckResult), (status = 400, body = ProblemDetails)))]
async fn check(
    State(state): State<ApiState>,
    body: Option<Json<CheckRequest>>,
) -> Result<Json<CheckResult>, Problem> {
    let overlay = match body.and_then(|Json(b)| b.draft) {
        Some(draft) => draft_overlay(&state, &draft)?.0,
        None => Overlay::default(),
    };
    let (ws, report, variants) = load(&state, &overlay);
    let root = state
        .config_path
        .parent()
        .unwrap_or(std::path::Path::new("."));
    Ok(Json(CheckResult {
        ok: report.error_count() == 0 && ws.is_some(),
        items: ws.as_ref().map_or(0, |w| w.items.len()),
        variants,
        findings: report
            .diagnostics
            .iter()
            .map(|d| Finding::from_diagnostic(d, root))
            .collect(),
    }))
}

fn load(state: &ApiState, overlay: &Overlay) -> (Option<Workspace>, Report, usize) {
    let mut report = Report::default();
    let ws = Workspace::load_with(&state.config_path, overlay, &mut report);
    let variants = ws.as_ref().map_or(0, |w| w.check(&mut report).len());
    (ws, report, variants)
}

/// Each variant exactly as its channel will receive it (the shape of
/// `crier preview --format json`), with the item's findings.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    #[schema(value_type = Vec<Object>)]
    pub variants: Vec<serde_json::Value>,
    pub findings: Vec<Finding>,
    /// When it goes out on each channel, as crier plans it: the publish
    /// time (or the channel's next free posting slot, or the campaign
    /// cadence's time) and each reminder.
    pub due: Vec<Due>,
}

/// One delivery of the item as planned.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Due {
    pub channel: String,
    /// `at` for the item's publish time; a reminder as it is written.
    pub occasion: String,
    pub due_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// Only this channel's variant.
    pub channel: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/preview", request_body = ItemWrite, params(PreviewQuery),
    security(("crier" = ["read"])), tag = "content",
    responses((status = 200, body = Preview), (status = 400, body = ProblemDetails),
        (status = 422, body = ProblemDetails)))]
async fn preview_draft(
    State(state): State<ApiState>,
    Query(q): Query<PreviewQuery>,
    Json(draft): Json<ItemWrite>,
) -> Result<Json<Preview>, Problem> {
    let (overlay, id) = draft_overlay(&state, &draft)?;
    let mut report = Report::default();
    let ws = Workspace::load_with(&state.config_path, &overlay, &mut report);
    let root = state
        .config_path
        .parent()
        .unwrap_or(std::path::Path::new("."));
    let Some(ws) = ws.filter(|w| w.item(&id).is_some()) else {
        let mut errors: Vec<Finding> = report
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| Finding::from_diagnostic(d, root))
            .collect();
        for (path, text) in &overlay.0 {
            if let Some(text) = text {
                super::edit::name_fields(&mut errors, path, text, &id);
            }
        }
        return Err(Problem::new(422, "The draft cannot be read").errors(errors));
    };
    Ok(Json(preview(&ws, &id, q.channel.as_deref(), root)?))
}

#[utoipa::path(get, path = "/api/v1/items/{id}/preview", params(("id" = String, Path), PreviewQuery),
    security(("crier" = ["read"])), tag = "content",
    responses((status = 200, body = Preview), (status = 404, body = ProblemDetails)))]
async fn preview_item(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> Result<Json<Preview>, Problem> {
    let ws = state.workspace();
    let root = state
        .config_path
        .parent()
        .unwrap_or(std::path::Path::new("."));
    Ok(Json(preview(&ws, &id, q.channel.as_deref(), root)?))
}

pub(super) fn preview(
    ws: &Workspace,
    id: &str,
    channel: Option<&str>,
    root: &std::path::Path,
) -> Result<Preview, Problem> {
    let item = ws
        .item(id)
        .ok_or_else(|| Problem::not_found(format!("no item `{id}`")))?;
    if let Some(c) = channel.filter(|c| !item.channels.iter().any(|x| x == c)) {
        return Err(Problem::not_found(format!(
            "item `{id}` does not go to channel `{c}`"
        )));
    }
    let mut report = Report::default();
    let variants = ws
        .variants(item, &mut report)
        .into_iter()
        .filter(|v| channel.is_none_or(|c| v.channel == c))
        .map(|v| {
            let mut json = serde_json::to_value(&v).expect("JSON of plain data");
            if let Some(limits) = ws.channel(&v.channel).and_then(|c| c.limits()) {
                json["limits"] = limits.into();
            }
            json
        })
        .collect();
    // Every item takes its slots (in a workspace that passes check, every
    // pair is rendered and planned), so this one's are the plan's.
    let due = crate::plan::occasions(ws, |_, _| true)
        .into_iter()
        .filter(|o| o.item.id == id && channel.is_none_or(|c| o.channel == c))
        .map(|o| Due {
            channel: o.channel.to_string(),
            occasion: o.name,
            due_at: o.due_at,
        })
        .collect();
    Ok(Preview {
        variants,
        due,
        findings: report
            .diagnostics
            .iter()
            .map(|d| Finding::from_diagnostic(d, root))
            .collect(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WhenQuery {
    /// A schedule as items write it: `2027-01-13 10:00`, a cadence
    /// (`0 10 * * MON from 2026-12-07`), …
    pub schedule: String,
    /// Firings after this local time (`YYYY-MM-DD HH:MM`); now when absent.
    pub from: Option<String>,
    /// How many (at most 100; 5 when absent).
    pub count: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/when", params(WhenQuery),
    security(("crier" = ["read"])), tag = "content",
    responses((status = 200, body = Vec<Object>), (status = 400, body = ProblemDetails)))]
async fn when(
    State(state): State<ApiState>,
    Query(q): Query<WhenQuery>,
) -> Result<Json<serde_json::Value>, Problem> {
    let tz = state.workspace().config.organisation.timezone;
    let schedule = crier_schedule::Schedule::parse(&q.schedule, tz)
        .map_err(|e| Problem::bad_request("schedule", e.to_string()))?;
    let after = match q
        .from
        .as_deref()
        .map(|f| crier_schedule::parse_datetime(f, tz))
    {
        None => chrono::Utc::now(),
        Some(Ok(t)) => t.instant,
        Some(Err(e)) => return Err(Problem::bad_request("from", e.to_string())),
    };
    let count = q.count.unwrap_or(5).clamp(1, 100);
    let firings = crier_schedule::describe_firings(&schedule, after, count, tz)
        .map_err(|e| Problem::bad_request("schedule", e.to_string()))?;
    Ok(Json(
        serde_json::to_value(firings).expect("JSON of plain data"),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CountRequest {
    pub text: String,
    /// One of the networks `crier count` knows.
    pub network: String,
    /// Another limit than the network's own.
    pub limit: Option<usize>,
}

#[utoipa::path(post, path = "/api/v1/count", request_body = CountRequest,
    security(("crier" = ["read"])), tag = "content",
    responses((status = 200, body = Object), (status = 400, body = ProblemDetails)))]
async fn count(Json(body): Json<CountRequest>) -> Result<Json<serde_json::Value>, Problem> {
    let counter = crier_text::counter_for(&body.network, body.limit).ok_or_else(|| {
        Problem::bad_request(
            "network",
            format!("one of: {}", crier_text::NETWORKS.join(", ")),
        )
    })?;
    Ok(Json(
        serde_json::to_value(counter.measure(&body.text)).expect("JSON of plain data"),
    ))
}
