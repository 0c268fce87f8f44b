//! Who may act on a lease: its holder while it is live; once it lapsed, a
//! later process recovering it, through the same calls. (That a process
//! cannot act on another live process's lease is PostgreSQL's alone: a
//! SQLite file has one process, and its tests are in `postgres/tests`.)

use super::{at, find, is_wrong_state, lease_one, planned, state_of, LEASE};
use crate::delivery::{Actor, HoldReason, Receipt, State};
use crate::store::Store;

pub async fn renew_extends_only_a_live_lease(store: &dyn Store) {
    store
        .sync_plan(&[planned("d", "news", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = find(store, "d", "news").await.id;
    assert!(is_wrong_state(store.renew_lease(id, at(9), at(0)).await));
    // Leased at minute 1 until 6, renewed at 5 until 10.
    lease_one(store, id, at(1)).await;
    store.renew_lease(id, at(10), at(5)).await.unwrap();
    let d = store.get(id).await.unwrap().unwrap();
    assert_eq!(d.lease_expires_at, Some(at(10)));
    assert!(store.expired_leases(at(9)).await.unwrap().is_empty());
    // A lapsed lease may have been taken over: it is not extended.
    assert!(is_wrong_state(store.renew_lease(id, at(20), at(10)).await));
    assert!(is_wrong_state(store.mark_request_started(id, at(10)).await));
    assert!(store
        .mark_requests_started(&[id], at(10))
        .await
        .unwrap()
        .is_empty());
    let d = store.get(id).await.unwrap().unwrap();
    assert_eq!(
        (d.lease_expires_at, d.request_started_at),
        (Some(at(10)), None)
    );
}

/// `first` leases four deliveries and starts the requests of three, then
/// stops; `later`, a process started after the leases lapsed, recovers
/// each the way `dispatch::recover` does. On one store both may be the
/// same handle.
pub async fn a_later_process_recovers_lapsed_leases(first: &dyn Store, later: &dyn Store) {
    let names = ["unsent", "posted", "resumable", "unknown"];
    let plan: Vec<_> = names
        .iter()
        .map(|n| planned(n, "news", "at", 0, "t"))
        .collect();
    first.sync_plan(&plan, at(0)).await.unwrap();
    let leased = first.lease_due(at(1), 10, LEASE).await.unwrap();
    assert_eq!(leased.len(), names.len());
    let mut id = Vec::new();
    for name in names {
        id.push(find(first, name, "news").await.id);
    }
    assert_eq!(
        first.mark_requests_started(&id[1..], at(2)).await.unwrap(),
        &id[1..]
    );

    let lapsed = later.expired_leases(at(7)).await.unwrap();
    assert_eq!(lapsed.len(), names.len());
    later.release(id[0], "lease expired", at(7)).await.unwrap();
    later
        .record_sent(id[1], &Receipt::default(), at(7), "confirmed")
        .await
        .unwrap();
    later
        .release_reconciled(id[2], "resumes", at(7))
        .await
        .unwrap();
    later
        .hold(
            id[3],
            HoldReason::Uncertain,
            "may have posted",
            Actor::Daemon,
            at(7),
        )
        .await
        .unwrap();
    let states = [State::Planned, State::Sent, State::Retrying, State::Held];
    for (id, state) in id.iter().zip(states) {
        assert_eq!(state_of(later, *id).await, state, "delivery {id}");
    }
    // What went back to the queue is the later process's to send.
    let again = lease_one(later, id[0], at(8)).await;
    assert_eq!(again.attempts, 1);
    later.mark_request_started(id[0], at(8)).await.unwrap();
    later.renew_lease(id[0], at(20), at(9)).await.unwrap();
    later
        .record_sent(id[0], &Receipt::default(), at(10), "posted")
        .await
        .unwrap();
    assert_eq!(state_of(first, id[0]).await, State::Sent);
}
