//! Leasing and recovery: who gets a due delivery, when the daemon wakes, and
//! which leases a dead process left behind.

use std::collections::HashSet;
use std::sync::Arc;

use super::{at, find, ids, is_wrong_state, lease_one, planned, state_of, LEASE};
use crate::delivery::{Actor, HoldReason, Planned, Receipt, State};
use crate::store::{QueueFilter, Store, StoreError};

pub async fn next_wakeup_is_earliest(store: &dyn Store) {
    assert_eq!(store.next_wakeup().await.unwrap(), None);
    let plan = vec![
        planned("p", "news", "at", 30, "t"),
        planned("r", "news", "at", 0, "t"),
        planned("l", "news", "at", 1, "t"),
        planned("h", "news", "at", 2, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    assert_eq!(store.next_wakeup().await.unwrap(), Some(at(0)));
    let h = find(store, "h", "news").await.id;
    store
        .hold(h, HoldReason::Paused, "paused", Actor::Daemon, at(0))
        .await
        .unwrap();

    let r = lease_one(store, find(store, "r", "news").await.id, at(0)).await;
    store
        .record_retry(r.id, at(20), "timeout", at(0))
        .await
        .unwrap();
    assert_eq!(store.next_wakeup().await.unwrap(), Some(at(1)));
    // Lease from minute 1 for five minutes: expiry at minute 6.
    lease_one(store, find(store, "l", "news").await.id, at(1)).await;
    assert_eq!(store.next_wakeup().await.unwrap(), Some(at(6)));
}

pub async fn lease_earliest_first_with_limit(store: &dyn Store) {
    let plan = vec![
        planned("d1", "news", "at", 30, "t"),
        planned("d2", "news", "at", 10, "t"),
        planned("d3", "news", "at", 20, "t"),
        planned("d4", "news", "at", 100, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let d = |name: &'static str| async move { find(store, name, "news").await.id };
    let (d1, d2, d3) = (d("d1").await, d("d2").await, d("d3").await);

    assert!(store.lease_due(at(50), 0, LEASE).await.unwrap().is_empty());
    let first = store.lease_due(at(50), 2, LEASE).await.unwrap();
    assert_eq!(ids(&first), vec![d2, d3]);
    for leased in &first {
        assert_eq!(leased.state, State::InFlight);
        assert_eq!(leased.attempts, 1);
        assert_eq!(leased.lease_expires_at, Some(at(55)));
        assert_eq!(leased.request_started_at, None);
        assert_eq!(store.get(leased.id).await.unwrap().as_ref(), Some(leased));
    }
    assert_eq!(
        ids(&store.lease_due(at(50), 10, LEASE).await.unwrap()),
        vec![d1]
    );
    assert!(store.lease_due(at(50), 10, LEASE).await.unwrap().is_empty());
    let log = store.history(d2).await.unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        (last.from, last.to, last.actor.clone()),
        (Some(State::Planned), State::InFlight, Actor::Daemon)
    );
}

pub async fn lease_retry_due_by_next_attempt_at(store: &dyn Store) {
    store
        .sync_plan(&[planned("r", "news", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let r = find(store, "r", "news").await.id;
    lease_one(store, r, at(1)).await;
    store.mark_request_started(r, at(1)).await.unwrap();
    store
        .record_retry(r, at(30), "503 from server", at(2))
        .await
        .unwrap();
    let d = store.get(r).await.unwrap().unwrap();
    assert_eq!((d.state, d.attempts), (State::Retrying, 1));
    assert_eq!(d.next_attempt_at, Some(at(30)));
    assert_eq!(d.last_error.as_deref(), Some("503 from server"));
    assert_eq!(d.lease_expires_at, None);

    store
        .sync_plan(
            &[
                planned("r", "news", "at", 0, "t"),
                planned("p", "news", "at", 25, "t"),
            ],
            at(3),
        )
        .await
        .unwrap();
    let p = find(store, "p", "news").await.id;
    // Due at minute 0, but a retry waits for its next attempt.
    assert!(store.lease_due(at(24), 10, LEASE).await.unwrap().is_empty());
    let leased = store.lease_due(at(40), 10, LEASE).await.unwrap();
    assert_eq!(ids(&leased), vec![p, r]);
    let again = &leased[1];
    assert_eq!(
        (again.state, again.attempts, again.request_started_at),
        (State::InFlight, 2, None)
    );
    let last = store.history(r).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.from, last.to),
        (Some(State::Retrying), State::InFlight)
    );
}

/// Two handles (two processes, or one store twice) lease concurrently:
/// every delivery goes to exactly one of them, once.
pub async fn lease_disjoint_concurrent(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let plan: Vec<Planned> = (0..300)
        .map(|i| planned(&format!("item{i:03}"), "news", "at", i % 17, "t"))
        .collect();
    a.sync_plan(&plan, at(0)).await.unwrap();
    let drain = |store: Arc<dyn Store>| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = store.lease_due(at(60), 7, LEASE).await.unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch);
            }
        })
    };
    let (ta, tb) = (drain(a.clone()), drain(b));
    let (got_a, got_b) = (ta.await.unwrap(), tb.await.unwrap());
    let set_a: HashSet<i64> = got_a.iter().map(|d| d.id).collect();
    let set_b: HashSet<i64> = got_b.iter().map(|d| d.id).collect();
    assert_eq!(set_a.len(), got_a.len());
    assert_eq!(set_b.len(), got_b.len());
    assert!(set_a.is_disjoint(&set_b));
    assert_eq!(set_a.len() + set_b.len(), plan.len());
    assert!(got_a.iter().chain(&got_b).all(|d| d.attempts == 1));
    let in_flight = QueueFilter {
        state: Some(State::InFlight),
        ..QueueFilter::default()
    };
    assert_eq!(a.list(&in_flight).await.unwrap().len(), plan.len());
}

