//! Publishing: every file of a feed rewritten from what has been sent.
//!
//! The files are for a website that serves them itself (a single instance
//! behind a static web server); the daemon's `/feeds/` renders the same
//! bytes from the store ([`super::serve`]) and never needs them.
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
use tokio::sync::Mutex;

use super::entry::Entry;
use super::{ical, Feed, Format, FOLDER};
use crate::channels::{Job, PublishError, Publisher, Reconciled, Services};
use crate::delivery::Receipt;
use crate::variant::Variant;

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
        if !self.def.carries(&entry.data.topics) {
            tracing::info!(
                channel = %self.def.name,
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
    /// is not in this process's files can simply go again: on a shared
    /// store the files read are the reconciling instance's, and the send
    /// that went out elsewhere is repeated here, rewriting the same entry.
    /// Either way it is then recorded `sent`, which is what `/feeds/`
    /// serves.
    async fn reconcile(&self, job: &Job<'_>, services: &Services) -> Reconciled {
        let Some(entry) = Entry::from_variant(job.variant) else {
            return Reconciled::NotSent;
        };
        if !self.def.carries(&entry.data.topics) {
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
        let format = self.def.options.formats[0];
        Receipt {
            remote_id: Some(entry.data.id.clone()),
            remote_url: Some(self.def.url(&services.public_url, format)),
        }
    }

    pub(super) fn files(&self, services: &Services) -> Vec<(Format, PathBuf)> {
        let dir = services.publish_dir.join(FOLDER);
        let options = &self.def.options;
        options
            .formats
            .iter()
            .map(|&f| (f, dir.join(f.file_name(&options.path))))
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
        let entries = self
            .def
            .newest(services.store.as_ref(), &mut recent, current)
            .await
            .map_err(|e| {
                PublishError::retry(format!("cannot read the sent deliveries: {e}"), None)
            })?
            .entries;
        let documents: Vec<(PathBuf, String)> = self
            .files(services)
            .into_iter()
            .map(|(format, path)| {
                (
                    path,
                    self.def.render(&services.public_url, format, &entries),
                )
            })
            .collect();
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
