//! Items: list, read, create, update, delete. Writes go to the TOML files
//! in `campaigns/` (never a copy in the database), are checked before they
//! land, and carry the entry's version: an update or delete must send the
//! version it read (`If-Match`), so nobody overwrites a change they have
//! not seen, hand edits included.

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::edit::{self, File};
use super::history::{self, Saved};
use super::problem::{Finding, Problem, ProblemDetails};
use super::ApiState;
use crate::access::Principal;
use crate::content::load::Overlay;
use crate::content::Item;
use crate::diagnostics::{Report, Severity};
use crate::store::QueueFilter;
use crate::workspace::{Checked, Workspace};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, delete))
}

/// One item, as the list shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemSummary {
    pub id: String,
    pub kind: String,
    pub title: String,
    /// When it is published (UTC, RFC 3339).
    pub at: DateTime<Utc>,
    pub channels: Vec<String>,
    pub topics: Vec<String>,
    pub campaign: Option<String>,
    /// The campaign file it is written in, relative to `campaigns/`.
    pub file: String,
    /// Send it back as `If-Match` to change or delete the item.
    pub version: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemList {
    pub items: Vec<ItemSummary>,
    pub total: usize,
    /// The offset of the next page, if there is one.
    pub next: Option<usize>,
}

/// One item in full: its fields as written in the file.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemDetail {
    #[serde(flatten)]
    pub summary: ItemSummary,
    /// The entry's keys and values, as in the TOML file.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemQuery {
    /// news, briefing, event, notice or post.
    pub kind: Option<String>,
    pub channel: Option<String>,
    pub campaign: Option<String>,
    pub topic: Option<String>,
    /// Only these items (ids separated by commas).
    pub ids: Option<String>,
    /// Published at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Published before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only items with a delivery in this state (planned, held, sent, …).
    pub state: Option<String>,
    pub offset: Option<usize>,
    /// At most 500; 100 when not given.
    pub limit: Option<usize>,
}

/// A new or changed item.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ItemWrite {
    /// For a new item: the file to add it to (created if missing);
    /// `<id>.toml` when not given.
    pub file: Option<String>,
    /// For a new item: `item` (default) or `post` (in a campaign's file).
    pub entry: Option<String>,
    /// The entry's keys and values, as they would be written in TOML.
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Why: kept in the audit log, and the commit message's body when
    /// saves are committed to git.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Why: kept as for a change.
    pub reason: Option<String>,
}

pub fn summary(item: &Item, root: &std::path::Path) -> ItemSummary {
    ItemSummary {
        id: item.id.clone(),
        kind: item.kind.as_str().into(),
        title: item.title.clone(),
        at: item.at,
        channels: item.channels.clone(),
        topics: item.topics.clone(),
        campaign: item.campaign.clone(),
        file: item
            .origin
            .path
            .strip_prefix(root)
            .unwrap_or(&item.origin.path)
            .to_string_lossy()
            .into_owned(),
        version: item.origin.version.clone(),
    }
}

#[utoipa::path(get, path = "/api/v1/items", params(ItemQuery),
    security(("crier" = ["read"])), tag = "items",
    responses((status = 200, body = ItemList), (status = 400, body = ProblemDetails)))]
