//! Which process plans, when several share one PostgreSQL store: the one
//! holding the store's leader row ([`Coordination`]). It syncs the plan on
//! start and on every content change, and forgets old history; the others
//! load and check the same content (they send with its channels) and send
//! what falls due. On SQLite the process is always the leader.
//!
//! The row lives [`TTL`] and is renewed every third of it; a leader that
//! dies is replaced within one `TTL`, and the new leader syncs the plan at
//! once, so a content change the old one missed is not lost. No loop runs
//! on a store of its own ([`spawn_keeper`]).

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

/// Starts [`keep`] when other processes may share the store. On a store
/// of its own the process leads for its whole life (the data folder's lock
/// keeps any other out), so there is no role to renew and nothing wakes
/// every few seconds for it: `None`.
pub fn spawn_keeper(
    store: Arc<dyn Store>,
    owner: String,
    leading: Leading,
    clock: Option<Arc<StoreClock>>,
    reloader: Arc<Reloader>,
    stopping: Stopping,
) -> Option<tokio::task::JoinHandle<()>> {
    if !store.shared() {
        return None;
    }
    let keeper = keep(store, owner, leading, clock, reloader, stopping);
    Some(tokio::spawn(keeper))
}

/// Renews or claims the role every third of [`TTL`] until the daemon
/// stops ([`resign`] gives it up). On becoming the leader, syncs the plan.
async fn keep(
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::RwLock;

    use tokio::sync::{watch, Notify};

    use super::*;
    use crate::store::sqlite::SqliteStore;

    /// A reloader of the shipped example on `store`.
    fn reloader(store: Arc<dyn Store>, leading: &Leading) -> Arc<Reloader> {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("channels.toml");
        let checked = super::super::reload::load_checked(&config).expect("the example checks");
        Arc::new(Reloader {
            leading: leading.clone(),
            config,
            workspace: Arc::new(RwLock::new(Arc::new(checked.into_workspace()))),
            store,
            clock: Arc::new(crier_schedule::SystemClock),
            wake: Arc::new(Notify::new()),
        })
    }

    /// A process with a store of its own always leads: no loop wakes every
    /// few seconds to renew a role nobody else can take.
    #[tokio::test]
    async fn a_store_of_its_own_has_no_leader_loop() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
        let leading = claim(store.as_ref(), "me").await;
        assert!(leading.get());
        let reloader = reloader(store.clone(), &leading);
        let (_stop, stop) = watch::channel(false);
        let stopping = Stopping::new(stop);
        let keeper = spawn_keeper(store, "me".into(), leading, None, reloader, stopping);
        assert!(keeper.is_none(), "a leader loop was started on SQLite");
    }

    /// On a shared store the loop runs, and ends when the daemon stops.
    #[tokio::test]
    async fn a_shared_store_keeps_the_role_until_the_stop() {
        let Some((store, _schema)) = crate::store::postgres::testing::fresh().await else {
            return;
        };
        let store: Arc<dyn Store> = Arc::new(store);
        let leading = claim(store.as_ref(), "me").await;
        assert!(leading.get(), "the first process on a store leads");
        let reloader = reloader(store.clone(), &leading);
        let (stop, rx) = watch::channel(false);
        let stopping = Stopping::new(rx);
        let keeper = spawn_keeper(store, "me".into(), leading, None, reloader, stopping);
        let keeper = keeper.expect("no leader loop on a shared store");
        stop.send(true).unwrap();
        keeper.await.unwrap();
    }
}
