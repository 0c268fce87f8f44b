//! Publishing through the real parsers: files, bounds, reconciliation.

use std::sync::Arc;

use chrono::Utc;

use super::*;
use crate::config::Config;
use crate::delivery::State as DeliveryState;
use crate::delivery::{Delivery, Planned};
use crate::diagnostics::{Report, SourceFile};
use crate::store::contract::{at, LEASE};
use crate::store::sqlite::SqliteStore;
use crate::store::Store;

const CONFIG: &str = r#"
[organisation]
name = "Org & Co"
website = "https://www.example.org"

[daemon]
public_url = "https://feeds.example.org/"

[channels.courses]
kind = "feed"
title = "Courses"
path = "courses"
formats = ["rss", "atom", "json", "ical"]
"#;

async fn setup(dir: &Path) -> (Config, Services) {
    let (config, services, _) = setup_with(dir, CONFIG).await;
    (config, services)
}

/// `config`'s channels on a fresh in-memory store, and that store.
async fn setup_with(dir: &Path, config: &str) -> (Config, Services, Arc<SqliteStore>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut report = Report::default();
    let config = Config::parse(SourceFile::new("channels.toml", config.into()), &mut report)
        .expect("config parses");
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let services = Services {
        http: reqwest::Client::new(),
        publish_dir: dir.to_path_buf(),
        public_url: config.daemon.public_url.clone(),
        store: store.clone(),
        clock: Arc::new(crier_schedule::SystemClock),
        credentials: crate::credentials::Credentials::new(std::path::Path::new("/nonexistent")),
        campaigns_dir: dir.to_path_buf(),
        stopping: crate::channels::stopping::Stopping::never(),
    };
    (config, services, store)
}

/// The daemon's start-up hook for the (one) feed of `config`; the
/// files written.
async fn rebuild(config: &Config, services: &Services) -> Result<Vec<PathBuf>, PublishError> {
    let feed = Feed::new(&config.channels[0], Some(&config.organisation))
        .map_err(PublishError::permanent)?;
    feed.rebuild(services).await?;
    Ok(feed.files(services).into_iter().map(|(_, p)| p).collect())
}

/// Runs scripts/check_feeds.py (feedparser, icalendar) on `files`.
fn check(files: &[PathBuf]) -> serde_json::Value {
    let python = std::env::var("CRIER_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_feeds.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .args(files)
        .output()
        .expect("python runs (scripts/test.sh sets CRIER_PYTHON)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A course's feed variant, as shaping writes it, published at `published`.
fn course(item: &str, published: &str) -> Variant {
    let mut variant = Variant::document(item, "courses", "feed", "Summary".into());
    variant.subject = Some(format!("Course {item}"));
    variant.html = Some("<p>Course</p>".into());
    variant.payload = Some(serde_json::json!({ "entry": {
        "id": format!("tag:www.example.org,2026:{item}"),
        "link": null,
        "published": published,
        "language": "en-GB",
        "topics": ["training"],
        "hashtags": [],
        "event": {
            "start": "2027-03-27T09:30:00Z",
            "end": "2027-03-29T15:00:00Z",
            "venue": "Hall, Room 1",
            "booking_url": null,
            "booking_email": null,
            "booking_deadline": null
        }
    }}));
    variant
}

/// Publishes `variants` one a minute, each recorded sent as the
/// dispatcher would, then rebuilds as a start does; what the parsers read
/// of each file: entry ids (uids for a calendar), by format.
async fn publish_all(extra_options: &str, variants: Vec<Variant>) -> Vec<(Format, Vec<String>)> {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG}{extra_options}");
    let (config, services, store) = setup_with(dir.path(), &config).await;
    let feed = Feed::new(&config.channels[0], Some(&config.organisation)).unwrap();
    let plan: Vec<Planned> = (0..)
        .zip(variants)
        .map(|(i, variant)| Planned {
            item: variant.item.clone(),
            channel: "courses".into(),
            occasion: "at".into(),
            due_at: at(i),
            fingerprint: variant.item.clone(),
            variant: Some(variant.into()),
            requires_approval: false,
        })
        .collect();
    store.sync_plan(&plan, at(0)).await.unwrap();
    for i in 0..plan.len() as i64 {
        let leased = store.lease_due(at(i), 1, LEASE).await.unwrap();
        let delivery = &leased[0];
        let job = Job {
            delivery,
            variant: &delivery.variant,
        };
        let receipt = feed.publish(&job, &services).await.unwrap();
        store
            .record_sent(delivery.id, &receipt, at(i), "published")
            .await
            .unwrap();
    }
    let files = rebuild(&config, &services).await.unwrap();
    let parsed = check(&files);
    let formats = feed.files(&services).into_iter().map(|(f, _)| f);
    formats
        .zip(&files)
        .map(|(format, file)| {
            let summary = &parsed[file.to_str().unwrap()];
            let (list, key) = match format {
                Format::Ical => ("events", "uid"),
                _ => ("entries", "id"),
            };
            let ids = summary[list].as_array().unwrap().iter();
            (
                format,
                ids.map(|e| e[key].as_str().unwrap().to_string()).collect(),
            )
        })
        .collect()
}

fn tags(items: &[&str]) -> Vec<String> {
    items
        .iter()
        .map(|i| format!("tag:www.example.org,2026:{i}"))
        .collect()
}

/// An item published at minute `i`, with the feed's topic or not, an
/// event or not.
fn item(name: &str, i: i64, training: bool, event: bool) -> Variant {
    let mut v = course(name, &at(i).to_rfc3339());
    let entry = &mut v.payload.as_mut().unwrap()["entry"];
    if !training {
        entry["topics"] = serde_json::json!(["news"]);
    }
    if !event {
        entry["event"] = serde_json::Value::Null;
    }
    v
}

#[tokio::test]
async fn max_entries_of_zero_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG}max_entries = 0\n");
    let (config, _, _) = setup_with(dir.path(), &config).await;
    let refused = Feed::new(&config.channels[0], Some(&config.organisation)).err();
    assert_eq!(
        refused.as_deref(),
        Some("channels.courses.max_entries must be at least 1")
    );
}

