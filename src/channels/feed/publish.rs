//! Publishing: every file of a feed rewritten from what has been sent.
//!
//! A feed is a document, not a stream of posts: each publish rebuilds the
//! whole feed from the channel's `sent` deliveries plus the one being
//! published, so an item appears at its publish time and never before, a
//! repeat publish replaces its entry (one entry per id), and a crash at any
//! point leaves the previous complete files in place (temp file, fsync,
//! rename).
//!
//! An item none of whose topics the feed carries is "published" without
//! touching the files: the receipt has neither id nor URL, which is how the
//! queue shows it was not included.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::entry::{Entry, FeedMeta};
use super::{atom, ical, json, rss, Feed, Format};
use crate::channels::{Job, PublishError, Publisher, Reconciled, Services};
use crate::delivery::{Delivery, Receipt};
use crate::variant::Variant;

/// The folder under the publish folder that is served at /feeds/.
pub const FOLDER: &str = "feeds";

/// Per-feed publishing state, shared by concurrent sends.
#[derive(Default)]
pub(crate) struct State {
    /// Held while a feed's files are rebuilt: two rebuilds interleaving
    /// would let the older one's rename win. Inside, what this process
    /// published whose `sent` the dispatcher has not stored yet, by
    /// delivery id: without it, a send finishing just after another would
    /// rewrite the feed without the other's entry.
    recent: Mutex<BTreeMap<i64, Variant>>,
}

#[async_trait]
impl Publisher for Feed {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        let entry = Entry::from_variant(job.variant).ok_or_else(|| {
            PublishError::permanent(format!(
                "the variant of `{}` has no feed entry (planned by an older crier?): re-plan it",
                job.variant.item
            ))
        })?;
        if !self.carries(&entry.data.topics) {
            tracing::info!(
                channel = %self.name,
                item = %job.variant.item,
                "not included: the item has none of the feed's topics"
            );
            return Ok(Receipt::default());
        }
        self.write(services, Some((job.delivery.id, job.variant)))
            .await?;
        Ok(self.receipt(&entry, services))
    }

    /// Publishing is idempotent (one entry per id), so a send whose entry
    /// is not in the files can simply go again.
    async fn reconcile(&self, job: &Job<'_>, services: &Services) -> Reconciled {
        let Some(entry) = Entry::from_variant(job.variant) else {
            return Reconciled::NotSent;
        };
        if !self.carries(&entry.data.topics) {
            return Reconciled::Sent(Receipt::default());
        }
        let all_have_it = self.files(services).iter().all(|(format, path)| {
            if *format == Format::Ical && entry.data.event.is_none() {
                return true; // calendars list events only
            }
            let Ok(text) = std::fs::read_to_string(path) else {
                return false;
            };
            match format {
                Format::Ical => text
                    .replace("\r\n ", "")
                    .contains(&ical::text(&entry.data.id)),
                _ => text.contains(&entry.data.id),
            }
        });
        if all_have_it {
            Reconciled::Sent(self.receipt(&entry, services))
        } else {
            Reconciled::NotSent
        }
    }
}

impl Feed {
    /// Writes every file of this feed from its sent deliveries, so the
    /// files exist (empty but valid) before anything is published and
    /// match the store after a restart.
    pub(super) async fn rebuild(&self, services: &Services) -> Result<(), PublishError> {
        self.write(services, None).await
    }

    fn receipt(&self, entry: &Entry, services: &Services) -> Receipt {
        let file = self.options.formats[0].file_name(&self.options.path);
        Receipt {
            remote_id: Some(entry.data.id.clone()),
            remote_url: Some(format!(
                "{}/{FOLDER}/{file}",
                services.public_url.trim_end_matches('/')
            )),
        }
    }

    pub(super) fn files(&self, services: &Services) -> Vec<(Format, PathBuf)> {
        let dir = services.publish_dir.join(FOLDER);
        self.options
            .formats
            .iter()
            .map(|&f| (f, dir.join(f.file_name(&self.options.path))))
            .collect()
    }

