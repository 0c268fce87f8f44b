//! The daemon's HTTP side: `/healthz`, `/metrics`, item images under
//! `/media/` (for networks that fetch an image by URL), and `/wake` for the
//! CLI to say the queue changed; plus the routes channel kinds and
//! channels contribute (the feeds under `/feeds/`, the list pages).

use std::sync::{Arc, RwLock};

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Notify;

use crate::channels::{media, registry};
use crate::metrics::Metrics;
use crate::store::{ChannelStore, Store};
use crate::workspace::Workspace;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The channels' view, for the lines channel kinds add to /metrics.
    pub channel_store: Arc<dyn ChannelStore>,
    pub metrics: Arc<Metrics>,
    pub wake: Arc<Notify>,
    /// The current content: which images items name, and where they are.
    pub workspace: Arc<RwLock<Arc<Workspace>>>,
}

/// The daemon's own routes plus those the channels contribute.
pub fn app(state: AppState, channel_routes: Vec<Router>) -> Router {
    let own = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/media/{*src}", get(media))
        .route("/wake", post(wake))
        .with_state(state);
    channel_routes.into_iter().fold(own, Router::merge)
}

async fn healthz(State(s): State<AppState>) -> Response {
    let (paused, statuses) = match (s.store.paused().await, s.store.channel_statuses().await) {
        (Ok(p), Ok(c)) => (p, c),
        (Err(e), _) | (_, Err(e)) => {
            let body = serde_json::json!({ "status": "error", "error": e.to_string() });
            return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
        }
    };
    let status = if paused.all || !paused.channels.is_empty() || !statuses.is_empty() {
        "attention"
    } else {
        "ok"
    };
    let channels: serde_json::Map<String, serde_json::Value> = statuses
        .into_iter()
        .map(|(c, note)| (c, note.into()))
        .collect();
    axum::Json(serde_json::json!({
        "status": status,
        "paused": paused,
        "channels_needing_attention": channels,
    }))
    .into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    let kinds = registry::metrics(s.channel_store.as_ref()).await;
    match (
        s.store.counts().await,
        s.store.channel_statuses().await,
        kinds,
    ) {
        (Ok(counts), Ok(notes), Ok(kinds)) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            s.metrics.render(&counts, &notes) + &kinds,
        )
            .into_response(),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
        }
    }
}

/// Only processes on this machine may wake the dispatcher.
async fn wake(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
) -> StatusCode {
    if !peer.ip().is_loopback() {
        return StatusCode::FORBIDDEN;
    }
    s.wake.notify_one();
    StatusCode::NO_CONTENT
}

/// An item's image, for networks that show it from a URL (Teams cards).
/// Served only if an item of the current content names it and it is a
/// plain image path inside the campaigns folder (see `channels::media`):
/// content files and anything else on disk stay unreachable.
async fn media(State(s): State<AppState>, Path(src): Path<String>) -> Response {
    let not_found = || StatusCode::NOT_FOUND.into_response();
    let ws = s.workspace.read().expect("workspace lock").clone();
    let named = ws
        .items
        .iter()
        .any(|item| item.images.iter().any(|image| image.src == src));
    let Some(content_type) = media::content_type(&src).filter(|_| named && media::servable(&src))
    else {
        return not_found();
    };
    // A symlink inside the folder could still point out of it.
    let root = ws.config.campaigns_dir();
    let (Ok(root), Ok(path)) = (
        tokio::fs::canonicalize(&root).await,
        tokio::fs::canonicalize(root.join(&src)).await,
    ) else {
        return not_found();
    };
    if !path.starts_with(&root) {
        return not_found();
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => not_found(),
    }
}
