//! What several `crier serve` processes sharing one store agree on through
//! it: who plans (a leader row with a time to live, judged by the
//! database's clock), what time it is (the database's clock), and when to
//! look at the queue again (a notification when it changes, with polling
//! behind it, since a notification can be lost).
//!
//! The SQLite file has one process at a time (the data folder's lock), so
//! its answers are the trivial ones: not shared, always the leader, no
//! skew, no notifications.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::StoreError;

/// A name for one participant of this process (a store's leases, the
/// daemon's claim on the leader row): the machine, the process id (so a
/// person, or a test, can tell which process holds a lease or the role)
/// and a random part, different for each name asked for.
pub fn participant_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

#[async_trait]
pub trait Coordination: Send + Sync {
    /// Whether other processes may be using the store at the same time.
    /// Then a lease held at start may be another live process's, not a
    /// dead predecessor's, and only the leader plans.
    fn shared(&self) -> bool;

    /// Claims the leader's role for `ttl`, or renews it, as `owner`; true
    /// while `owner` holds it. One holder at a time: another may claim it
    /// only once the holder has not renewed for `ttl` by the database's
    /// clock.
    async fn lead(&self, owner: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Gives the role up (a clean stop), so another process takes it at
    /// its next claim instead of after the time to live.
    async fn resign(&self, owner: &str) -> Result<(), StoreError>;

    /// The database's clock minus this machine's: every process adds it to
    /// its own readings, so leases and due times are judged by one clock.
    async fn clock_skew(&self) -> Result<chrono::TimeDelta, StoreError>;

    /// Notifies `wake` whenever any process makes a delivery due sooner
    /// (adds, reschedules, releases or resumes one), for as long as the
    /// store lives. Best effort: the dispatcher still polls a shared store.
    fn watch_changes(&self, wake: Arc<Notify>);
}
