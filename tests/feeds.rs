//! Website feeds end to end: items with awkward content rendered by the
//! real templates, planned into the real store, published by the feed
//! channel, and the files read back by real parsers (feedparser and
//! icalendar, through `scripts/check_feeds.py`).
//!
//! The Python side is required: `scripts/test.sh` makes a venv with it and
//! sets `CRIER_PYTHON`. Without it this test fails, it does not skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use crier::channels::{Configured, Job, Services};
use crier::delivery::{Delivery, Planned, Receipt};
use crier::diagnostics::Report;
use crier::store::sqlite::SqliteStore;
use crier::store::Store;
use crier::workspace::Workspace;
use crier_schedule::{Clock, ManualClock};
use serde_json::Value;

const PUBLIC_URL: &str = "https://feeds.example.org";

const NEWS_TITLE: &str = "Tom & Jerry's <script>alert('x')</script> update: café, naïve résumé 🎉";
const EVENT_TITLE: &str = "Two-day course; part 1, part 2 — Zoë & Ødegaard ✨";

fn config(root: &Path) -> String {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    format!(
        r#"
[organisation]
name = "Children's MARS & Partners"
website = "https://www.example.org"
timezone = "Europe/London"
language = "en-GB"

[daemon]
public_url = "{PUBLIC_URL}"
data_dir = "{data}"

[content]
campaigns = "campaigns"
templates = "{templates}"

[channels.website]
kind = "feed"
title = "News & views <from> MARS"
description = "Everything we publish, with \"quotes\" & ampersands."
path = "news"
formats = ["rss", "atom", "json", "ical"]

[channels.training-feed]
kind = "feed"
title = "Training courses"
topics = ["training"]
path = "training"
formats = ["rss", "atom", "json", "ical"]
"#,
        data = root.join("data").display(),
        templates = templates.display(),
    )
}

fn campaign() -> String {
    let long = "Bring your own lunch — café on site; the room is accessible, \
                step-free, with a hearing loop. Ünïcödé everywhere: 日本語, Ελληνικά, 🎉🎉🎉. "
        .repeat(3);
    format!(
        r#"
[[item]]
id = "awkward-news"
kind = "news"
title = "{NEWS_TITLE}"
summary = "Fish & chips, <b>bold</b> claims & a café."
at = "2026-12-01 10:00"
link = "https://www.example.org/news?a=1&b=2"
channels = ["website", "training-feed"]
topics = ["news"]
hashtags = ["NoMoreKnives"]
body = """
Read <script>alert("owned")</script> this & that, **café** naïve 🎉.

See [the page](https://www.example.org/a?x=1&y=2).
"""

[[item]]
id = "dst-course"
kind = "event"
title = "{EVENT_TITLE}"
summary = "{long}"
at = "2027-01-10 09:00"
start = "2027-03-27 09:30"
end = "2027-03-29 16:00"
venue = "Church Square House, Scunthorpe; Room 2 \\ annexe"
booking_url = "https://www.example.org/book?course=dst&x=1"
booking_email = "training@example.org"
booking_deadline = "2027-03-20 17:00"
channels = ["website", "training-feed"]
topics = ["training"]
hashtags = ["MARSTraining"]
body = """
Two days, crossing the clock change.
"""

[[item]]
id = "later-notice"
kind = "notice"
title = "Not yet"
at = "2027-02-01 09:00"
channels = ["website"]
topics = ["news"]
body = "Must not appear before its time."
"#
    )
}

struct World {
    _dir: tempfile::TempDir,
    feeds: PathBuf,
    ws: Workspace,
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    services: Services,
}

