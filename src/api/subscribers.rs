//! Subscribers' personal data, for admins: search the lists, export one
//! person's record (their subscriptions, consent evidence and what was
//! sent to them), erase it; import a CSV file into a list (`import.rs`);
//! what each list offers and its subscribers by topic over time
//! (`counts.rs`).

use axum::extract::{Query, State};
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::problem::{Problem, ProblemDetails};
use super::ApiState;

pub mod counts;
mod import;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(export))
        .routes(routes!(erase))
        .routes(import::route())
        .merge(counts::routes())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// One list channel; every list when absent.
    pub channel: Option<String>,
    pub topic: Option<String>,
    /// Part of the address, name or organisation (any case).
    pub q: Option<String>,
    pub offset: Option<usize>,
    /// At most 500; 100 when absent.
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberPage {
    #[schema(value_type = Vec<Object>)]
    pub subscribers: Vec<crate::store::lists::Subscriber>,
    pub total: usize,
    pub next: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/subscribers", params(SearchQuery),
    security(("crier" = ["personal_data"])), tag = "subscribers",
    responses((status = 200, body = SubscriberPage), (status = 400, body = ProblemDetails)))]
async fn search(
    State(state): State<ApiState>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<SubscriberPage>, Problem> {
    if let Some(c) = &q.channel {
        let ws = state.workspace();
        if !ws.channel(c).is_some_and(|c| c.keeps_lists()) {
            return Err(Problem::bad_request(
                "channel",
                format!("`{c}` keeps no list"),
            ));
        }
    }
    let lists = state.services.store.lists();
    let all = lists
        .subscribers(q.channel.as_deref(), q.topic.as_deref())
        .await?;
    let needle = q.q.as_deref().map(str::to_lowercase).unwrap_or_default();
    let found: Vec<_> = all
        .into_iter()
        .filter(|s| {
            needle.is_empty()
                || [Some(&s.email), s.name.as_ref(), s.organisation.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(|v| v.to_lowercase().contains(&needle))
        })
        .collect();
    let (offset, limit) = (q.offset.unwrap_or(0), q.limit.unwrap_or(100).clamp(1, 500));
    let total = found.len();
    Ok(Json(SubscriberPage {
        subscribers: found.into_iter().skip(offset).take(limit).collect(),
        total,
        next: (offset + limit < total).then_some(offset + limit),
    }))
}

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct Person {
    pub email: String,
}

#[utoipa::path(get, path = "/api/v1/subscribers/export", params(Person),
    security(("crier" = ["personal_data"])), tag = "subscribers",
    responses((status = 200, body = Object)))]
async fn export(
    State(state): State<ApiState>,
    Query(p): Query<Person>,
) -> Result<Json<serde_json::Value>, Problem> {
    let email = p.email.trim().to_lowercase();
    Ok(Json(state.services.store.lists().export(&email).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    /// Subscriptions removed; only a hash of the address stays, on the
    /// suppression list, so no import can add it again.
    pub subscriptions: usize,
}

#[utoipa::path(post, path = "/api/v1/subscribers/erase", request_body = Person,
    security(("crier" = ["personal_data"])), tag = "subscribers",
    responses((status = 200, body = Erased)))]
async fn erase(
    State(state): State<ApiState>,
    Json(p): Json<Person>,
) -> Result<Json<Erased>, Problem> {
    let email = p.email.trim().to_lowercase();
    if !email.contains('@') {
        return Err(Problem::bad_request("email", "an email address"));
    }
    let channels: Vec<String> = state
        .workspace()
        .channels
        .iter()
        .filter(|c| c.keeps_lists())
        .map(|c| c.name().to_string())
        .collect();
    let lists = state.services.store.lists();
    let subscriptions = lists.erase(&email, &channels, Utc::now()).await?;
    Ok(Json(Erased { subscriptions }))
}
