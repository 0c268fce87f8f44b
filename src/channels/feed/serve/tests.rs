//! `/feeds/` in process: documents from the store, with or without files.

use std::sync::Arc;

use axum::body::to_bytes;
use axum::http::Request;
use tower::ServiceExt;

use super::*;
use crate::channels::{Channel, Job, Publisher, Services};
use crate::config::Config;
use crate::delivery::{Planned, Receipt};
use crate::diagnostics::{Report, SourceFile};
use crate::store::contract::{at, LEASE};
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use crate::variant::Variant;

const CONFIG: &str = r#"
[organisation]
name = "Org"
website = "https://www.example.org"

[daemon]
public_url = "https://feeds.example.org/"

[channels.courses]
kind = "feed"
title = "Courses"
path = "courses"

[channels.again]
kind = "feed"
title = "Courses again"
path = "courses"
"#;

struct World {
    dir: tempfile::TempDir,
    config: Config,
    store: Arc<SqliteStore>,
    services: Services,
}

async fn world() -> World {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut report = Report::default();
    let config = Config::parse(SourceFile::new("channels.toml", CONFIG.into()), &mut report)
        .expect("config parses");
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let services = Services {
        http: reqwest::Client::new(),
        publish_dir: dir.path().join("public"),
        public_url: "https://feeds.example.org".into(),
        store: store.clone(),
        clock: Arc::new(crier_schedule::SystemClock),
        credentials: crate::credentials::Credentials::new(FsPath::new("/nonexistent")),
        campaigns_dir: dir.path().to_path_buf(),
        stopping: crate::channels::stopping::Stopping::never(),
    };
    World {
        dir,
        config,
        store,
        services,
    }
}

impl World {
    fn feed(&self, name: &str) -> super::super::Feed {
        let spec = self.config.channels.iter().find(|c| c.name == name);
        super::super::Feed::new(spec.unwrap(), Some(&self.config.organisation)).unwrap()
    }

    /// The routes as the daemon mounts them: the feed's documents and
    /// the kind's folder, each request rendered from the store.
    fn router(&self, feed: &super::super::Feed) -> Router {
        self.router_fresh(feed, Duration::ZERO)
    }

    /// The routes, a rendering served again for `fresh`.
    fn router_fresh(&self, feed: &super::super::Feed, fresh: Duration) -> Router {
        let source = Source {
            store: self.store.clone(),
            public_url: self.services.public_url.clone(),
        };
        let kind = folder(self.services.publish_dir.join(FOLDER));
        kind.merge(documents(&feed.def, &source, fresh))
    }

    /// A course planned and leased; the delivery.
    async fn lease(&self, item: &str) -> crate::delivery::Delivery {
        let mut variant = Variant::document(item, "courses", "feed", "Summary".into());
        variant.subject = Some(format!("Course {item}"));
        variant.payload = Some(serde_json::json!({ "entry": {
            "id": format!("tag:www.example.org,2026:{item}"),
            "link": null, "published": at(0), "language": "en-GB",
            "topics": [], "hashtags": [],
        }}));
        let planned = Planned {
            item: item.into(),
            channel: "courses".into(),
            occasion: "at".into(),
            due_at: at(0),
            fingerprint: item.into(),
            variant: Some(variant.into()),
            requires_approval: false,
        };
        self.store.sync_plan(&[planned], at(0)).await.unwrap();
        self.store
            .lease_due(at(0), 1, LEASE)
            .await
            .unwrap()
            .remove(0)
    }
}

