//! The daemon's HTTP side: `/healthz`, `/metrics`, the feeds under
//! `/feeds/`, item images under `/media/` (for networks that fetch an image
//! by URL), and `/wake` for the CLI to say the queue changed.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::channels::media;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::workspace::Workspace;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub feeds_dir: PathBuf,
    pub wake: Arc<Notify>,
    /// The current content: which images items name, and where they are.
    pub workspace: Arc<RwLock<Arc<Workspace>>>,
}

/// The daemon's own routes plus those the channels contribute.
pub fn app(state: AppState, channel_routes: Vec<Router>) -> Router {
    let own = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/feeds/{file}", get(feed))
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
    let recipients = s.store.lists().recipient_counts().await;
    match (
        s.store.counts().await,
        s.store.channel_statuses().await,
        recipients,
    ) {
        (Ok(counts), Ok(notes), Ok(recipients)) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            s.metrics.render(&counts, &notes) + &Metrics::render_recipients(&recipients),
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

async fn feed(State(s): State<AppState>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    // One path segment of safe characters: nothing can escape the folder.
    if file.is_empty()
        || !file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || file.starts_with('.')
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = s.feeds_dir.join(&file);
    let (bytes, modified) = match tokio::fs::read(&path).await {
        Ok(b) => {
            let m = tokio::fs::metadata(&path)
                .await
                .ok()
                .and_then(|m| m.modified().ok());
            (b, m)
        }
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..12]));
    let last_modified = modified.map(|m| httpdate(chrono::DateTime::<chrono::Utc>::from(m)));
    let not_modified = match headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        Some(inm) => inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => match (
            headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok()),
            &last_modified,
        ) {
            (Some(ims), Some(lm)) => ims == lm,
            _ => false,
        },
    };
    let mut resp = if not_modified {
        Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
    } else {
        Response::builder()
            .status(StatusCode::OK)
            .header(
                header::CONTENT_TYPE,
                crate::channels::feed_content_type(&file),
            )
            .body(Body::from(bytes))
    }
    .expect("valid response parts");
    let h = resp.headers_mut();
    h.insert(
        header::ETAG,
        etag.parse().expect("hex etag is a valid header"),
    );
    h.insert(
        header::CACHE_CONTROL,
        "public, max-age=300".parse().expect("static header"),
    );
    if let Some(lm) = last_modified.and_then(|l| l.parse().ok()) {
        h.insert(header::LAST_MODIFIED, lm);
    }
    resp
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

/// RFC 7231 date, as HTTP caches compare it.
fn httpdate(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
