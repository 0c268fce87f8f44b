//! The dispatcher: sleeps until the next due time or a change, leases what
//! falls due in the next moment (one statement), marks each burst's
//! requests started (one commit), sends them through their channels, and
//! records the outcomes off the send path (group commit).
//!
//! Architecture Invariant: a request that may have reached a network is
//! marked (`request_started_at`) before it is made, and a delivery so marked
//! is never sent again without the channel confirming it was not received.

mod backoff;
mod burst;
mod gate;
mod outcome;
pub mod recover;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tracing::{error, info};

use crate::channels::Services;
use crate::delivery::Delivery;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::workspace::Workspace;

pub use gate::RateGates;

/// Settings from `[daemon]`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub lease: Duration,
    pub grace: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub max_attempts: u32,
    pub concurrency: usize,
    /// Longest sleep with nothing due: a safety net on a store of its own;
    /// on a shared one, the poll behind notifications that can be lost.
    pub max_idle: Duration,
}

impl Settings {
    pub fn from_config(d: &crate::config::Daemon) -> Settings {
        Settings {
            lease: Duration::from_secs(d.lease_seconds),
            grace: Duration::from_secs(d.grace_minutes * 60),
            retry_base: Duration::from_secs(d.retry_base_seconds),
            retry_max: Duration::from_secs(d.retry_max_seconds),
            max_attempts: d.max_attempts,
            concurrency: d.concurrency.max(1),
            max_idle: Duration::from_secs(300),
        }
    }
}

/// Shared by the dispatcher's tasks.
pub struct Dispatcher {
    pub store: Arc<dyn Store>,
    pub workspace: Arc<RwLock<Arc<Workspace>>>,
    pub services: Services,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    /// Notified when content or the queue changed.
    pub wake: Arc<Notify>,
    pub gates: RateGates,
    /// Deliveries this process holds leases on: recovery leaves them alone
    /// even if a lease runs out while they wait for a send slot.
    pub in_process: std::sync::Mutex<std::collections::HashSet<i64>>,
}

/// How far ahead the dispatcher leases: a burst is leased (one commit)
/// before it falls due, so that commit is not part of its lateness. A
/// delivery leased this early can no longer be cancelled by a person (it
/// is in flight), so the window stays short.
const LOOKAHEAD: Duration = Duration::from_secs(1);

/// Most deliveries leased at once: a burst of 1,000 due in the same
/// second is one lease.
const LEASE_BATCH: usize = 1024;

/// At least this many batches of `concurrency` are leased ahead of sends.
const LEASE_AHEAD: usize = 4;

/// The leased deliveries not yet started, earliest first.
type Waiting = VecDeque<Delivery>;

/// When a leased delivery is to be sent: its retry time, or its due time.
fn send_at(d: &Delivery) -> DateTime<Utc> {
    d.next_attempt_at.unwrap_or(d.due_at)
}

impl Dispatcher {
    fn now(&self) -> DateTime<Utc> {
        self.services.clock.now()
    }

    fn workspace(&self) -> Arc<Workspace> {
        self.workspace.read().expect("workspace lock").clone()
    }

    fn lease_batch(&self) -> usize {
        LEASE_BATCH.max(self.settings.concurrency * LEASE_AHEAD)
    }