async fn world() -> World {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("campaigns")).unwrap();
    std::fs::write(root.join("channels.toml"), config(root)).unwrap();
    std::fs::write(root.join("campaigns/items.toml"), campaign()).unwrap();
    let mut report = Report::default();
    let ws = Workspace::load(&root.join("channels.toml"), &mut report).expect("config loads");
    assert_eq!(ws.items.len(), 3, "{:?}", report.diagnostics);
    assert!(ws.channel("website").is_some(), "{:?}", report.diagnostics);
    assert!(
        ws.channel("training-feed").is_some(),
        "{:?}",
        report.diagnostics
    );
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2026-11-01T00:00:00Z")));
    let publish_dir = root.join("public");
    let services = Services {
        http: reqwest::Client::new(),
        publish_dir: publish_dir.clone(),
        public_url: PUBLIC_URL.into(),
        store: store.clone(),
        clock: clock.clone(),
        credentials: crier::credentials::Credentials::new(Path::new("/nonexistent")),
        campaigns_dir: ws.config.campaigns_dir(),
        stopping: crier::channels::stopping::Stopping::never(),
    };
    World {
        feeds: publish_dir.join("feeds"),
        _dir: dir,
        ws,
        store,
        clock,
        services,
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

impl World {
    fn channel(&self, name: &str) -> &Configured {
        self.ws.channel(name).unwrap()
    }

    /// Plans every (item, channel) of the workspace, due at the item's `at`.
    async fn plan(&self) {
        let mut report = Report::default();
        let mut plan = Vec::new();
        for item in &self.ws.items {
            for name in &item.channels {
                let variant = self
                    .ws
                    .render(item, self.channel(name), &mut report)
                    .unwrap();
                plan.push(Planned {
                    item: item.id.clone(),
                    channel: name.clone(),
                    occasion: "at".into(),
                    due_at: item.at,
                    variant: Some(variant.into()),
                    fingerprint: format!("{}-{name}", item.id),
                    requires_approval: false,
                });
            }
        }
        self.store.sync_plan(&plan, self.clock.now()).await.unwrap();
    }

    /// Leases what is due at `now`, as the dispatcher does.
    async fn lease(&self, now: &str) -> Vec<Delivery> {
        self.clock.set(at(now));
        let mut due = self
            .store
            .lease_due(at(now), 100, Duration::from_secs(300))
            .await
            .unwrap();
        due.sort_by(|a, b| (&a.item, &a.channel).cmp(&(&b.item, &b.channel)));
        due
    }

    async fn publish(&self, d: &Delivery) -> Receipt {
        let job = Job {
            delivery: d,
            variant: &d.variant,
        };
        self.channel(&d.channel)
            .publisher()
            .publish(&job, &self.services)
            .await
            .unwrap()
    }

    async fn record_sent(&self, d: &Delivery, receipt: &Receipt) {
        self.store
            .record_sent(d.id, receipt, self.clock.now(), "published")
            .await
            .unwrap();
    }

    fn file(&self, name: &str) -> PathBuf {
        self.feeds.join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap()
    }

    fn all_files(&self) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(&self.feeds)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }
}

fn find<'a>(due: &'a [Delivery], item: &str, channel: &str) -> &'a Delivery {
    due.iter()
        .find(|d| d.item == item && d.channel == channel)
        .unwrap_or_else(|| panic!("no delivery of {item} to {channel}"))
}

/// Runs the checker; its JSON says what the parsers read, per file name.
fn check(files: &[PathBuf]) -> BTreeMap<String, Value> {
    let python = std::env::var("CRIER_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_feeds.py");
    let out = Command::new(&python)
        .arg(&script)
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python}: {e} (run scripts/test.sh, or set CRIER_PYTHON)")
        });
    assert!(
        out.status.success(),
        "check_feeds.py failed ({}): {}{}\n(scripts/test.sh sets up the Python packages)",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
    );
    let by_path: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
    by_path
        .into_iter()
        .map(|(p, v)| {
            let name = Path::new(&p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, v)
        })
        .collect()
}

