//! `/feeds/{file}`: every feed's documents, rendered on request from the
//! store ([`Definition::render`], the publisher's own render path), with
//! ETag (a hash of the bytes) and Last-Modified (the channel's newest
//! `sent_at`) so readers poll cheaply. Instances sharing a store serve the
//! same document, whoever published: no shared folder, and no file needed.
//!
//! Each document's last rendering is served again for [`FRESH`], and
//! readers arriving while it is rendered wait for that one rendering: the
//! route is public, and however many readers poll, a document costs the
//! store at most one read a second per instance.
//!
//! The feeds served are those the daemon started with (each feed's
//! `Channel::start` adds itself, [`Served::add`]), as the list pages are
//! those mounted at start. A file no such feed names (a feed added by a
//! reload since) is served from the publish folder, as this process wrote
//! it.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::render::Definition;
use super::{content_type, Format};
use crate::store::ChannelStore;

/// How long a rendering is served again before the store is read anew.
pub const FRESH: Duration = Duration::from_secs(1);

/// The feeds one daemon serves, by file name (`news.rss.xml`).
#[derive(Default)]
pub(crate) struct Served {
    by_file: RwLock<BTreeMap<String, Document>>,
}

/// One document served: its feed, its format and its last rendering.
#[derive(Clone)]
struct Document {
    feed: Arc<Definition>,
    format: Format,
    last: Arc<tokio::sync::Mutex<Option<(Instant, Answer)>>>,
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

impl Served {
    /// The table of the daemon publishing under `publish_dir`: one per
    /// daemon (one daemon per data folder), shared by the kind's route and
    /// the feeds' start, which are given nothing else in common.
    pub fn of(publish_dir: &FsPath) -> Arc<Served> {
        static DAEMONS: LazyLock<Mutex<BTreeMap<PathBuf, Arc<Served>>>> =
            LazyLock::new(Default::default);
        let mut daemons = DAEMONS.lock().expect("feeds table lock");
        daemons
            .entry(publish_dir.to_path_buf())
            .or_default()
            .clone()
    }

    /// Serves every format of `feed`; refused when another channel's feed
    /// has its path (the two would overwrite each other's documents).
    pub fn add(&self, feed: Arc<Definition>) -> Result<(), String> {
        let mut by_file = self.by_file.write().expect("feeds table lock");
        let path = &feed.options.path;
        for format in [Format::Rss, Format::Atom, Format::Json, Format::Ical] {
            if let Some(Document { feed: other, .. }) = by_file.get(&format.file_name(path)) {
                if other.name != feed.name {
                    let (name, other) = (&feed.name, &other.name);
                    return Err(format!(
                        "channels.{name}.path `{path}` is also channels.{other}'s: \
                         give each feed a path of its own"
                    ));
                }
            }
        }
        by_file.retain(|_, d| d.feed.name != feed.name);
        for &format in &feed.options.formats {
            let document = Document {
                feed: feed.clone(),
                format,
                last: Default::default(),
            };
            by_file.insert(format.file_name(path), document);
        }
        Ok(())
    }

    fn get(&self, file: &str) -> Option<Document> {
        let by_file = self.by_file.read().expect("feeds table lock");
        by_file.get(file).cloned()
    }
}

/// What the route needs: the feeds, the store they are rendered from,
/// the public URL their self links name, the folder for the rest, and how
/// long a rendering is served again ([`FRESH`]).
#[derive(Clone)]
pub(crate) struct Feeds {
    pub served: Arc<Served>,
    pub store: Arc<dyn ChannelStore>,
    pub public_url: String,
    pub folder: PathBuf,
    pub fresh: Duration,
}

pub(super) fn router(feeds: Feeds) -> Router {
    Router::new()
        .route("/feeds/{file}", get(feed))
        .with_state(feeds)
}

async fn feed(
    State(feeds): State<Feeds>,
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
    let answer = match feeds.served.get(&file) {
        Some(document) => from_store(&feeds, &document).await,
        None => from_folder(&feeds.folder.join(&file)).await,
    };
    match answer {
        Ok(answer) => respond(&headers, &file, answer),
        Err(status) => status.into_response(),
    }
}

/// The document as the store had it at most `fresh` ago. The lock is held
/// while rendering, so readers arriving meanwhile wait for this rendering
/// instead of each reading the store.
async fn from_store(feeds: &Feeds, document: &Document) -> Result<Answer, StatusCode> {
    let mut last = document.last.lock().await;
    if let Some((at, answer)) = last.as_ref() {
        if at.elapsed() < feeds.fresh {
            return Ok(answer.clone());
        }
    }
    let (feed, format) = (&document.feed, document.format);
    let mut none = BTreeMap::new();
    let newest = feed
        .newest(feeds.store.as_ref(), &mut none, None)
        .await
        .map_err(|e| {
            tracing::warn!(channel = %feed.name, error = %e, "cannot read the feed's sent deliveries");
            StatusCode::SERVICE_UNAVAILABLE
        })?;
    let text = feed.render(&feeds.public_url, format, &newest.entries);
    let answer = Answer::new(text.into(), newest.last_sent);
    *last = Some((Instant::now(), answer.clone()));
    Ok(answer)
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