async fn list(
    State(state): State<ApiState>,
    Query(q): Query<ItemQuery>,
) -> Result<Json<ItemList>, Problem> {
    let ws = state.workspace();
    let with_state = match &q.state {
        None => None,
        Some(s) => Some(items_in_state(&state, s).await?),
    };
    let root = ws.config.campaigns_dir();
    // Only the ids asked for are looked at, not every item.
    let ids: Option<BTreeSet<&str>> = q.ids.as_deref().map(|s| s.split(',').collect());
    let candidates: Vec<&Item> = match &ids {
        Some(ids) => ids.iter().filter_map(|id| ws.item(id)).collect(),
        None => ws.items.iter().collect(),
    };
    let mut items: Vec<&Item> = candidates
        .into_iter()
        .filter(|i| q.kind.as_ref().is_none_or(|k| i.kind.as_str() == k))
        .filter(|i| q.channel.as_ref().is_none_or(|c| i.channels.contains(c)))
        .filter(|i| q.campaign.is_none() || i.campaign == q.campaign)
        .filter(|i| q.topic.as_ref().is_none_or(|t| i.topics.contains(t)))
        .filter(|i| q.from.is_none_or(|f| i.at >= f) && q.to.is_none_or(|t| i.at < t))
        .filter(|i| with_state.as_ref().is_none_or(|s| s.contains(&i.id)))
        .collect();
    items.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let (offset, limit) = (q.offset.unwrap_or(0), q.limit.unwrap_or(100).clamp(1, 500));
    let total = items.len();
    let page = items.iter().skip(offset).take(limit);
    Ok(Json(ItemList {
        items: page.map(|i| summary(i, &root)).collect(),
        total,
        next: (offset + limit < total).then_some(offset + limit),
    }))
}

async fn items_in_state(state: &ApiState, name: &str) -> Result<BTreeSet<String>, Problem> {
    let Some(s) = crate::delivery::State::parse(name) else {
        return Err(Problem::bad_request(
            "state",
            format!("unknown state `{name}`"),
        ));
    };
    let rows = state
        .store
        .list_summaries(&QueueFilter {
            state: Some(s),
            ..QueueFilter::default()
        })
        .await?;
    Ok(rows.into_iter().map(|d| d.item).collect())
}

#[utoipa::path(get, path = "/api/v1/items/{id}", params(("id" = String, Path)),
    security(("crier" = ["read"])), tag = "items",
    responses((status = 200, body = ItemDetail, headers(("ETag" = String))),
        (status = 404, body = ProblemDetails)))]
async fn read(State(state): State<ApiState>, Path(id): Path<String>) -> Result<Response, Problem> {
    detail_of(&state.workspace(), &id, StatusCode::OK)
}

fn with_version(status: StatusCode, detail: ItemDetail) -> Response {
    let etag = format!("\"{}\"", detail.summary.version);
    (status, [(header::ETAG, etag)], Json(detail)).into_response()
}

/// The version an update or delete was made against.
pub(super) fn if_match(headers: &HeaderMap) -> Result<String, Problem> {
    let value = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Problem::new(428, "If-Match is required")
                .detail("send the item's version (its ETag) as If-Match")
        })?;
    Ok(value
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string())
}

fn conflict(current: String) -> Problem {
    Problem::new(409, "The item changed since you read it")
        .detail("someone else saved it; read it again to see their change")
        .current_version(current)
}

#[utoipa::path(post, path = "/api/v1/items", request_body = ItemWrite,
    security(("crier" = ["edit"])), tag = "items",
    responses((status = 201, body = ItemDetail), (status = 400, body = ProblemDetails),
        (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
async fn create(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Json(body): Json<ItemWrite>,
) -> Result<Response, Problem> {
    let id = field_id(&body.fields)?;
    let array = match body.entry.as_deref().unwrap_or("item") {
        a @ ("item" | "post") => a,
        _ => return Err(Problem::bad_request("entry", "`item` or `post`")),
    };
    let _saving = state.saving.lock().await;
    let dir = state.workspace().config.campaigns_dir();
    let name = body.file.clone().unwrap_or_else(|| format!("{id}.toml"));
    let mut file = File::read(&edit::file_in(&dir, &name)?)?;
    let table = edit::from_json(&body.fields)?;
    file.append(array, table);
    let ws = save(&state, &file, Some(file.doc.to_string()), &id)?;
    let ws = adopt(&state, ws).await?;
    let saved = Saved {
        action: "created",
        id: &id,
        path: &file.path,
        before: None,
        after: file.entry_text(&id),
        reason: body.reason,
        version: version_in(&ws, &id),
    };
    history::record(&state, &who, saved).await?;
    detail_of(&ws, &id, StatusCode::CREATED)
}

#[utoipa::path(put, path = "/api/v1/items/{id}", params(("id" = String, Path),
        ("If-Match" = String, Header, description = "the version read")),
    request_body = ItemWrite, security(("crier" = ["edit"])), tag = "items",
    responses((status = 200, body = ItemDetail), (status = 409, body = ProblemDetails),
        (status = 422, body = ProblemDetails), (status = 428, body = ProblemDetails)))]
