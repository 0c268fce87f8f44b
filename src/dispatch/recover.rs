//! Deliveries left in flight by a process that died.
//!
//! A lease that was never used for a request is simply given back. One
//! whose request may have left is asked about: the channel reconciles it
//! through its own idempotency mechanism, or it is held as `uncertain` for a
//! human — never blindly sent again.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::Dispatcher;
use crate::channels::{Job, Reconciled};
use crate::delivery::{Actor, HoldReason};
use crate::store::StoreError;

/// Recovers leases that expired at or before `leases_until` (at start-up,
/// the end of time: every lease left belongs to a dead process). What is
/// recorded about them carries the clock's time, never `leases_until`.
pub async fn expired(d: &Dispatcher, leases_until: DateTime<Utc>) -> Result<usize, StoreError> {
    let lost = d.store.expired_leases(leases_until).await?;
    recover_all(d, lost).await
}

/// Recovers `lost` as listed, leaving this process's own leases alone;
/// says how many it recovered.
pub(super) async fn recover_all(
    d: &Dispatcher,
    lost: Vec<crate::delivery::Delivery>,
) -> Result<usize, StoreError> {
    let mine = d.in_process.lock().expect("in-process lock").clone();
    let lost: Vec<_> = lost.into_iter().filter(|l| !mine.contains(&l.id)).collect();
    let mut recovered = 0;
    for delivery in &lost {
        match recover_one(d, delivery).await {
            Ok(()) => recovered += 1,
            // Several processes on one store see the same lapsed lease:
            // the first to act on it wins; the others find it changed.
            Err(StoreError::WrongState { .. }) => {
                info!(delivery = delivery.id, "another process recovered it first")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(recovered)
}

/// Gives back, reconciles or holds one delivery whose lease lapsed, as it
/// was when listed: [`StoreError::WrongState`] if it changed since.
async fn recover_one(
    d: &Dispatcher,
    delivery: &crate::delivery::Delivery,
) -> Result<(), StoreError> {
    if delivery.request_started_at.is_none() {
        info!(
            delivery = delivery.id,
            "lease expired before any request: back in the queue"
        );
        d.store
            .release(
                delivery.id,
                "lease expired before any request was made",
                d.now(),
            )
            .await?;
        return Ok(());
    }
    let ws = d.workspace();
    let publisher = ws.channel(&delivery.channel).map(|c| c.publisher());
    let verdict = match publisher {
        Some(p) => {
            let job = Job {
                delivery,
                variant: &delivery.variant,
            };
            p.reconcile(&job, &d.services).await
        }
        None => Reconciled::Unknown,
    };
    match verdict {
        Reconciled::Sent(receipt) => {
            info!(
                delivery = delivery.id,
                "interrupted request had been received: recorded as sent"
            );
            d.store
                .record_sent(
                    delivery.id,
                    &receipt,
                    d.now(),
                    "confirmed by the network after a restart",
                )
                .await?;
        }
        Reconciled::NotSent => {
            info!(
                delivery = delivery.id,
                "interrupted request never arrived: back in the queue"
            );
            // A lease never used for a request was handled above; this
            // one was, and the channel says resuming repeats nothing.
            d.store
                .release_reconciled(
                    delivery.id,
                    "interrupted mid-send; the channel resumes where it stopped",
                    d.now(),
                )
                .await?;
        }
        Reconciled::Unknown => {
            warn!(delivery = delivery.id, item = %delivery.item, channel = %delivery.channel, "interrupted mid-request: held as uncertain");
            d.store
                .hold(
                    delivery.id,
                    HoldReason::Uncertain,
                    "the process stopped while this was being sent; it may have been posted. Check the channel, then `crier retry` or `crier cancel`",
                    Actor::Daemon,
                    d.now(),
                )
                .await?;
        }
    }
    Ok(())
}
