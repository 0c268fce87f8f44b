//! The dispatcher's hot path in batches: leasing what falls due in the
//! next moment, and marking a burst's requests started at once.

use chrono::DateTime;

use super::{at, find, ids, planned, state_of, LEASE};
use crate::delivery::{Actor, State};
use crate::store::{Store, StoreError};

pub async fn lease_due_by_takes_what_falls_due_soon(store: &dyn Store) {
    let plan = vec![
        planned("retry", "news", "at", -1, "t"),
        planned("now", "news", "at", 0, "t"),
        planned("soon", "news", "at", 1, "t"),
        planned("later", "news", "at", 3, "t"),
    ];
    store.sync_plan(&plan, at(-1)).await.unwrap();
    let d = |name: &'static str| async move { find(store, name, "news").await.id };
    let (retry, now, soon) = (d("retry").await, d("now").await, d("soon").await);
    let later = d("later").await;
    // A retry counts by its next attempt: due at minute 2 here.
    assert_eq!(
        ids(&store.lease_due(at(-1), 5, LEASE).await.unwrap()),
        vec![retry]
    );
    store.mark_request_started(retry, at(-1)).await.unwrap();
    store
        .record_retry(retry, at(2), "503", at(-1))
        .await
        .unwrap();

    // A `due_by` before `now` counts as `now`.
    let leased = store.lease_due_by(at(0), at(-5), 10, LEASE).await.unwrap();
    assert_eq!(ids(&leased), vec![now]);
    let leased = store.lease_due_by(at(0), at(2), 10, LEASE).await.unwrap();
    assert_eq!(
        ids(&leased),
        vec![soon, retry],
        "earliest first, a retry by its next attempt"
    );
    for d in &leased {
        assert_eq!(d.state, State::InFlight);
        // The lease runs from `now`, not from the due time.
        assert_eq!(d.lease_expires_at, Some(at(5)));
        let last = store.history(d.id).await.unwrap().pop().unwrap();
        assert_eq!(
            (last.to, last.actor, last.at),
            (State::InFlight, Actor::Daemon, at(0))
        );
    }
    assert_eq!(state_of(store, later).await, State::Planned);
    let last = store.history(soon).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.from, last.reason.as_str()),
        (Some(State::Planned), "leased (attempt 1)")
    );
    let last = store.history(retry).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.from, last.reason.as_str()),
        (Some(State::Retrying), "leased (attempt 2)")
    );
}

pub async fn mark_requests_started_marks_the_live_leases_at_once(store: &dyn Store) {
    let plan = vec![
        planned("early", "news", "at", 0, "t"),
        planned("a", "news", "at", 2, "t"),
        planned("b", "news", "at", 2, "t"),
        planned("planned", "news", "at", 10, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let early = store.lease_due(at(0), 10, LEASE).await.unwrap()[0].id; // expires at 5
    let leased = store.lease_due(at(2), 10, LEASE).await.unwrap(); // expire at 7
    let (a, b) = (leased[0].id, leased[1].id);
    let planned_id = find(store, "planned", "news").await.id;

    assert!(store
        .mark_requests_started(&[], at(6))
        .await
        .unwrap()
        .is_empty());
    let asked = [b, planned_id, early, 9999, a];
    let marked = store.mark_requests_started(&asked, at(6)).await.unwrap();
    assert_eq!(marked, vec![b, a], "the live leases, in the order asked");
    for id in [a, b] {
        let d = store.get(id).await.unwrap().unwrap();
        assert_eq!(
            (d.state, d.request_started_at),
            (State::InFlight, Some(at(6)))
        );
        let last = store.history(id).await.unwrap().pop().unwrap();
        assert_eq!(
            (last.from, last.to, last.reason.as_str()),
            (Some(State::InFlight), State::InFlight, "request started")
        );
    }
    // Those left out are unchanged: a lapsed lease must not send.
    assert_eq!(
        store.get(early).await.unwrap().unwrap().request_started_at,
        None
    );
    assert_eq!(state_of(store, planned_id).await, State::Planned);
    let last = store.history(early).await.unwrap().pop().unwrap();
    assert_eq!(last.reason, "leased (attempt 1)");
    // Marked: the lease can no longer be given back.
    assert!(matches!(
        store.release(a, "stopping", at(6)).await,
        Err(StoreError::WrongState { .. })
    ));
    let never = DateTime::<chrono::Utc>::MAX_UTC;
    assert!(matches!(
        store.mark_requests_started(&[a], never).await,
        Err(StoreError::BadTime { .. })
    ));
}
