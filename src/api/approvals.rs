//! Approvals: of one delivery, or of a whole item at the version that was
//! reviewed (`If-Match`), on every channel at once; rejections keep the
//! deliveries held with the reason for the author.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::deliveries::{done, row, DeliveryRow, Reason};
use super::ops;
use super::problem::{Problem, ProblemDetails};
use super::ApiState;
use crate::access::Principal;
use crate::delivery::Delivery;
use crate::store::{AuditFilter, QueueFilter};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(approve_item))
        .routes(routes!(reject_item))
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/approve", params(("id" = i64, Path)),
    security(("crier" = ["approve"])), tag = "approvals",
    responses((status = 200, body = DeliveryRow), (status = 409, body = ProblemDetails)))]
async fn approve(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Json<DeliveryRow>, Problem> {
    let now = Utc::now();
    not_own_work(&state, &who, &delivery_item(&state, id).await?).await?;
    let d = ops::approve(state.store.as_ref(), id, who.actor, "approved".into(), now).await?;
    Ok(done(&state, d).await)
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/reject", params(("id" = i64, Path)),
    request_body = Reason, security(("crier" = ["approve"])), tag = "approvals",
    responses((status = 200, body = DeliveryRow), (status = 409, body = ProblemDetails)))]
async fn reject(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
    body: Option<Json<Reason>>,
) -> Result<Json<DeliveryRow>, Problem> {
    let reason = reason_of(body)?;
    not_own_work(&state, &who, &delivery_item(&state, id).await?).await?;
    let d = ops::reject(state.store.as_ref(), id, who.actor, &reason, Utc::now()).await?;
    Ok(done(&state, d).await)
}

async fn delivery_item(state: &ApiState, id: i64) -> Result<String, Problem> {
    let d = state.store.get(id).await?;
    Ok(
        d.ok_or_else(|| Problem::not_found(format!("no delivery with id {id}")))?
            .item,
    )
}

/// With `[auth] separate_approver = true`, whoever last wrote an item (its
/// latest change through the API) may not approve or reject it.
async fn not_own_work(state: &ApiState, who: &Principal, item: &str) -> Result<(), Problem> {
    if !state.workspace().config.auth.separate_approver {
        return Ok(());
    }
    let filter = AuditFilter {
        item: Some(item.to_string()),
        content_only: true,
        limit: 1,
        ..AuditFilter::default()
    };
    let last = state.store.audit(&filter).await?;
    if last.first().is_some_and(|c| c.actor == who.actor) {
        return Err(Problem::new(403, "Someone else must approve this")
            .detail("you made the latest change to this item, and approvers are separate here"));
    }
    Ok(())
}

fn reason_of(body: Option<Json<Reason>>) -> Result<String, Problem> {
    body.and_then(|Json(b)| b.reason)
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| Problem::bad_request("reason", "say why, for the item's author"))
}

/// What an item-wide approval or rejection changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemDecision {
    /// The item's version the decision is about.
    pub version: String,
    pub deliveries: Vec<DeliveryRow>,
}

/// The item's pending deliveries, if `version` (If-Match) is still what
/// its file says; else 409 with the version now.
async fn pending_at_version(
    state: &ApiState,
    id: &str,
    headers: &HeaderMap,
) -> Result<(String, Vec<Delivery>), Problem> {
    let ws = state.workspace();
    let item = ws
        .item(id)
        .ok_or_else(|| Problem::not_found(format!("no item `{id}`")))?;
    let version = item.origin.version.clone();
    let sent = super::items::if_match(headers)?;
    if sent != version {
        return Err(Problem::new(409, "The item changed since you reviewed it")
            .detail("review it again: the approval must be of what will be sent")
            .current_version(version));
    }
    let filter = QueueFilter {
        item: Some(id.to_string()),
        ..QueueFilter::default()
    };
    let rows = state.store.list(&filter).await?;
    Ok((
        version,
        rows.into_iter().filter(|d| d.state.is_pending()).collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/items/{id}/approve", params(("id" = String, Path),
        ("If-Match" = String, Header, description = "the version reviewed")),
    security(("crier" = ["approve"])), tag = "approvals",
    responses((status = 200, body = ItemDecision), (status = 409, body = ProblemDetails)))]
async fn approve_item(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ItemDecision>, Problem> {
    not_own_work(&state, &who, &id).await?;
    let (version, pending) = pending_at_version(&state, &id, &headers).await?;
    let now = Utc::now();
    let mut out = Vec::new();
    for d in pending {
        let why = format!("approved version {version}");
        let d = ops::approve(state.store.as_ref(), d.id, who.actor.clone(), why, now).await?;
        out.push(row(&d, now));
    }
    state.wake.notify_one();
    Ok(Json(ItemDecision {
        version,
        deliveries: out,
    }))
}

#[utoipa::path(post, path = "/api/v1/items/{id}/reject", params(("id" = String, Path),
        ("If-Match" = String, Header, description = "the version reviewed")),
    request_body = Reason, security(("crier" = ["approve"])), tag = "approvals",
    responses((status = 200, body = ItemDecision), (status = 409, body = ProblemDetails)))]
async fn reject_item(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Option<Json<Reason>>,
) -> Result<Json<ItemDecision>, Problem> {
    let reason = reason_of(body)?;
    not_own_work(&state, &who, &id).await?;
    let (version, pending) = pending_at_version(&state, &id, &headers).await?;
    let now = Utc::now();
    let mut out = Vec::new();
    for d in pending {
        let d = ops::reject(state.store.as_ref(), d.id, who.actor.clone(), &reason, now).await?;
        out.push(row(&d, now));
    }
    Ok(Json(ItemDecision {
        version,
        deliveries: out,
    }))
}
