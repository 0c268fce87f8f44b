//! Which process plans, when several share one PostgreSQL store: the one
//! holding the store's leader row ([`Coordination`]). It syncs the plan on
//! start and on every content change, and forgets old history; the others
//! load and check the same content (they send with its channels) and send
//! what falls due. On SQLite the process is always the leader.
//!
//! The row lives [`TTL`] and is renewed every third of it; a leader that
//! dies is replaced within one `TTL`, and the new leader syncs the plan at
//! once, so a content change the old one missed is not lost.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::reload::Reloader;
use crate::channels::stopping::Stopping;
use crate::store::Store;

/// How long the leader row lasts without renewal.
pub const TTL: Duration = Duration::from_secs(30);

/// Whether this process leads; cheap to clone and read.
#[derive(Debug, Clone)]
pub struct Leading(Arc<AtomicBool>);

impl Leading {
    pub fn new(leading: bool) -> Leading {
        Leading(Arc::new(AtomicBool::new(leading)))
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Sets it; says whether it changed.
    fn set(&self, leading: bool) -> bool {
        self.0.swap(leading, Ordering::SeqCst) != leading
    }
}

/// This machine's clock plus the store's skew: processes on several
/// machines judge leases and due times by one clock, the database's.
#[derive(Debug, Default)]
pub struct StoreClock {
    skew_ms: AtomicI64,
}

impl StoreClock {
    pub async fn measure(&self, store: &dyn Store) {
        match store.clock_skew().await {
            Ok(skew) => {
                let ms = skew.num_milliseconds();
                if ms.abs() > 1000 {
                    warn!(skew_ms = ms, "this machine's clock differs from the database's; crier uses the database's");
                }
                self.skew_ms.store(ms, Ordering::SeqCst);
            }
            Err(e) => {
                warn!(error = %e, "cannot read the database's clock; keeping the last reading")
            }
        }
    }
}

impl crier_schedule::Clock for StoreClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::TimeDelta::milliseconds(self.skew_ms.load(Ordering::SeqCst))
    }
}

/// Claims the role once, at start, before the first plan sync.
pub async fn claim(store: &dyn Store, owner: &str) -> Leading {
    let leading = store.lead(owner, TTL).await.unwrap_or_else(|e| {
        warn!(error = %e, "cannot claim the leader's role; sending only, for now");
        false
    });
    if store.shared() {
        match leading {
            true => info!(owner, "this process leads: it plans"),
            false => info!(owner, "another process leads: this one sends"),
        }
    }
    Leading::new(leading)
}

/// Renews or claims the role every third of [`TTL`] until the daemon
/// stops ([`resign`] gives it up). On becoming the leader, syncs the plan.
pub async fn keep(
    store: Arc<dyn Store>,
    owner: String,
    leading: Leading,
    clock: Option<Arc<StoreClock>>,
    reloader: Arc<Reloader>,
    stopping: Stopping,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TTL / 3) => {}
            _ = stopping.wait() => break,
        }
        if stopping.is_set() {
            break;
        }
        if let Some(clock) = &clock {
            clock.measure(store.as_ref()).await;
        }
        let now = match store.lead(&owner, TTL).await {
            Ok(v) => v,
            Err(e) => {
                warn!(error = %e, "cannot renew the leader's role; another process may take it");
                false
            }
        };
        if leading.set(now) {
            if now {
                info!(owner, "this process now leads: syncing the plan");
                reloader.reload("this process became the leader").await;
            } else {
                warn!(owner, "another process leads now: this one only sends");
            }
        }
    }
}

/// Gives the role up if this process holds it (the daemon is stopping).
pub async fn resign(store: &dyn Store, owner: &str, leading: &Leading) {
    if leading.set(false) {
        if let Err(e) = store.resign(owner).await {
            warn!(error = %e, "could not give up the leader's role; another process takes it when it lapses");
        }
    }
}
