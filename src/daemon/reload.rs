//! Content changes while the daemon runs: a file watch (and SIGHUP) reloads
//! configuration, templates and content; a change that fails `check` is
//! refused with the reasons logged, and the last good state stays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, Notify};
use tracing::{error, info, warn};

use crate::plan::sync;
use crate::store::Store;
use crate::workspace::release_freed_memory;
pub use crate::workspace::Checked;
use crate::workspace::{Reuse, Variants, Workspace};

/// Loads and checks everything, rendering every variant; `Err` carries
/// the diagnostics that make it unusable.
pub fn load_checked(config: &Path) -> Result<Checked, Vec<String>> {
    Checked::load(config, &Reuse::default())
}

/// `load_checked`, reusing the files of `previous` whose text and the
/// variants whose sources did not change: only what changed is parsed and
/// rendered.
pub fn load_checked_reusing(config: &Path, previous: &Reuse) -> Result<Checked, Vec<String>> {
    Checked::load(config, previous)
}

/// Pairs read back from the store a page at a time.
const STORED_PAGE: usize = 10_000;

/// The variants the store keeps with what they were rendered from
/// (`Store::stored_renders`): at start, what need not be rendered again.
pub async fn stored_variants(store: &dyn Store) -> Result<Variants, crate::store::StoreError> {
    let mut variants = Variants::default();
    let mut after: Option<(String, String)> = None;
    loop {
        let key = after.as_ref().map(|(i, c)| (i.as_str(), c.as_str()));
        let page = store.stored_renders(key, STORED_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(variants);
        };
        after = Some((last.item.clone(), last.channel.clone()));
        variants.add_stored(page);
    }
}

pub struct Reloader {
    pub config: PathBuf,
    pub workspace: Arc<RwLock<Arc<Workspace>>>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn crier_schedule::Clock>,
    pub wake: Arc<Notify>,
    /// Whether this process plans (see `leader.rs`); the others load and
    /// check content but leave the queue to the leader.
    pub leading: super::leader::Leading,
}

impl Reloader {
    /// Reloads once: swaps in the new workspace and syncs the queue, or
    /// refuses and keeps the old one.
    pub async fn reload(&self, why: &str) {
        let started = std::time::Instant::now();
        let config = self.config.clone();
        let previous = self.workspace.read().expect("workspace lock").reuse();
        let loaded =
            tokio::task::spawn_blocking(move || load_checked_reusing(&config, &previous)).await;
        let checked = match loaded {
            Ok(Ok(checked)) => checked,
            Ok(Err(problems)) => {
                error!(reason = why, problems = %problems.join("\n"), "content change refused: it fails `crier check`; keeping the last good content and queue");
                return;
            }
            Err(e) => {
                error!(error = %e, "reload task failed; keeping the last good content");
                return;
            }
        };
        let rendered = checked.variants.rendered();
        let parsed = checked.workspace.files.parsed();
        let checked_ms = started.elapsed().as_millis();
        if !self.leading.get() {
            info!(
                reason = why,
                parsed, rendered, checked_ms, "content reloaded; the leader plans"
            );
            *self.workspace.write().expect("workspace lock") = Arc::new(checked.into_workspace());
            release_freed_memory();
            return;
        }
        match sync(&checked, self.store.as_ref(), self.clock.now()).await {
            Ok(s) => {
                info!(
                    reason = why,
                    parsed,
                    rendered,
                    checked_ms,
                    synced_ms = started.elapsed().as_millis() - checked_ms,
                    added = s.added,
                    updated = s.updated,
                    cancelled = s.cancelled,
                    "content reloaded"
                );
                *self.workspace.write().expect("workspace lock") =
                    Arc::new(checked.into_workspace());
                self.wake.notify_one();
                release_freed_memory();
            }
            Err(e) => {
                error!(error = %e, "content reloaded but the queue could not be updated; will retry on the next change")
            }
        }
    }

    /// Watches the config file, campaigns and templates from now on (the
    /// watches are in place when this returns), reloading in a task of its
    /// own. Bursts of file events are merged (editors write several).
    pub fn watch(self: Arc<Self>, dirs: Vec<PathBuf>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        // The watcher reports absolute paths (symlinks resolved), whatever
        // was asked for: compare and watch the same form, or a relative
        // `--config` (plain `crier serve`) would never match an event.
        let config = canonical(&self.config);
        let dirs: Vec<PathBuf> = dirs.iter().map(|d| canonical(d)).collect();
        let content_dirs = dirs.clone();
        // The config file's folder is watched (editors replace files, which
        // ends a watch on the file itself), so keep only relevant paths:
        // feed files and the database may live beside it.
        let config_file = config.clone();
        let relevant =
            move |p: &Path| p == config_file || content_dirs.iter().any(|d| p.starts_with(d));
        let mut watcher =
            match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if let Ok(event) = res {
                    // Reading the files on reload raises access events: only
                    // writes, creations, removals and renames count.
                    let change = matches!(
                        event.kind,
                        notify::EventKind::Create(_)
                            | notify::EventKind::Modify(_)
                            | notify::EventKind::Remove(_)
                    );
                    if change && event.paths.iter().any(|p| relevant(p)) {
                        let _ = tx.send(());
                    }
                }
            }) {
                Ok(w) => w,
                Err(e) => {
                    warn!(error = %e, "cannot watch content files; send SIGHUP to reload");
                    return;
                }
            };
        let config_dir = match config.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let targets = dirs.iter().map(|d| (d.clone(), RecursiveMode::Recursive));
        for (dir, mode) in targets.chain([(config_dir, RecursiveMode::NonRecursive)]) {
            if let Err(e) = watcher.watch(&dir, mode) {
                warn!(path = %dir.display(), error = %e, "cannot watch; send SIGHUP to reload");
            }
        }
        tokio::spawn(async move {
            // The watch lasts as long as this task.
            let _watcher = watcher;
            while rx.recv().await.is_some() {
                // Let the burst finish, then drain it.
                tokio::time::sleep(Duration::from_millis(300)).await;
                while rx.try_recv().is_ok() {}
                self.reload("files changed").await;
            }
        });
    }
}

/// `path` absolute with symlinks resolved, as file events name it; if it
/// does not exist (yet), at least absolute.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests;