/// What this process published but the store has not recorded is kept
/// only while the files carry it, so it cannot grow without bound.
#[tokio::test]
async fn unrecorded_entries_the_files_dropped_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG}max_entries = 1\n");
    let (config, services, store) = setup_with(dir.path(), &config).await;
    let feed = Feed::new(&config.channels[0], Some(&config.organisation)).unwrap();
    let plan: Vec<Planned> = (0..2)
        .map(|i| Planned {
            item: format!("c{i}"),
            channel: "courses".into(),
            occasion: "at".into(),
            due_at: at(i),
            variant: Some(item(&format!("c{i}"), i, true, true).into()),
            fingerprint: format!("c{i}"),
            requires_approval: false,
        })
        .collect();
    store.sync_plan(&plan, at(0)).await.unwrap();
    let leased = store.lease_due(at(1), 2, LEASE).await.unwrap();
    for delivery in &leased {
        let job = Job {
            delivery,
            variant: &delivery.variant,
        };
        feed.publish(&job, &services).await.unwrap();
    }
    let recent = feed.publish.recent.lock().await;
    assert_eq!(recent.keys().collect::<Vec<_>>(), [&leased[1].id]);
}

/// Five courses published one after another: every file then carries
/// only the newest three.
#[tokio::test]
async fn a_feed_carries_its_newest_max_entries() {
    let courses = (0..5).map(|i| item(&format!("c{i}"), i, true, true));
    let files = publish_all("max_entries = 3\n", courses.collect()).await;
    assert_eq!(files.len(), 4);
    for (format, ids) in files {
        assert_eq!(ids, tags(&["c4", "c3", "c2"]), "{format:?}");
    }
}

/// The newest sends being of other topics, the feed reads further back
/// for its own: they do not leave it empty.
#[tokio::test]
async fn sends_the_feed_does_not_carry_do_not_crowd_out_its_entries() {
    let mut items: Vec<_> = (0..3)
        .map(|i| item(&format!("c{i}"), i, true, true))
        .collect();
    items.extend((3..6).map(|i| item(&format!("x{i}"), i, false, true)));
    let options = "topics = [\"training\"]\nmax_entries = 2\n";
    for (format, ids) in publish_all(options, items).await {
        assert_eq!(ids, tags(&["c2", "c1"]), "{format:?}");
    }
}

/// A calendar lists events only: its newest `max_entries` events, however
/// many newer entries are not events.
#[tokio::test]
async fn a_calendar_carries_its_newest_events() {
    let mut items = vec![item("e0", 0, true, true), item("e1", 1, true, true)];
    items.extend((2..6).map(|i| item(&format!("n{i}"), i, true, false)));
    let files = publish_all("max_entries = 2\n", items).await;
    let of = |format| files.iter().find(|(f, _)| *f == format).unwrap();
    assert_eq!(of(Format::Ical).1, tags(&["e1", "e0"]));
    assert_eq!(of(Format::Rss).1, tags(&["n5", "n4"]));
}