fn ids(summary: &Value) -> Vec<String> {
    summary["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

const NEWS_ID: &str = "tag:www.example.org,2026:awkward-news";
const EVENT_ID: &str = "tag:www.example.org,2026:dst-course";

#[tokio::test]
async fn feeds_publish_at_their_time_and_parse_back_equal() {
    let w = world().await;
    w.plan().await;

    // December: only the news item is due.
    let due = w.lease("2026-12-02T08:00:00Z").await;
    assert_eq!(due.len(), 2, "news to both feeds");
    let news_site = find(&due, "awkward-news", "website");
    let receipt = w.publish(news_site).await;
    assert_eq!(receipt.remote_id.as_deref(), Some(NEWS_ID));
    assert_eq!(
        receipt.remote_url.as_deref(),
        Some("https://feeds.example.org/feeds/news.rss.xml")
    );
    w.record_sent(news_site, &receipt).await;
    // The training feed does not carry news: sent, but not included.
    let news_training = find(&due, "awkward-news", "training-feed");
    let skipped = w.publish(news_training).await;
    assert_eq!(skipped, Receipt::default());
    w.record_sent(news_training, &skipped).await;
    assert!(!w.file("training.rss.xml").exists());

    // The event and the notice are planned, not sent: not in the feed yet.
    let early = check(&[w.file("news.json"), w.file("news.rss.xml")]);
    assert_eq!(ids(&early["news.json"]), vec![NEWS_ID]);
    assert_eq!(ids(&early["news.rss.xml"]), vec![NEWS_ID]);
    assert!(!w.read("news.atom.xml").contains("Not yet"));
    assert!(!w.read("news.ics").contains("VEVENT"), "no events sent yet");

    // January: the event. The website copy is published but the dispatcher
    // has not stored `sent` when the news item is published again.
    let due = w.lease("2027-01-10T09:00:00Z").await;
    assert_eq!(due.len(), 2, "the event to both feeds; the notice is later");
    let event_site = find(&due, "dst-course", "website");
    let event_receipt = w.publish(event_site).await;
    assert_eq!(event_receipt.remote_id.as_deref(), Some(EVENT_ID));
    let again = w.store.get(news_site.id).await.unwrap().unwrap();
    assert_eq!(
        w.publish(&again).await,
        receipt,
        "a repeat gives the same receipt"
    );
    w.record_sent(event_site, &event_receipt).await;
    let event_training = find(&due, "dst-course", "training-feed");
    let r = w.publish(event_training).await;
    w.record_sent(event_training, &r).await;

    // Publishing is deterministic: once more changes no byte.
    let before = w.all_files();
    w.publish(&again).await;
    assert_eq!(w.all_files(), before);

    // Every file complete, nothing left half-written or lying about.
    let names: Vec<&String> = before.keys().collect();
    assert_eq!(
        names,
        [
            "news.atom.xml",
            "news.ics",
            "news.json",
            "news.rss.xml",
            "training.atom.xml",
            "training.ics",
            "training.json",
            "training.rss.xml"
        ]
    );
    assert!(w.read("news.rss.xml").ends_with("</rss>\n"));
    assert!(w.read("news.atom.xml").ends_with("</feed>\n"));
    assert!(w.read("news.ics").ends_with("END:VCALENDAR\r\n"));

    let files: Vec<PathBuf> = before.keys().map(|n| w.file(n)).collect();
    let parsed = check(&files);

    // Newest first, each entry once, in every format of both feeds.
    for f in ["news.rss.xml", "news.atom.xml", "news.json"] {
        let s = &parsed[f];
        assert_eq!(ids(s), vec![EVENT_ID, NEWS_ID], "{f}");
        let news = &s["entries"][1];
        assert_eq!(news["title"], NEWS_TITLE, "{f}");
        assert_eq!(news["link"], "https://www.example.org/news?a=1&b=2", "{f}");
        assert_eq!(news["published"], "2026-12-01T10:00:00Z", "{f}");
        assert_eq!(
            news["tags"],
            serde_json::json!(["news", "NoMoreKnives"]),
            "{f}"
        );
        let content = news["content"].as_str().unwrap();
        assert!(content.contains("café"), "{f}: {content}");
        assert!(!content.contains("<script"), "{f}: sanitised when shaped");
        let event = &s["entries"][0];
        assert_eq!(event["title"], EVENT_TITLE, "{f}");
        assert_eq!(event["published"], "2027-01-10T09:00:00Z", "{f}");
        assert!(
            event["link"].is_null(),
            "{f}: the event has no link of its own"
        );
        assert_eq!(s["title"], "News & views <from> MARS", "{f}");
        assert_eq!(s["self"], format!("{PUBLIC_URL}/feeds/{f}"), "{f}");
    }
    for f in ["news.rss.xml", "news.atom.xml"] {
        assert_eq!(
            parsed[f]["updated"], "2027-01-10T09:00:00Z",
            "{f}: newest entry"
        );
        assert_eq!(parsed[f]["language"], "en-GB", "{f}");
    }
    for f in ["training.rss.xml", "training.atom.xml", "training.json"] {
        assert_eq!(ids(&parsed[f]), vec![EVENT_ID], "{f}: news is not training");
    }

    // The calendars: one event, in UTC either side of the clock change
    // (09:30 GMT on the 27th, 16:00 BST on the 29th).
    for f in ["news.ics", "training.ics"] {
        let events = parsed[f]["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{f}: only events are in a calendar");
        let e = &events[0];
        assert_eq!(e["uid"], EVENT_ID);
        assert_eq!(e["summary"], EVENT_TITLE);
        assert_eq!(e["start"], "2027-03-27T09:30:00Z");
        assert_eq!(e["end"], "2027-03-29T15:00:00Z");
        assert_eq!(e["stamp"], "2027-01-10T09:00:00Z");
        assert_eq!(
            e["location"],
            "Church Square House, Scunthorpe; Room 2 \\ annexe"
        );
        assert_eq!(e["url"], "https://www.example.org/book?course=dst&x=1");
        assert_eq!(
            e["categories"],
            serde_json::json!(["training", "MARSTraining"])
        );
        let description = e["description"].as_str().unwrap();
        assert!(description.starts_with("Bring your own lunch — café on site;"));
        assert!(description.contains("日本語"));
        assert!(description.contains("Book by email: training@example.org"));
        assert!(
            description.contains("Booking closes Saturday 20 March 2027 at 17:00."),
            "{description}"
        );
    }
    assert_eq!(parsed["news.ics"]["title"], "News & views <from> MARS");

    // Long lines were folded (the checker verified each is ≤ 75 octets).
    assert!(w.read("news.ics").contains("\r\n "));
}

#[tokio::test]
async fn a_republished_entry_is_not_duplicated_and_unsent_items_stay_out() {
    let w = world().await;
    w.plan().await;
    let due = w.lease("2027-01-10T09:00:00Z").await;
    // Sent: the news item. Leased but never published: the event.
    let news = find(&due, "awkward-news", "website");
    let r = w.publish(news).await;
    w.record_sent(news, &r).await;
    for _ in 0..3 {
        let again = w.store.get(news.id).await.unwrap().unwrap();
        assert_eq!(w.publish(&again).await, r);
    }
    let parsed = check(&[
        w.file("news.rss.xml"),
        w.file("news.atom.xml"),
        w.file("news.json"),
        w.file("news.ics"),
    ]);
    for f in ["news.rss.xml", "news.atom.xml", "news.json"] {
        assert_eq!(ids(&parsed[f]), vec![NEWS_ID], "{f}");
    }
    assert!(parsed["news.ics"]["events"].as_array().unwrap().is_empty());
    let leftovers: Vec<String> = w
        .all_files()
        .into_keys()
        .filter(|n| n.starts_with('.') || n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // An item's time is its own, whenever the delivery went out.
    assert_eq!(
        parsed["news.json"]["entries"][0]["published"],
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    );
}

/// The shipped example, every item published: its feeds must parse cleanly.
#[tokio::test]
async fn the_shipped_example_feeds_parse_cleanly() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut report = Report::default();
    let ws = Workspace::load(&root.join("channels.toml"), &mut report).expect("example loads");
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
    let plan = crier::plan::plan(&ws, &mut report);
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2026-11-01T00:00:00Z")));
    store.sync_plan(&plan, clock.now()).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let services = Services {
        http: reqwest::Client::new(),
        publish_dir: out.path().to_path_buf(),
        public_url: "http://127.0.0.1:8080".into(),
        store: store.clone(),
        clock: clock.clone(),
        credentials: crier::credentials::Credentials::new(Path::new("/nonexistent")),
        campaigns_dir: ws.config.campaigns_dir(),
        stopping: crier::channels::stopping::Stopping::never(),
    };
    // Everything falls due by the end of the campaign.
    let end = at("2027-12-31T00:00:00Z");
    clock.set(end);
    let due = store
        .lease_due(end, 10_000, Duration::from_secs(300))
        .await
        .unwrap();
    let mut published = 0;
    for d in due
        .iter()
        .filter(|d| ws.channel(&d.channel).unwrap().kind() == "feed")
    {
        let job = Job {
            delivery: d,
            variant: &d.variant,
        };
        let publisher = ws.channel(&d.channel).unwrap().publisher();
        let receipt = publisher.publish(&job, &services).await.unwrap();
        store
            .record_sent(d.id, &receipt, end, "published")
            .await
            .unwrap();
        published += 1;
    }
    assert!(
        published >= 8,
        "the example publishes most items to its feeds"
    );
    let files: Vec<PathBuf> = std::fs::read_dir(out.path().join("feeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        files.len(),
        7,
        "news: rss, atom, json; training: rss, atom, json, ics"
    );
    let summaries = check(&files);
    // check() fails the test on any feedparser bozo or calendar error.
    let news = &summaries["news.rss.xml"];
    assert_eq!(news["version"], "rss20", "{news}");
    assert!(ids(news).len() >= 8, "{news}");
    assert_eq!(
        ids(&summaries["training.atom.xml"]).len(),
        2,
        "only the training courses"
    );
}