async fn get(
    router: &Router,
    file: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::get(format!("/feeds/{file}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = answer.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap().to_vec();
    (parts.status, parts.headers, bytes)
}

/// Recorded sent without any file written (another instance published
/// it): served from the store, with its validators.
#[tokio::test]
async fn a_sent_entry_is_served_with_no_file_at_all() {
    let w = world().await;
    let feed = w.feed("courses");
    let delivery = w.lease("c1").await;
    w.store
        .record_sent(
            delivery.id,
            &Receipt::default(),
            at(5),
            "published elsewhere",
        )
        .await
        .unwrap();
    assert!(!w.services.publish_dir.exists(), "no file to serve");
    let router = w.router(&feed);
    let (status, headers, body) = get(&router, "courses.atom.xml", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let body = String::from_utf8(body).unwrap();
    assert!(body.contains("tag:www.example.org,2026:c1"), "{body}");
    assert!(
        body.contains("https://feeds.example.org/feeds/courses.atom.xml"),
        "{body}"
    );
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/atom+xml; charset=utf-8"
    );
    let last_modified = httpdate(at(5));
    assert_eq!(headers[header::LAST_MODIFIED], last_modified.as_str());
    let etag = headers[header::ETAG].to_str().unwrap().to_string();
    for validator in [
        ("if-none-match", etag.as_str()),
        ("if-modified-since", &last_modified),
    ] {
        let (status, _, body) = get(&router, "courses.atom.xml", &[validator]).await;
        assert_eq!(
            (status, body.len()),
            (StatusCode::NOT_MODIFIED, 0),
            "{validator:?}"
        );
    }
    // Only the feed's formats are its documents.
    assert_eq!(
        get(&router, "courses.ics", &[]).await.0,
        StatusCode::NOT_FOUND
    );
}

/// The route and the publisher's file are one render path: the same bytes.
#[tokio::test]
async fn the_route_serves_the_bytes_the_publisher_wrote() {
    let w = world().await;
    let feed = w.feed("courses");
    feed.start(&w.services).await.unwrap();
    let delivery = w.lease("c1").await;
    let job = Job {
        delivery: &delivery,
        variant: &delivery.variant,
    };
    let receipt = feed.publish(&job, &w.services).await.unwrap();
    w.store
        .record_sent(delivery.id, &receipt, at(5), "published")
        .await
        .unwrap();
    let router = w.router(&feed);
    for (_, path) in feed.files(&w.services) {
        let name = path.file_name().unwrap().to_str().unwrap();
        let (status, _, body) = get(&router, name, &[]).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(body, std::fs::read(&path).unwrap(), "{name}");
    }
}

/// A file no started feed names is served from the publish folder, and
/// nothing outside it.
#[tokio::test]
async fn other_files_come_from_the_folder() {
    let w = world().await;
    let router = w.router(&w.feed("courses"));
    let dir = w.services.publish_dir.join(FOLDER);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("later.json"), b"{}").unwrap();
    std::fs::write(w.dir.path().join("public/secret.json"), b"no").unwrap();
    assert_eq!(get(&router, "later.json", &[]).await.2, b"{}");
    for name in ["..%2Fsecret.json", ".later.json", "nothing.json"] {
        assert_eq!(
            get(&router, name, &[]).await.0,
            StatusCode::NOT_FOUND,
            "{name}"
        );
    }
}

/// A feed's own path wins over the kind's `{file}`: its document is the
/// store's even with another file of that name in the folder (one a
/// previous configuration's feed wrote, say).
#[tokio::test]
async fn a_feeds_document_is_the_stores_whatever_the_folder_holds() {
    let w = world().await;
    let dir = w.services.publish_dir.join(FOLDER);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("courses.json"), b"{\"stale\": true}").unwrap();
    let delivery = w.lease("c1").await;
    w.store
        .record_sent(delivery.id, &Receipt::default(), at(5), "published")
        .await
        .unwrap();
    let router = w.router(&w.feed("courses"));
    let (status, headers, body) = get(&router, "courses.json", &[]).await;
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("2026:c1") && !body.contains("stale"),
        "{body}"
    );
    assert_eq!(headers[header::LAST_MODIFIED], httpdate(at(5)).as_str());
}

/// A store that cannot be read is said so (503), not an empty feed a
/// reader would take for the truth; the folder's files are not its stand-in.
#[tokio::test]
async fn an_unreadable_store_answers_503() {
    let w = world().await;
    let feed = w.feed("courses");
    feed.start(&w.services).await.unwrap();
    let router = w.router(&feed);
    assert_eq!(get(&router, "courses.json", &[]).await.0, StatusCode::OK);
    w.store.close().await;
    assert_eq!(
        get(&router, "courses.json", &[]).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// Each feed's routes carry their own state: two feeds mounted side by
/// side each serve their own documents.
#[tokio::test]
async fn each_feed_serves_its_own_documents() {
    let w = world().await;
    let source = Source {
        store: w.store.clone(),
        public_url: w.services.public_url.clone(),
    };
    let spec = w.config.channels.iter().find(|c| c.name == "again");
    let mut spec = spec.unwrap().clone();
    spec.options.insert("path".into(), "again".into());
    let again = super::super::Feed::new(&spec, Some(&w.config.organisation)).unwrap();
    let router = w
        .router(&w.feed("courses"))
        .merge(documents(&again.def, &source, Duration::ZERO));
    for (file, title) in [("courses.json", "Courses"), ("again.json", "Courses again")] {
        let (status, _, body) = get(&router, file, &[]).await;
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (status, json["title"].as_str()),
            (StatusCode::OK, Some(title))
        );
    }
}

/// Within its freshness a rendering is served again without reading the
/// store: a send recorded since shows only once it has passed.
#[tokio::test]
async fn a_rendering_is_served_again_while_fresh() {
    let w = world().await;
    let feed = w.feed("courses");
    let (cached, uncached) = (
        w.router_fresh(&feed, Duration::from_secs(3600)),
        w.router(&feed),
    );
    let delivery = w.lease("c1").await;
    let before = get(&cached, "courses.json", &[]).await.2;
    w.store
        .record_sent(delivery.id, &Receipt::default(), at(5), "published")
        .await
        .unwrap();
    assert_eq!(get(&cached, "courses.json", &[]).await.2, before);
    let now = String::from_utf8(get(&uncached, "courses.json", &[]).await.2).unwrap();
    assert!(now.contains("2026:c1"), "{now}");
}

/// Two feeds with one path are an error of the configuration (`crier
/// check`, and a start or a reload refused), naming both.
#[tokio::test]
async fn two_feeds_with_one_path_are_an_error() {
    use crate::channels::registry::KindHooks;
    let w = world().await;
    let mut report = Report::default();
    super::super::Hooks.check_channels(&w.config, &mut report);
    let messages: Vec<&str> = report
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "channels.courses: `path = \"courses\"` is also channels.again's: \
          give each feed a path of its own"
        ]
    );
    assert_eq!(report.error_count(), 1);
}