#[tokio::test]
async fn rebuild_writes_empty_but_valid_feeds() {
    let dir = tempfile::tempdir().unwrap();
    let (config, services) = setup(dir.path()).await;
    let files = rebuild(&config, &services).await.unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "courses.rss.xml",
            "courses.atom.xml",
            "courses.json",
            "courses.ics"
        ]
    );
    let parsed = check(&files);
    let rss = &parsed[files[0].to_str().unwrap()];
    assert_eq!(rss["entries"], serde_json::json!([]));
    assert_eq!(
        rss["self"],
        "https://feeds.example.org/feeds/courses.rss.xml"
    );
    assert_eq!(rss["updated"], "1970-01-01T00:00:00Z");
    let json = std::fs::read_to_string(&files[2]).unwrap();
    assert!(json.contains("\"name\": \"Org & Co\""), "{json}");
    // The same inputs give the same bytes.
    let before = std::fs::read(&files[1]).unwrap();
    rebuild(&config, &services).await.unwrap();
    assert_eq!(std::fs::read(&files[1]).unwrap(), before);
}

#[tokio::test]
async fn reconcile_finds_a_published_entry_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (config, services) = setup(dir.path()).await;
    let feed = Feed::new(&config.channels[0], Some(&config.organisation)).unwrap();
    let variant = course("c1", "2027-01-10T09:00:00Z");
    let now = Utc::now();
    let delivery = Delivery {
        id: 7,
        item: "c1".into(),
        channel: "courses".into(),
        occasion: "at".into(),
        state: DeliveryState::InFlight,
        hold_reason: None,
        due_at: now,
        next_attempt_at: None,
        attempts: 1,
        lease_expires_at: None,
        request_started_at: Some(now),
        last_error: None,
        remote_id: None,
        remote_url: None,
        sent_at: None,
        requires_approval: false,
        approved: false,
        variant: variant.clone(),
        fingerprint: String::new(),
    };
    let job = Job {
        delivery: &delivery,
        variant: &variant,
    };
    rebuild(&config, &services).await.unwrap();
    assert_eq!(feed.reconcile(&job, &services).await, Reconciled::NotSent);
    let receipt = feed.publish(&job, &services).await.unwrap();
    assert_eq!(
        receipt.remote_url.as_deref(),
        Some("https://feeds.example.org/feeds/courses.rss.xml")
    );
    assert_eq!(
        feed.reconcile(&job, &services).await,
        Reconciled::Sent(receipt)
    );
}

#[test]
fn atomic_write_replaces_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feeds/news.json");
    write_atomic(&path, b"one").unwrap();
    write_atomic(&path, b"two, longer").unwrap();
    write_atomic(&path, b"two, longer").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"two, longer");
    let names: Vec<_> = std::fs::read_dir(dir.path().join("feeds"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["news.json"]);
}

/// On a shared store another instance reconciles a send it did not make:
/// its own files lack the entry, so it publishes again, and the repeat
/// gives the very files the first publish wrote (publishing is idempotent).
#[tokio::test]
async fn another_instance_reconciles_by_publishing_the_same_document() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (config, a, store) = setup_with(dir_a.path(), CONFIG).await;
    let b = Services {
        publish_dir: dir_b.path().to_path_buf(),
        ..a.clone()
    };
    let feed = || Feed::new(&config.channels[0], Some(&config.organisation)).unwrap();
    let (on_a, on_b) = (feed(), feed());
    on_b.rebuild(&b).await.unwrap();
    let planned = Planned {
        item: "c1".into(),
        channel: "courses".into(),
        occasion: "at".into(),
        due_at: at(0),
        variant: Some(item("c1", 0, true, true).into()),
        fingerprint: "c1".into(),
        requires_approval: false,
    };
    store.sync_plan(&[planned], at(0)).await.unwrap();
    let delivery = store.lease_due(at(0), 1, LEASE).await.unwrap().remove(0);
    let job = Job {
        delivery: &delivery,
        variant: &delivery.variant,
    };
    // a published, then died before recording it.
    on_a.publish(&job, &a).await.unwrap();
    assert_eq!(on_b.reconcile(&job, &b).await, Reconciled::NotSent);
    let receipt = on_b.publish(&job, &b).await.unwrap();
    store
        .record_sent(delivery.id, &receipt, at(0), "published")
        .await
        .unwrap();
    on_b.rebuild(&b).await.unwrap();
    for ((_, file_a), (_, file_b)) in on_a.files(&a).into_iter().zip(on_b.files(&b)) {
        let (bytes_a, bytes_b) = (
            std::fs::read(&file_a).unwrap(),
            std::fs::read(file_b).unwrap(),
        );
        assert_eq!(bytes_a, bytes_b, "{}", file_a.display());
    }
}