    /// Rebuilds every file of this feed, with `current` (being published
    /// now, so not yet `sent`) included.
    async fn write(
        &self,
        services: &Services,
        current: Option<(i64, &Variant)>,
    ) -> Result<(), PublishError> {
        let mut recent = self.publish.recent.lock().await;
        let sent = services.store.sent(&self.name).await.map_err(|e| {
            PublishError::retry(format!("cannot read the sent deliveries: {e}"), None)
        })?;
        // Once stored as sent, the store is the record.
        for d in &sent {
            recent.remove(&d.id);
        }
        let entries = self.entries(&sent, &recent, current);
        let documents = self.render_all(services, &entries);
        tokio::task::spawn_blocking(move || {
            for (path, text) in documents {
                write_atomic(&path, text.as_bytes())?;
            }
            Ok::<_, std::io::Error>(())
        })
        .await
        .map_err(|e| PublishError::retry(format!("writing the feed files stopped: {e}"), None))?
        .map_err(|e| PublishError::retry(format!("cannot write the feed files: {e}"), None))?;
        if let Some((id, variant)) = current {
            recent.insert(id, variant.clone());
        }
        Ok(())
    }

    /// One entry per id, newest first. For an id sent more than once (an
    /// event's reminders, a repeated send), the latest send wins, and the
    /// one being published beats them all.
    fn entries(
        &self,
        sent: &[Delivery],
        recent: &BTreeMap<i64, Variant>,
        current: Option<(i64, &Variant)>,
    ) -> Vec<Entry> {
        let mut sent: Vec<&Delivery> = sent.iter().collect();
        sent.sort_by_key(|d| (d.sent_at.unwrap_or(DateTime::<Utc>::MIN_UTC), d.id));
        let stored = sent.iter().filter_map(|d| Entry::from_variant(&d.variant));
        let unrecorded = recent.values().filter_map(Entry::from_variant);
        let now = current.and_then(|(_, v)| Entry::from_variant(v));
        let mut by_id: BTreeMap<String, Entry> = BTreeMap::new();
        for e in stored.chain(unrecorded).chain(now) {
            by_id.insert(e.data.id.clone(), e);
        }
        let mut out: Vec<Entry> = by_id
            .into_values()
            .filter(|e| self.carries(&e.data.topics))
            .collect();
        out.sort_by(|a, b| (b.data.published, &a.data.id).cmp(&(a.data.published, &b.data.id)));
        out
    }

    fn render_all(&self, services: &Services, entries: &[Entry]) -> Vec<(PathBuf, String)> {
        self.files(services)
            .into_iter()
            .map(|(format, path)| {
                let meta = FeedMeta {
                    id: self.site.feed_id(&self.options.path),
                    title: self.options.title.clone(),
                    description: self.options.description.clone(),
                    home_page: self.site.home_page.clone(),
                    author: self.site.author.clone(),
                    language: self.site.language.clone(),
                    self_url: format!(
                        "{}/{FOLDER}/{}",
                        services.public_url.trim_end_matches('/'),
                        format.file_name(&self.options.path)
                    ),
                };
                let text = match format {
                    Format::Rss => rss::render(&meta, entries),
                    Format::Atom => atom::render(&meta, entries),
                    Format::Json => json::render(&meta, entries),
                    Format::Ical => ical::render(&meta, entries, self.site.timezone),
                };
                (path, text)
            })
            .collect()
    }
}

/// Replaces `path` so readers see the old file or the new one, never part
/// of one: a temp file in the same folder (rename is atomic only within a
/// file system), fsynced, renamed over, then the folder fsynced so the
/// rename survives a power cut. An unchanged file is left alone, so its
/// modification time (and HTTP caching) only moves when content does.
pub fn write_atomic(path: &Path, content: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    if std::fs::read(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // Hidden, and unique per process and call, so concurrent writers and
    // the /feeds/ listing never see one another's temp files.
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(content)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // Not every platform can open a folder to sync it; the rename is done.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::delivery::State as DeliveryState;
    use crate::diagnostics::{Report, SourceFile};
    use crate::store::sqlite::SqliteStore;

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
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut report = Report::default();
        let config = Config::parse(SourceFile::new("channels.toml", CONFIG.into()), &mut report)
            .expect("config parses");
        assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
        let services = Services {
            http: reqwest::Client::new(),
            publish_dir: dir.to_path_buf(),
            public_url: config.daemon.public_url.clone(),
            store: Arc::new(SqliteStore::open_in_memory().await.unwrap()),
            clock: Arc::new(crier_schedule::SystemClock),
            credentials: crate::credentials::Credentials::new(std::path::Path::new("/nonexistent")),
            campaigns_dir: dir.to_path_buf(),
            stopping: crate::channels::stopping::Stopping::never(),
        };
        (config, services)
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
        let mut variant = Variant::document("c1", "courses", "feed", "Summary".into());
        variant.subject = Some("Course".into());
        variant.html = Some("<p>Course</p>".into());
        variant.payload = Some(serde_json::json!({ "entry": {
            "id": "tag:www.example.org,2026:c1",
            "link": null,
            "published": "2027-01-10T09:00:00Z",
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
}
