//! `/feeds/`: each feed's documents, rendered on request from the store
//! ([`Definition::render`], the publisher's own render path), with ETag (a
//! hash of the bytes) and Last-Modified (the channel's newest `sent_at`)
//! so readers poll cheaply. Instances sharing a store serve the same
//! document, whoever published: no shared folder, and no file needed.
//!
//! Each feed channel mounts the exact paths of its documents
//! ([`documents`], through its `Channel::routes`), each with its own
//! definition and last rendering as the route's state: nothing is shared
//! between feeds, and nothing outlives the router. The kind mounts
//! `/feeds/{file}` once ([`folder`]): the files in the publish folder no
//! mounted document names (a feed added by a reload since, served as this
//! process wrote it). A static path wins over the capture, so a feed's
//! document is always the store's. Two feeds with one path fail `check`
//! (the kind's `check_channels`), so a daemon refuses them before mounting
//! anything.
//!
//! A document's last rendering is served again for [`FRESH`], and readers
//! arriving while it is rendered wait for that one rendering: the route is
//! public, and however many readers poll, a document costs the store at
//! most one read a second per instance.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::render::Definition;
use super::{content_type, Format, FOLDER};
use crate::store::ChannelStore;

/// How long a rendering is served again before the store is read anew.
pub const FRESH: Duration = Duration::from_secs(1);

/// Where a feed's documents are rendered from: the store, and the public
/// URL their self links name.
#[derive(Clone)]
pub(super) struct Source {
    pub store: Arc<dyn ChannelStore>,
    pub public_url: String,
}

/// One document's route state: its feed, its format, where it is
/// rendered from, and its last rendering, served again for `fresh`.
struct Document {
    feed: Arc<Definition>,
    format: Format,
    source: Source,
    fresh: Duration,
    last: Mutex<Option<(Instant, Answer)>>,
}

/// What a request is answered with: the bytes, their ETag, and
/// Last-Modified when known.
#[derive(Clone)]
struct Answer {
    bytes: Bytes,
    etag: String,
    modified: Option<DateTime<Utc>>,
}

impl Answer {
    fn new(bytes: Bytes, modified: Option<DateTime<Utc>>) -> Answer {
        let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..12]));
        Answer {
            bytes,
            etag,
            modified,
        }
    }
}

/// `feed`'s routes: `/feeds/<file name>` for each of its formats, each
/// with its own cache of its last rendering.
pub(super) fn documents(feed: &Arc<Definition>, source: &Source, fresh: Duration) -> Router {
    let mut router = Router::new();
    for &format in &feed.options.formats {
        let document = Arc::new(Document {
            feed: feed.clone(),
            format,
            source: source.clone(),
            fresh,
            last: Mutex::default(),
        });
        let path = format!("/{FOLDER}/{}", format.file_name(&feed.options.path));
        router = router.route(&path, get(document_route).with_state(document));
    }
    router
}

async fn document_route(State(document): State<Arc<Document>>, headers: HeaderMap) -> Response {
    let file = document.format.file_name(&document.feed.options.path);
    match from_store(&document).await {
        Ok(answer) => respond(&headers, &file, answer),
        Err(status) => status.into_response(),
    }
}

/// The document as the store had it at most `fresh` ago. The lock is held
/// while rendering, so readers arriving meanwhile wait for this rendering
/// instead of each reading the store.
async fn from_store(document: &Document) -> Result<Answer, StatusCode> {
    let mut last = document.last.lock().await;
    if let Some((at, answer)) = last.as_ref() {
        if at.elapsed() < document.fresh {
            return Ok(answer.clone());
        }
    }
    let (feed, source) = (&document.feed, &document.source);
    let newest = feed
        .newest(source.store.as_ref(), &mut BTreeMap::new(), None)
        .await
        .map_err(|e| {
            tracing::warn!(channel = %feed.name, error = %e, "cannot read the feed's sent deliveries");
            StatusCode::SERVICE_UNAVAILABLE
        })?;
    let text = feed.render(&source.public_url, document.format, &newest.entries);
    let answer = Answer::new(text.into(), newest.last_sent);
    *last = Some((Instant::now(), answer.clone()));
    Ok(answer)
}

/// The kind's `/feeds/{file}`: files in `folder` no feed's route names.
pub(super) fn folder(folder: PathBuf) -> Router {
    Router::new()
        .route(&format!("/{FOLDER}/{{file}}"), get(folder_route))
        .with_state(Arc::new(folder))
}

async fn folder_route(
    State(folder): State<Arc<PathBuf>>,
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
    match from_folder(&folder.join(&file)).await {
        Ok(answer) => respond(&headers, &file, answer),
        Err(status) => status.into_response(),
    }
}

/// A file this process wrote for a feed it did not start with.
async fn from_folder(path: &FsPath) -> Result<Answer, StatusCode> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|_| StatusCode::NOT_FOUND)?;
    let modified = tokio::fs::metadata(path)
        .await
        .ok()
        .and_then(|m| m.modified().ok())
        .map(DateTime::<Utc>::from);
    Ok(Answer::new(bytes.into(), modified))
}

/// 200 with the document, or 304 when the reader's copy is current.
fn respond(headers: &HeaderMap, file: &str, answer: Answer) -> Response {
    let Answer {
        bytes,
        etag,
        modified,
    } = answer;
    let last_modified = modified.map(httpdate);
    let mut resp = if not_modified(headers, &etag, last_modified.as_deref()) {
        Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
    } else {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type(file))
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
fn httpdate(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests;
