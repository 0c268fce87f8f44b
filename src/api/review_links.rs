//! Review links (issue #11, item 8): a signed-out, read-only preview of
//! one item's variants for someone outside the team, such as a partner's
//! scrutiny officer. The link's secret is shown once, when it is made, and
//! stored only as its SHA-256; it expires (7 days unless asked, at most
//! 30) and can be revoked; each view is recorded.
//!
//! `GET /api/v1/review/{token}` is the one route here without a
//! permission: the secret in it is its credential, so it is mounted
//! outside the guard (and outside the document, whose every operation
//! names a permission), as the document itself is.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::problem::{Problem, ProblemDetails};
use super::tools::{self, Preview};
use super::ApiState;
use crate::access::Principal;
use crate::auth::secrets;
use crate::store::people::digest;
use crate::store::reviews::{NewReviewLink, ReviewLink};

/// How long a link lasts when the request does not say, and at most.
pub const DEFAULT_DAYS: u32 = 7;
pub const MAX_DAYS: u32 = 30;
/// The longest label (who the link is for) accepted.
pub const MAX_LABEL: usize = 100;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(revoke))
}

/// One review link, without its secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewLinkRow {
    pub id: i64,
    pub item: String,
    /// Who it is for.
    pub label: String,
    /// The actor as stored (`person:ann@example.org`).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    pub views: u64,
    pub last_viewed_at: Option<DateTime<Utc>>,
    /// Neither revoked nor expired now: the link opens the preview.
    pub live: bool,
}

impl ReviewLinkRow {
    fn of(link: ReviewLink, now: DateTime<Utc>) -> ReviewLinkRow {
        ReviewLinkRow {
            live: link.live(now),
            id: link.id,
            item: link.item,
            label: link.label,
            created_by: link.created_by.to_stored(),
            created_at: link.created_at,
            expires_at: link.expires_at,
            revoked_at: link.revoked_at,
            revoked_by: link.revoked_by.map(|a| a.to_stored()),
            views: link.views,
            last_viewed_at: link.last_viewed_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewReview {
    /// Who the link is for (a person or organisation), shown to the team.
    pub label: String,
    /// Days until it stops working: 1 to 30, 7 when absent.
    pub expires_in_days: Option<u32>,
}

/// A new link: the only answer that holds its secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedReview {
    pub link: ReviewLinkRow,
    /// The secret; shown this once, never stored.
    pub token: String,
    /// The whole address to send, on the daemon's `public_url`.
    pub url: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewLinks {
    pub links: Vec<ReviewLinkRow>,
}

#[utoipa::path(post, path = "/api/v1/items/{id}/review-links", params(("id" = String, Path)),
    request_body = NewReview, security(("crier" = ["edit"])), tag = "items",
    responses((status = 201, body = CreatedReview), (status = 404, body = ProblemDetails)))]
async fn create(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<NewReview>,
) -> Result<Response, Problem> {
    let label = body.label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL {
        return Err(Problem::bad_request(
            "label",
            format!("say who the link is for, in at most {MAX_LABEL} characters"),
        ));
    }
    let days = body.expires_in_days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(Problem::bad_request(
            "expires_in_days",
            format!("a whole number of days from 1 to {MAX_DAYS}"),
        ));
    }
    let ws = state.workspace();
    if ws.item(&id).is_none() {
        return Err(Problem::not_found(format!("no item `{id}`")));
    }
    let token = secrets::random();
    let now = Utc::now();
    let new = NewReviewLink {
        item: id,
        token_hash: digest(&token),
        label: label.to_string(),
        created_by: who.actor,
        expires_at: now + TimeDelta::days(days.into()),
    };
    let link = state.store.create_review_link(&new, now).await?;
    let url = format!(
        "{}/review/{token}",
        ws.config.daemon.public_url.trim_end_matches('/')
    );
    let created = CreatedReview {
        link: ReviewLinkRow::of(link, now),
        token,
        url,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(get, path = "/api/v1/items/{id}/review-links", params(("id" = String, Path)),
    security(("crier" = ["read"])), tag = "items",
    responses((status = 200, body = ReviewLinks)))]
async fn list(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ReviewLinks>, Problem> {
    let now = Utc::now();
    let links = state.store.review_links(&id).await?;
    Ok(Json(ReviewLinks {
        links: links
            .into_iter()
            .map(|l| ReviewLinkRow::of(l, now))
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/review-links/{id}", params(("id" = i64, Path)),
    security(("crier" = ["edit"])), tag = "items",
    responses((status = 200, body = ReviewLinkRow), (status = 404, body = ProblemDetails)))]
async fn revoke(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Json<ReviewLinkRow>, Problem> {
    let now = Utc::now();
    match state.store.revoke_review_link(id, &who.actor, now).await? {
        Some(link) => Ok(Json(ReviewLinkRow::of(link, now))),
        None => Err(Problem::not_found(format!("no review link {id}"))),
    }
}

/// What a review link opens: the item's variants as the team previews them.
#[derive(Debug, Serialize, Deserialize)]
pub struct Review {
    pub item: String,
    pub title: String,
    pub kind: String,
    /// When it is planned to publish.
    pub at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Each channel's variant, as `GET /api/v1/items/{id}/preview` gives
    /// it; without the lint findings, which name the team's files.
    pub variants: Vec<serde_json::Value>,
}

/// The review itself, for whoever holds the secret; each answer is a view
/// recorded. Unknown, expired and revoked secrets get the same 404.
pub async fn view(
    State(state): State<ApiState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Review>, Problem> {
    let gone = || Problem::not_found("This review link is not valid.");
    if !secrets::looks_random(&token) {
        return Err(gone());
    }
    let client = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let link = state
        .store
        .view_review_link(&digest(&token), client, Utc::now())
        .await?
        .ok_or_else(gone)?;
    let ws = state.workspace();
    let item = ws.item(&link.item).ok_or_else(gone)?;
    let root = state
        .config_path
        .parent()
        .unwrap_or(std::path::Path::new("."));
    let Preview { variants, .. } = tools::preview(&ws, &link.item, None, root)?;
    Ok(Json(Review {
        item: link.item.clone(),
        title: item.title.clone(),
        kind: item.kind.as_str().to_string(),
        at: item.at,
        expires_at: link.expires_at,
        variants,
    }))
}
