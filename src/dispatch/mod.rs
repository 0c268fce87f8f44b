//! The dispatcher: sleeps until the next due time or a change, leases due
//! deliveries, sends each through its channel, and records the outcome.
//!
//! Architecture Invariant: a request that may have reached a network is
//! marked (`request_started_at`) before it is made, and a delivery so marked
//! is never sent again without the channel confirming it was not received.

mod backoff;
mod gate;
pub mod recover;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::channels::{Job, PublishError, Services};
use crate::delivery::{Actor, Delivery, HoldReason, Receipt};
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
    /// Longest sleep with nothing due; a safety net, not a poll.
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

/// How many batches of `concurrency` are leased ahead of the sends.
const LEASE_AHEAD: usize = 4;

impl Dispatcher {
    fn now(&self) -> DateTime<Utc> {
        self.services.clock.now()
    }

    fn workspace(&self) -> Arc<Workspace> {
        self.workspace.read().expect("workspace lock").clone()
    }

    /// Runs until the daemon is stopping (`services.stopping`, the signal
    /// publishers see too); then stops leasing, gives back leases not yet
    /// used (deliveries waiting for a send slot or their channel's rate
    /// gate), and waits for the sends in progress, which stop at their next
    /// safe boundary: a list between two recipients, a thread between two
    /// parts, a single request once answered. Each is recorded (stopped
    /// ones as retrying, due at once), so nothing is left half-done.
    ///
    /// Deliveries are leased a few batches ahead of the sends (a lease costs
    /// a commit; leasing one per finished send made a burst slow). A leased
    /// delivery waiting for a send slot has made no request, so losing it
    /// in a crash only re-queues it.
    pub async fn run(self: Arc<Self>) -> Result<(), StoreError> {
        let permits = Arc::new(Semaphore::new(self.settings.concurrency));
        let ahead = self.settings.concurrency * LEASE_AHEAD;
        let stopping = self.services.stopping.clone();
        let mut tasks = JoinSet::new();
        loop {
            if stopping.is_set() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            recover::expired(&self, self.now()).await?;
            let room = ahead.saturating_sub(tasks.len());
            if room < self.settings.concurrency && !tasks.is_empty() {
                // Lease in batches, not one per finished send: each lease is a commit.
                tokio::select! {
                    _ = tasks.join_next() => {}
                    _ = stopping.wait() => {}
                }
                continue;
            }
            let leased = if room > 0 {
                self.store
                    .lease_due(self.now(), room, self.settings.lease)
                    .await?
            } else {
                Vec::new()
            };
            let full_batch = room == 0 || leased.len() == room;
            for delivery in leased {
                self.in_process
                    .lock()
                    .expect("in-process lock")
                    .insert(delivery.id);
                let me = self.clone();
                let permits = permits.clone();
                tasks.spawn(async move {
                    let stopping = &me.services.stopping;
                    // Waiting for a send slot ends when the daemon stops.
                    let permit = tokio::select! {
                        p = permits.acquire_owned() => Some(p.expect("semaphore never closed")),
                        _ = stopping.wait() => None,
                    };
                    if permit.is_none() || stopping.is_set() {
                        me.give_back(&delivery).await;
                    } else {
                        me.handle(delivery.clone()).await;
                    }
                    drop(permit);
                    me.in_process
                        .lock()
                        .expect("in-process lock")
                        .remove(&delivery.id);
                });
            }
            if full_batch {
                // More may be due: lease again once a send finishes.
                tokio::select! {
                    _ = tasks.join_next(), if !tasks.is_empty() => {}
                    _ = stopping.wait() => {}
                }
                continue;
            }
            let sleep = self.sleep_for().await?;
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
                _ = tasks.join_next(), if !tasks.is_empty() => {}
                _ = stopping.wait() => {}
            }
        }
        info!(
            in_progress = tasks.len(),
            "dispatcher stopping; sends in progress stop at their next safe boundary"
        );
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    /// Until the next due time, capped by `max_idle`.
    async fn sleep_for(&self) -> Result<Duration, StoreError> {
        let next = self.store.next_wakeup().await?;
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

    /// Decides, sends and records one leased delivery. Store errors are
    /// logged: the lease then expires and recovery picks it up.
    async fn handle(&self, d: Delivery) {
        if let Err(e) = self.try_handle(&d).await {
            error!(delivery = d.id, error = %e, "could not record a delivery's outcome; recovery will take it up");
        }
    }

    async fn try_handle(&self, d: &Delivery) -> Result<(), StoreError> {
        let now = self.now();
        let ws = self.workspace();
        let hold = |reason: HoldReason, note: String| async move {
            info!(delivery = d.id, item = %d.item, channel = %d.channel, reason = reason.as_str(), "held: {note}");
            self.metrics.outcome(&d.channel, "held");
            self.store
                .hold(d.id, reason, &note, Actor::Daemon, now)
                .await
        };
        let Some(channel) = ws.channel(&d.channel) else {
            return hold(
                HoldReason::Unsupported,
                format!("channel `{}` is no longer in channels.toml", d.channel),
            )
            .await;
        };
        if self.store.paused().await?.covers(&d.channel) {
            return hold(HoldReason::Paused, "publishing is paused".into()).await;
        }
        if d.requires_approval && !d.approved {
            return hold(
                HoldReason::Approval,
                "needs approval: run `crier approve`".into(),
            )
            .await;
        }
        let late = (now - d.due_at).to_std().unwrap_or(Duration::ZERO);
        if d.next_attempt_at.is_none() && late > self.settings.grace {
            return hold(
                HoldReason::Missed,
                format!("fell due {} minutes ago, beyond the grace window: send, reschedule or skip it with `crier resume`", late.as_secs() / 60),
            )
            .await;
        }
        let publisher = channel.publisher();
        if let Some(missing) = channel.secrets().into_iter().find(|s| !s.is_set()) {
            return hold(
                HoldReason::Credentials,
                format!("`{}` is not set", missing.0),
            )
            .await;
        }
        let per_minute = ws.config.spec(&d.channel).and_then(|s| s.max_per_minute);
        tokio::select! {
            _ = self.gates.wait(&d.channel, per_minute) => {}
            _ = self.services.stopping.wait() => {}
        }
        if self.services.stopping.is_set() {
            // Nothing requested yet: the lease goes back unused.
            self.give_back(d).await;
            return Ok(());
        }
        self.store.mark_request_started(d.id, self.now()).await?;
        let job = Job {
            delivery: d,
            variant: &d.variant,
        };
        let outcome = publisher.publish(&job, &self.services).await;
        self.record(d, outcome).await
    }

    async fn record(
        &self,
        d: &Delivery,
        outcome: Result<Receipt, PublishError>,
    ) -> Result<(), StoreError> {
        let now = self.now();
        match outcome {
            Ok(receipt) => {
                self.metrics.outcome(&d.channel, "sent");
                self.metrics
                    .lateness((now - d.due_at).num_milliseconds() as f64 / 1000.0);
                info!(delivery = d.id, item = %d.item, channel = %d.channel, remote_url = receipt.remote_url.as_deref(), "sent");
                self.store.record_sent(d.id, &receipt, now, "sent").await
            }
            Err(PublishError::Retry { message, after, .. })
                if d.attempts < self.settings.max_attempts =>
            {
                let wait = backoff::delay(
                    d.attempts,
                    self.settings.retry_base,
                    self.settings.retry_max,
                    after,
                );
                let next =
                    now + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX);
                self.metrics.outcome(&d.channel, "retry");
                warn!(delivery = d.id, channel = %d.channel, attempt = d.attempts, retry_in_s = wait.as_secs_f64(), "{message}");
                self.store.record_retry(d.id, next, &message, now).await
            }
            Err(PublishError::Retry { message, .. }) => {
                self.metrics.outcome(&d.channel, "failed");
                let msg = format!("gave up after {} attempts: {message}", d.attempts);
                warn!(delivery = d.id, channel = %d.channel, "{msg}");
                self.store.record_failed(d.id, &msg, now).await
            }
            Err(PublishError::Permanent { message, .. }) => {
                self.metrics.outcome(&d.channel, "failed");
                warn!(delivery = d.id, channel = %d.channel, "refused: {message}");
                self.store.record_failed(d.id, &message, now).await
            }
            Err(PublishError::Uncertain { message, .. }) => {
                self.metrics.outcome(&d.channel, "uncertain");
                warn!(delivery = d.id, channel = %d.channel, "outcome unknown, held for a human: {message}");
                let note = format!("may have been posted ({message}): check the channel, then `crier retry` or `crier cancel`");
                self.store
                    .hold(d.id, HoldReason::Uncertain, &note, Actor::Daemon, now)
                    .await
            }
            Err(PublishError::Stopped(note)) => {
                self.metrics.outcome(&d.channel, "stopped");
                info!(delivery = d.id, item = %d.item, channel = %d.channel, "{note}");
                self.store.record_stopped(d.id, &note, now).await
            }
            Err(PublishError::Credentials { message, .. }) => {
                self.metrics.outcome(&d.channel, "credentials");
                warn!(channel = %d.channel, "credentials refused: {message}");
                self.store
                    .set_channel_status(
                        &d.channel,
                        Some(&format!("needs new credentials: {message}")),
                        now,
                    )
                    .await?;
                self.store
                    .hold(d.id, HoldReason::Credentials, &message, Actor::Daemon, now)
                    .await
            }
        }
    }
}
