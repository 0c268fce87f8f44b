//! The HTTP API under `/api/v1`: everything the CLI does, for the comms
//! team's people and partners' systems. The OpenAPI document is generated
//! from the handlers (utoipa) and served at `/api/v1/openapi.json`.
//!
//! Each route names the one `Permission` it needs as its security scope in
//! that document; `guard` reads the same document, so the scope a client
//! sees is the scope the server enforces, and a route without one is
//! refused. Handlers get the caller as an `Extension<Principal>`.

mod approvals;
pub mod calendar;
pub mod campaigns;
pub mod deliveries;
mod doc;
mod edit;
pub mod git;
pub mod history;
pub mod items;
pub mod ops;
pub mod problem;
pub mod review_links;
pub mod send_test;
pub mod subscribers;
pub mod tools;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::Notify;
use utoipa_axum::router::OpenApiRouter;

use crate::access::{Authenticate, Permission};
use crate::channels::Services;
use crate::store::Store;
use crate::workspace::Workspace;
pub use problem::Problem;

/// Request bodies larger than this are refused (413) before parsing.
pub const BODY_LIMIT: usize = 1 << 20;

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    /// The content the daemon runs on (reloaded on every change).
    pub workspace: Arc<RwLock<Arc<Workspace>>>,
    /// `channels.toml`, for checking a save against fresh content.
    pub config_path: PathBuf,
    pub wake: Arc<Notify>,
    pub auth: Arc<dyn Authenticate>,
    /// What channels use (the HTTP client, the channel store view), for
    /// testing a channel and the lists' personal data.
    pub services: Services,
    /// One save at a time: read, check and write of campaign files.
    pub saving: Arc<tokio::sync::Mutex<()>>,
}

impl ApiState {
    pub fn workspace(&self) -> Arc<Workspace> {
        self.workspace.read().expect("workspace lock").clone()
    }
}

/// Every documented route, with the document built from them.
fn documented() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(doc::base())
        .merge(items::routes())
        .merge(history::routes())
        .merge(tools::routes())
        .merge(campaigns::routes())
        .merge(deliveries::routes())
        .merge(calendar::routes())
        .merge(approvals::routes())
        .merge(subscribers::routes())
        .merge(send_test::routes())
        .merge(review_links::routes())
}

/// The API's routes, guarded, plus the document itself and a review
/// link's preview, whose secret is its credential (both public).
pub fn router(state: ApiState) -> Router {
    let (routes, api) = documented().split_for_parts();
    let doc = Arc::new(doc::complete(api));
    let table = Arc::new(permissions(&doc));
    let guard_state = (state.clone(), table);
    routes
        .route_layer(axum::middleware::from_fn_with_state(guard_state, guard))
        .route("/api/v1/review/{token}", get(review_links::view))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(problem::as_problem))
        .with_state(state)
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json((*doc).clone()) }),
        )
}

/// The document as served, for tests and tools.
pub fn openapi() -> serde_json::Value {
    doc::complete(documented().split_for_parts().1)
}

type Table = HashMap<(Method, String), Permission>;

/// (method, path) → the permission its security scope names.
pub fn permissions(doc: &serde_json::Value) -> Table {
    let mut table = Table::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let (Ok(method), Some(scope)) = (
                method.to_uppercase().parse::<Method>(),
                op["security"][0][doc::SCHEME][0].as_str(),
            ) else {
                continue;
            };
            if let Some(p) = Permission::parse(scope) {
                table.insert((method, path.clone()), p);
            }
        }
    }
    table
}

/// Authenticates, checks the route's permission, and hands the handler
/// the caller. Runs only on matched routes (`route_layer`).
async fn guard(
    State((state, table)): State<(ApiState, Arc<Table>)>,
    matched: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let key = (parts.method.clone(), matched.as_str().to_string());
    let Some(&permission) = table.get(&key) else {
        return Problem::new(403, "No permission is defined for this route").into_response();
    };
    let principal = match state.auth.principal(&parts).await {
        Ok(p) => p,
        Err(refusal) => return Problem::from(refusal).into_response(),
    };
    if !principal.may(permission) {
        let detail = match principal.token {
            Some(crate::access::TokenKind::Test) => {
                "a test token can read, check and preview, and change nothing".to_string()
            }
            _ => format!(
                "this needs the {} role or higher; you are {}",
                permission.least_role(),
                principal.role
            ),
        };
        return Problem::new(403, "Not allowed")
            .detail(detail)
            .into_response();
    }
    parts.extensions.insert(principal);
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
pub(crate) mod tests;