async fn update(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<ItemWrite>,
) -> Result<Response, Problem> {
    let expected = if_match(&headers)?;
    if field_id(&body.fields)? != id {
        return Err(Problem::bad_request(
            "fields.id",
            "an item's id cannot change",
        ));
    }
    let _saving = state.saving.lock().await;
    let mut file = open_entry_file(&state, &id)?;
    let (array, index) = file.find(&id).ok_or_else(|| conflict(String::new()))?;
    let current = edit::version(file.entry(array, index));
    if current != expected {
        return Err(conflict(current));
    }
    let new = edit::from_json(&body.fields)?;
    let before = file.entry_text(&id);
    edit::update_in_place(file.entry_mut(array, index), new);
    let ws = save(&state, &file, Some(file.doc.to_string()), &id)?;
    let ws = adopt(&state, ws).await?;
    let saved = Saved {
        action: "updated",
        id: &id,
        path: &file.path,
        before,
        after: file.entry_text(&id),
        reason: body.reason,
        version: version_in(&ws, &id),
    };
    history::record(&state, &who, saved).await?;
    detail_of(&ws, &id, StatusCode::OK)
}

#[utoipa::path(delete, path = "/api/v1/items/{id}", params(("id" = String, Path),
        ("If-Match" = String, Header, description = "the version read"), DeleteQuery),
    security(("crier" = ["edit"])), tag = "items",
    responses((status = 204), (status = 409, body = ProblemDetails), (status = 428, body = ProblemDetails)))]
async fn delete(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Query(q): Query<DeleteQuery>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let expected = if_match(&headers)?;
    let _saving = state.saving.lock().await;
    let mut file = open_entry_file(&state, &id)?;
    let (array, index) = file.find(&id).ok_or_else(|| conflict(String::new()))?;
    let current = edit::version(file.entry(array, index));
    if current != expected {
        return Err(conflict(current));
    }
    let before = file.entry_text(&id);
    file.remove(array, index);
    let text = (!file.is_empty()).then(|| file.doc.to_string());
    let ws = save(&state, &file, text, &id)?;
    adopt(&state, ws).await?;
    let saved = Saved {
        action: "deleted",
        id: &id,
        path: &file.path,
        before,
        after: None,
        reason: q.reason,
        version: String::new(),
    };
    history::record(&state, &who, saved).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn field_id(fields: &serde_json::Map<String, serde_json::Value>) -> Result<String, Problem> {
    match fields.get("id").and_then(|v| v.as_str()) {
        Some(id) if !id.trim().is_empty() => Ok(id.to_string()),
        _ => Err(Problem::bad_request("fields.id", "every item needs an id")),
    }
}

fn open_entry_file(state: &ApiState, id: &str) -> Result<File, Problem> {
    let ws = state.workspace();
    let item = ws
        .item(id)
        .ok_or_else(|| Problem::not_found(format!("no item `{id}`")))?;
    File::read(&item.origin.path)
}

/// Checks the workspace as it would be with `file` changed to `text`, and
/// writes it only if that passes; the checked workspace is returned. The
/// errors about entry `id` name the field they concern.
fn save(state: &ApiState, file: &File, text: Option<String>, id: &str) -> Result<Checked, Problem> {
    let mut overlay = Overlay::default();
    overlay.0.insert(file.path.clone(), text.clone());
    let ws = checked(state, &overlay).map_err(|mut p| {
        if let Some(text) = &text {
            edit::name_fields(&mut p.0.errors, &file.path, text, id);
        }
        p
    })?;
    file.replace(text.as_deref())?;
    Ok(ws)
}

/// A saved workspace becomes the content at once: its plan (from the
/// variants its check rendered, not rendered again) synced to the queue
/// and the daemon's copy replaced, so whoever saved reads their item and
/// its deliveries next (the file watcher's reload that follows finds
/// nothing left to change).
async fn adopt(state: &ApiState, checked: Checked) -> Result<std::sync::Arc<Workspace>, Problem> {
    crate::plan::sync(&checked, state.store.as_ref(), chrono::Utc::now()).await?;
    let ws = std::sync::Arc::new(checked.into_workspace());
    *state.workspace.write().expect("workspace lock") = ws.clone();
    state.wake.notify_one();
    crate::workspace::release_freed_memory();
    Ok(ws)
}

/// The workspace with `overlay` in place and the variants its check
/// rendered, if it passes `check`; else 422 with every error located.
pub fn checked(state: &ApiState, overlay: &Overlay) -> Result<Checked, Problem> {
    let mut report = Report::default();
    // Only what the edit changed is parsed and rendered: the rest is the daemon's.
    let previous = state.workspace().reuse();
    let ws = Workspace::load_reusing(&state.config_path, overlay, &previous.files, &mut report);
    let variants = match &ws {
        Some(ws) if report.error_count() == 0 => ws.check_reusing(&previous.variants, &mut report),
        _ => Default::default(),
    };
    let root = state
        .config_path
        .parent()
        .unwrap_or(std::path::Path::new("."));
    let errors: Vec<Finding> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| Finding::from_diagnostic(d, root))
        .collect();
    match ws {
        Some(workspace) if errors.is_empty() => {
            let mut checked = Checked::new(workspace, variants);
            checked.previous_plan = previous.plan;
            Ok(checked)
        }
        _ => Err(
            Problem::new(422, "The item does not pass check; nothing was saved")
                .detail(format!("{} error(s)", errors.len().max(1)))
                .errors(errors),
        ),
    }
}

