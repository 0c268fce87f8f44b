//! Looking after the store itself while it runs: a consistent copy for
//! backups (`crier backup FILE`).
//!
//! Part of the queue's door ([`Store`](super::Store) requires it).

use std::path::Path;

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait Upkeep: Send + Sync {
    /// Writes a consistent copy of the whole store, as of one moment, to
    /// `to`, a file that must not exist yet, while the daemon goes on
    /// writing; returns its size in bytes. The copy appears only when
    /// complete (written beside it, then renamed). A backend with its own
    /// backup tools (PostgreSQL: `pg_dump`) refuses and names them.
    async fn backup(&self, to: &Path) -> Result<u64, StoreError>;
}
