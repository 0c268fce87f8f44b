//! Starting what is due: decide each delivery (hold it, gate it, or send
//! it), mark a burst's requests started in one commit, and send them.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::{error, info};

use super::{Dispatcher, Waiting};
use crate::channels::{Job, PublishError};
use crate::delivery::{Actor, Delivery, HoldReason};
use crate::store::{Paused, StoreError};
use crate::workspace::Workspace;

/// What to do with a leased delivery that is due.
enum Decision {
    Hold(HoldReason, String),
    /// Its channel has a rate limit: it waits for its turn on its own.
    Gated(u32),
    Send,
}

impl Dispatcher {
    /// Starts up to `due` leased deliveries: waits for one free send slot,
    /// takes every other one free, and sends that many at once (holds and
    /// rate-gated deliveries go their own way without a slot). Returns at
    /// once if the daemon stops.
    pub(super) async fn start(
        self: &Arc<Self>,
        waiting: &mut Waiting,
        due: usize,
        permits: &Arc<Semaphore>,
        tasks: &mut JoinSet<()>,
    ) -> Result<(), StoreError> {
        let stopping = &self.services.stopping;
        let first = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
            _ = stopping.wait() => return Ok(()),
        };
        // Let sends just answered free their slots, so a burst goes in
        // batches of `concurrency`, not one by one.
        tokio::task::yield_now().await;
        let mut slots = vec![first];
        while slots.len() < due {
            match permits.clone().try_acquire_owned() {
                Ok(p) => slots.push(p),
                Err(_) => break,
            }
        }
        let (now, ws) = (self.now(), self.workspace());
        let paused = self.store.paused().await?;
        let mut burst = Vec::with_capacity(slots.len());
        let mut taken = 0;
        while burst.len() < slots.len() && taken < due {
            let d = waiting.pop_front().expect("counted as due");
            taken += 1;
            match self.decide(&ws, &paused, &d, now) {
                Decision::Send => burst.push(d),
                Decision::Gated(n) => self.spawn_gated(&ws, d, n, permits, tasks),
                Decision::Hold(reason, note) => self.spawn_hold(d, reason, note, tasks),
            }
        }
        if stopping.is_set() {
            // Nothing requested yet: `run` gives these back with the rest.
            burst.into_iter().rev().for_each(|d| waiting.push_front(d));
            return Ok(());
        }
        self.send_burst(&ws, burst, slots, tasks).await;
        Ok(())
    }

    /// Paused? Approval? Missed the grace window? Credentials? Rate limit?
    fn decide(
        &self,
        ws: &Workspace,
        paused: &Paused,
        d: &Delivery,
        now: DateTime<Utc>,
    ) -> Decision {
        let Some(channel) = ws.channel(&d.channel) else {
            let note = format!("channel `{}` is no longer in channels.toml", d.channel);
            return Decision::Hold(HoldReason::Unsupported, note);
        };
        if paused.covers(&d.channel) {
            return Decision::Hold(HoldReason::Paused, "publishing is paused".into());
        }
        if d.requires_approval && !d.approved {
            let note = "needs approval: run `crier approve`".into();
            return Decision::Hold(HoldReason::Approval, note);
        }
        let late = (now - d.due_at).to_std().unwrap_or_default();
        if d.next_attempt_at.is_none() && late > self.settings.grace {
            let note = format!("fell due {} minutes ago, beyond the grace window: send, reschedule or skip it with `crier resume`", late.as_secs() / 60);
            return Decision::Hold(HoldReason::Missed, note);
        }
        if let Some(missing) = channel.secrets().into_iter().find(|s| !s.is_set()) {
            let note = format!("`{}` is not set", missing.0);
            return Decision::Hold(HoldReason::Credentials, note);
        }
        match ws.config.spec(&d.channel).and_then(|s| s.max_per_minute) {
            Some(n) if n > 0 => Decision::Gated(n),
            _ => Decision::Send,
        }
    }

    /// Marks the burst's requests started in one commit, then sends each
    /// marked one in its own slot. One the store refuses (its lease ran
    /// out) is not sent: recovery takes it up.
    async fn send_burst(
        self: &Arc<Self>,
        ws: &Arc<Workspace>,
        burst: Vec<Delivery>,
        slots: Vec<OwnedSemaphorePermit>,
        tasks: &mut JoinSet<()>,
    ) {
        if burst.is_empty() {
            return;
        }
        let ids: Vec<i64> = burst.iter().map(|d| d.id).collect();
        let marked = match self.store.mark_requests_started(&ids, self.now()).await {
            Ok(marked) => marked,
            Err(e) => {
                error!(error = %e, deliveries = ids.len(), "could not mark requests started; recovery will take them up");
                Vec::new()
            }
        };
        let marked: std::collections::HashSet<i64> = marked.into_iter().collect();
        for (d, slot) in burst.into_iter().zip(slots) {
            if !marked.contains(&d.id) {
                error!(
                    delivery = d.id,
                    "its lease ran out before sending; recovery will take it up"
                );
                self.done_with(d.id);
                continue;
            }
            let (me, ws) = (self.clone(), ws.clone());
            tasks.spawn(async move {
                me.send(&ws, &d, slot).await;
                me.done_with(d.id);
            });
        }
    }

    /// Sends one delivery marked started (through the channel as `ws`,
    /// the workspace it was decided with, has it), frees its slot as soon
    /// as the request is answered, then records the outcome.
    async fn send(&self, ws: &Workspace, d: &Delivery, slot: OwnedSemaphorePermit) {
        let job = Job {
            delivery: d,
            variant: &d.variant,
        };
        let outcome = match ws.channel(&d.channel) {
            Some(channel) => channel.publisher().publish(&job, &self.services).await,
            None => Err(PublishError::Permanent {
                message: format!("channel `{}` is not in channels.toml", d.channel),
                status: None,
            }),
        };
        drop(slot);
        if let Err(e) = self.record(d, outcome).await {
            error!(delivery = d.id, error = %e, "could not record a delivery's outcome; recovery will take it up");
        }
    }

    /// A channel with a rate limit: wait for its turn, then a slot, then
    /// mark and send this one alone, as before bursts.
    fn spawn_gated(
        self: &Arc<Self>,
        ws: &Arc<Workspace>,
        d: Delivery,
        per_minute: u32,
        permits: &Arc<Semaphore>,
        tasks: &mut JoinSet<()>,
    ) {
        let (me, permits, ws) = (self.clone(), permits.clone(), ws.clone());
        tasks.spawn(async move {
            let stopping = &me.services.stopping;
            let slot = tokio::select! {
                _ = me.gates.wait(&d.channel, Some(per_minute)) => tokio::select! {
                    p = permits.acquire_owned() => Some(p.expect("semaphore never closed")),
                    _ = stopping.wait() => None,
                },
                _ = stopping.wait() => None,
            };
            match slot {
                Some(_) if stopping.is_set() => me.give_back(&d).await,
                None => me.give_back(&d).await,
                Some(slot) => match me.store.mark_request_started(d.id, me.now()).await {
                    Ok(()) => me.send(&ws, &d, slot).await,
                    Err(e) => error!(delivery = d.id, error = %e, "could not mark the request started; recovery will take it up"),
                },
            }
            me.done_with(d.id);
        });
    }

    fn spawn_hold(
        self: &Arc<Self>,
        d: Delivery,
        reason: HoldReason,
        note: String,
        tasks: &mut JoinSet<()>,
    ) {
        let me = self.clone();
        tasks.spawn(async move {
            info!(delivery = d.id, item = %d.item, channel = %d.channel, reason = reason.as_str(), "held: {note}");
            me.metrics.outcome(&d.channel, "held");
            let now = me.now();
            let held = me.store.hold(d.id, reason, &note, Actor::Daemon, now).await;
            if let Err(e) = held {
                error!(delivery = d.id, error = %e, "could not hold a delivery; recovery will take it up");
            }
            me.done_with(d.id);
        });
    }
}