    /// Runs until the daemon is stopping (`services.stopping`, the signal
    /// publishers see too); then stops leasing, gives back leases not yet
    /// used (deliveries waiting for their time, a send slot or their
    /// channel's rate gate), and waits for the sends in progress, which
    /// stop at their next safe boundary: a list between two recipients, a
    /// thread between two parts, a single request once answered. Each is
    /// recorded (stopped ones as retrying, due at once), so nothing is left
    /// half-done.
    ///
    /// What falls due within [`LOOKAHEAD`] is leased in one statement; at
    /// its time, as many as there are free send slots are marked "request
    /// started" in one commit and sent. A slot is free again as soon as
    /// its request is answered: the outcome is recorded after, in a commit
    /// shared with other outcomes and the next marks. A leased delivery
    /// not yet marked has made no request, so losing it in a crash only
    /// re-queues it; only the marked ones, at most `concurrency`, can be
    /// uncertain.
    pub async fn run(self: Arc<Self>) -> Result<(), StoreError> {
        let permits = Arc::new(Semaphore::new(self.settings.concurrency));
        let stopping = self.services.stopping.clone();
        let mut waiting = Waiting::new();
        let mut tasks = JoinSet::new();
        // Whether the store may hold due deliveries not yet leased.
        let mut more = true;
        loop {
            if stopping.is_set() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            if more && waiting.len() < self.lease_batch() / 2 {
                more = self.lease_more(&mut waiting).await?;
            }
            let now = self.now();
            let due = waiting.iter().take_while(|d| send_at(d) <= now).count();
            if due > 0 {
                self.start(&mut waiting, due, &permits, &mut tasks).await?;
                continue;
            }
            // With half a batch leased, the store waits until it drains.
            let lease_soon = waiting.len() < self.lease_batch() / 2;
            let sleep = self.sleep_for(&waiting, lease_soon).await?;
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
                // An outcome may have scheduled a retry before the sleep's end.
                _ = tasks.join_next(), if !tasks.is_empty() => {}
                _ = stopping.wait() => {}
            }
            more = true;
        }
        info!(
            in_progress = tasks.len(),
            waiting = waiting.len(),
            "dispatcher stopping; sends in progress stop at their next safe boundary"
        );
        for d in waiting.drain(..) {
            self.give_back(&d).await;
            self.done_with(d.id);
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    /// Recovers lapsed leases, then leases what falls due by now plus
    /// [`LOOKAHEAD`]; says whether more may be due (the batch was full).
    async fn lease_more(&self, waiting: &mut Waiting) -> Result<bool, StoreError> {
        recover::expired(self, self.now()).await?;
        let room = self.lease_batch().saturating_sub(waiting.len());
        let now = self.now();
        let by = now + chrono::TimeDelta::from_std(LOOKAHEAD).expect("a second");
        let leased = self
            .store
            .lease_due_by(now, by, room, self.settings.lease)
            .await?;
        let full = leased.len() == room;
        {
            let mut mine = self.in_process.lock().expect("in-process lock");
            mine.extend(leased.iter().map(|d| d.id));
        }
        waiting.extend(leased);
        waiting
            .make_contiguous()
            .sort_by_key(|d| (send_at(d), d.id));
        Ok(full)
    }

    /// Until the first leased delivery's time, or (`lease_soon`) until
    /// [`LOOKAHEAD`] before the store's next due time, to lease it ahead;
    /// capped by `max_idle`.
    async fn sleep_for(&self, waiting: &Waiting, lease_soon: bool) -> Result<Duration, StoreError> {
        let ahead = chrono::TimeDelta::from_std(LOOKAHEAD).expect("a second");
        let next = match lease_soon {
            true => self.store.next_wakeup().await?.map(|t| t - ahead),
            false => None,
        };
        let next = match (next, waiting.front().map(send_at)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let now = self.now();
        Ok(match next {
            Some(t) if t <= now => Duration::ZERO,
            Some(t) => (t - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(self.settings.max_idle),
            None => self.settings.max_idle,
        })
    }

    /// This process no longer holds the delivery's lease.
    fn done_with(&self, id: i64) {
        self.in_process.lock().expect("in-process lock").remove(&id);
    }

    /// Shutting down before a send slot came: the lease goes back unused.
    async fn give_back(&self, d: &Delivery) {
        if let Err(e) = self
            .store
            .release(d.id, "daemon stopping before sending", self.now())
            .await
        {
            error!(delivery = d.id, error = %e, "could not give a lease back; recovery will take it up");
        }
    }
}