pub async fn expired_leases_lists_lapsed(store: &dyn Store) {
    store
        .sync_plan(&[planned("d1", "news", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let d1 = lease_one(store, find(store, "d1", "news").await.id, at(1))
        .await
        .id;
    store
        .sync_plan(
            &[
                planned("d1", "news", "at", 0, "t"),
                planned("d2", "news", "at", 2, "t"),
            ],
            at(2),
        )
        .await
        .unwrap();
    let d2 = lease_one(store, find(store, "d2", "news").await.id, at(3))
        .await
        .id;
    assert!(store.expired_leases(at(5)).await.unwrap().is_empty());
    assert_eq!(ids(&store.expired_leases(at(6)).await.unwrap()), vec![d1]);
    assert_eq!(
        ids(&store.expired_leases(at(10)).await.unwrap()),
        vec![d1, d2]
    );
    store
        .record_sent(d1, &Receipt::default(), at(10), "posted")
        .await
        .unwrap();
    assert_eq!(ids(&store.expired_leases(at(10)).await.unwrap()), vec![d2]);
}

pub async fn mark_request_started_needs_live_lease(store: &dyn Store) {
    store
        .sync_plan(&[planned("d", "news", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = find(store, "d", "news").await.id;
    assert!(is_wrong_state(store.mark_request_started(id, at(1)).await));
    assert!(matches!(
        store.mark_request_started(9999, at(1)).await,
        Err(StoreError::NotFound(9999))
    ));
    lease_one(store, id, at(1)).await;
    store.mark_request_started(id, at(2)).await.unwrap();
    assert_eq!(
        store.get(id).await.unwrap().unwrap().request_started_at,
        Some(at(2))
    );
    // The request may have left: giving the lease back could post twice.
    assert!(is_wrong_state(
        store.release(id, "shutting down", at(3)).await
    ));
    // A worker whose lease has run out must not start a request.
    assert!(is_wrong_state(store.mark_request_started(id, at(6)).await));
    assert_eq!(state_of(store, id).await, State::InFlight);
}