fn detail_of(ws: &Workspace, id: &str, status: StatusCode) -> Result<Response, Problem> {
    let item = ws
        .item(id)
        .ok_or_else(|| Problem::not_found(format!("no item `{id}`")))?;
    let file = File::read(&item.origin.path)?;
    let (array, index) = file
        .find(id)
        .ok_or_else(|| Problem::not_found(format!("item `{id}` is no longer in its file")))?;
    let entry = file.entry(array, index);
    let mut detail = ItemDetail {
        summary: summary(item, &ws.config.campaigns_dir()),
        fields: edit::to_json(entry),
    };
    // The file on disk is the truth: a hand edit not yet reloaded shows.
    detail.summary.version = edit::version(entry);
    Ok(with_version(status, detail))
}

fn version_in(ws: &Workspace, id: &str) -> String {
    ws.item(id)
        .map_or(String::new(), |i| i.origin.version.clone())
}

/// The campaign files as they would be with `draft` saved (replacing the
/// entry with its id, or added), for check and preview without saving.
pub fn draft_overlay(state: &ApiState, draft: &ItemWrite) -> Result<(Overlay, String), Problem> {
    let id = field_id(&draft.fields)?;
    let ws = state.workspace();
    let mut file = match ws.item(&id) {
        Some(item) => File::read(&item.origin.path)?,
        None => {
            let name = draft.file.clone().unwrap_or_else(|| format!("{id}.toml"));
            File::read(&edit::file_in(&ws.config.campaigns_dir(), &name)?)?
        }
    };
    let table = edit::from_json(&draft.fields)?;
    match file.find(&id) {
        Some((array, index)) => edit::update_in_place(file.entry_mut(array, index), table),
        None => file.append(draft.entry.as_deref().unwrap_or("item"), table),
    }
    let mut overlay = Overlay::default();
    overlay
        .0
        .insert(file.path.clone(), Some(file.doc.to_string()));
    Ok((overlay, id))
}
