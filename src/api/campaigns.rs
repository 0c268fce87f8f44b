//! The campaigns the content holds, for a form that adds a post to one
//! (its `file`, with `entry: "post"`, in `POST /api/v1/items`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::ApiState;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// A campaign, as its posts name it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CampaignSummary {
    pub name: String,
    /// The file its `[campaign]` table and posts are in, relative to
    /// `campaigns/`.
    pub file: String,
    /// How many posts it has.
    pub posts: usize,
}

/// Every campaign with at least one post, by name.
#[utoipa::path(get, path = "/api/v1/campaigns", security(("crier" = ["read"])), tag = "content",
    responses((status = 200, body = Vec<CampaignSummary>)))]
async fn list(State(state): State<ApiState>) -> Json<Vec<CampaignSummary>> {
    let ws = state.workspace();
    let root = ws.config.campaigns_dir();
    let mut found: BTreeMap<(String, String), usize> = BTreeMap::new();
    for item in &ws.items {
        let Some(name) = &item.campaign else {
            continue;
        };
        let path = &item.origin.path;
        let file = path.strip_prefix(&root).unwrap_or(path);
        let key = (name.clone(), file.to_string_lossy().into_owned());
        *found.entry(key).or_default() += 1;
    }
    Json(
        found
            .into_iter()
            .map(|((name, file), posts)| CampaignSummary { name, file, posts })
            .collect(),
    )
}
