//! Looking after the store itself while it runs: a consistent copy for
//! backups (`crier backup FILE`), and forgetting old history
//! (`[daemon] keep_history_months`).
//!
//! Part of the queue's door ([`Store`](super::Store) requires it).

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;

/// What [`Upkeep::forget_history`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Forgotten {
    /// Deliveries whose history went (the deliveries themselves stay).
    pub deliveries: u64,
    pub transitions: u64,
    /// Per-recipient records of email sends (personal data).
    pub recipients: u64,
}

#[async_trait]
pub trait Upkeep: Send + Sync {
    /// Writes a consistent copy of the whole store, as of one moment, to
    /// `to`, a file that must not exist yet, while the daemon goes on
    /// writing; returns its size in bytes. The copy appears only when
    /// complete (written beside it, then renamed). A backend with its own
    /// backup tools (PostgreSQL: `pg_dump`) refuses and names them.
    async fn backup(&self, to: &Path) -> Result<u64, StoreError>;

    /// Forgets the history of deliveries settled for good (`sent` or
    /// `cancelled`: nothing sends them again) before `before`: their audit
    /// rows and their per-recipient records. The delivery rows stay, with
    /// their key, state, times, receipt and variant, so a plan never sees
    /// them as new (nothing is posted twice) and feeds keep their entries.
    /// Works in small transactions, so the daemon's writes go on between.
    async fn forget_history(&self, before: DateTime<Utc>) -> Result<Forgotten, StoreError>;
}
