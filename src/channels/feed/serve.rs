//! `/feeds/{file}`: every feed's files, from the publish folder, with
//! ETag and Last-Modified so readers poll cheaply.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use super::content_type;

/// The route, serving the files in `dir` (`<publish_dir>/feeds`).
pub fn router(dir: PathBuf) -> Router {
    Router::new()
        .route("/feeds/{file}", get(feed))
        .with_state(dir)
}

async fn feed(
    State(dir): State<PathBuf>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    // One path segment of safe characters: nothing can escape the folder.
    if file.is_empty()
        || !file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || file.starts_with('.')
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = dir.join(&file);
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
    let mut resp = if not_modified(&headers, &etag, last_modified.as_deref()) {
        Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
    } else {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type(&file))
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

/// Whether the reader's copy is current: If-None-Match wins over
/// If-Modified-Since.
fn not_modified(headers: &HeaderMap, etag: &str, last_modified: Option<&str>) -> bool {
    match headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        Some(inm) => inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => match (
            headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok()),
            last_modified,
        ) {
            (Some(ims), Some(lm)) => ims == lm,
            _ => false,
        },
    }
}

/// RFC 7231 date, as HTTP caches compare it.
fn httpdate(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
