//! Publishing: every file of a feed rewritten from what has been sent.
//!
//! A feed is a document, not a stream of posts: each publish rebuilds the
//! whole feed from the channel's newest `sent` deliveries plus the one
//! being published, so an item appears at its publish time and never
//! before, a repeat publish replaces its entry (one entry per id), a file
//! carries the newest `max_entries` entries (a calendar its newest
//! `max_entries` events), and a crash at any point leaves the previous
//! complete files in place (temp file, fsync, rename).
//!
//! An item none of whose topics the feed carries is "published" without
//! touching the files: the receipt has neither id nor URL, which is how the
//! queue shows it was not included.

use std::collections::{BTreeMap, BTreeSet};
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
        let entries = self.newest(services, &mut recent, current).await?;
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
        // An unrecorded entry the files no longer carry has `max_entries`
        // newer ones and will not come back: forgetting it keeps this map
        // as small as the feed when the store is written by other
        // processes too.
        let written: BTreeSet<&str> = entries.iter().map(|e| e.data.id.as_str()).collect();
        recent.retain(|_, v| Entry::from_variant(v).is_some_and(|e| written.contains(&*e.data.id)));
        if let Some((id, variant)) = current {
            recent.insert(id, variant.clone());
        }
        Ok(())
    }

    /// The entries the files carry, newest first: the entries of the
    /// channel's newest `max_entries` sends, read again twice as far back
    /// while they make fewer entries than a file carries (repeat sends,
    /// items of other topics, or a calendar's events being few) and the
    /// channel has older sends. A feed of one item per send reads each row
    /// once; at worst, every send, as before there was a bound.
    async fn newest(
        &self,
        services: &Services,
        recent: &mut BTreeMap<i64, Variant>,
        current: Option<(i64, &Variant)>,
    ) -> Result<Vec<Entry>, PublishError> {
        let mut limit = self.options.max_entries;
        loop {
            let sent = services
                .store
                .sent_latest(&self.name, limit)
                .await
                .map_err(|e| {
                    PublishError::retry(format!("cannot read the sent deliveries: {e}"), None)
                })?;
            // Once stored as sent, the store is the record.
            for d in &sent {
                recent.remove(&d.id);
            }
            let entries = self.entries(&sent, recent, current);
            if sent.len() < limit || self.enough(&entries) {
                return Ok(self.bounded(entries));
            }
            limit = limit.saturating_mul(2);
        }
    }

    /// Whether every file has its `max_entries`: entries, and events for
    /// a calendar (which lists events only).
    fn enough(&self, entries: &[Entry]) -> bool {
        let max = self.options.max_entries;
        let events = || entries.iter().filter(|e| e.data.event.is_some()).count();
        entries.len() >= max && (!self.options.formats.contains(&Format::Ical) || events() >= max)
    }

    /// The newest `max_entries` entries, plus, for a calendar, the events
    /// among the rest up to its `max_entries` newest events: the other
    /// formats take the first `max_entries` ([`Feed::render_all`]).
    fn bounded(&self, entries: Vec<Entry>) -> Vec<Entry> {
        let max = self.options.max_entries;
        let calendar = self.options.formats.contains(&Format::Ical);
        let mut events = 0;
        entries
            .into_iter()
            .enumerate()
            .filter(|(i, e)| {
                let event = calendar && e.data.event.is_some() && events < max;
                events += usize::from(event);
                *i < max || event
            })
            .map(|(_, e)| e)
            .collect()
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

    /// Every file from `entries` ([`Feed::bounded`]): the first
    /// `max_entries`, and a calendar the events among them all.
    fn render_all(&self, services: &Services, entries: &[Entry]) -> Vec<(PathBuf, String)> {
        let newest = &entries[..entries.len().min(self.options.max_entries)];
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
                    Format::Rss => rss::render(&meta, newest),
                    Format::Atom => atom::render(&meta, newest),
                    Format::Json => json::render(&meta, newest),
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
mod tests;
