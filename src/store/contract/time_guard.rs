//! Times the store refuses: nothing it records may be a sentinel no clock
//! could read.

use chrono::{DateTime, Utc};

use super::{at, find, ids, lease_one, planned, LEASE};
use crate::delivery::{Actor, HoldReason, Receipt, State};
use crate::store::{QueueFilter, Store, StoreError};

/// Every time the store records must be one a clock could read: a
/// sentinel such as `DateTime::MAX_UTC` (year 262142) is refused, not
/// written into the queue and its history.
pub async fn times_that_cannot_be_clock_readings_are_refused(store: &dyn Store) {
    let end = DateTime::<Utc>::MAX_UTC;
    let is_bad_time = |r: Result<(), StoreError>| matches!(r, Err(StoreError::BadTime { .. }));
    assert!(matches!(
        store
            .sync_plan(&[planned("d", "news", "at", 0, "t")], end)
            .await,
        Err(StoreError::BadTime { .. })
    ));
    assert!(store
        .list(&QueueFilter::default())
        .await
        .unwrap()
        .is_empty());
    store
        .sync_plan(&[planned("d", "news", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = find(store, "d", "news").await.id;
    assert!(matches!(
        store.lease_due(end, 1, LEASE).await,
        Err(StoreError::BadTime { .. })
    ));
    assert!(is_bad_time(
        store
            .hold(id, HoldReason::Paused, "paused", Actor::Daemon, end)
            .await
    ));
    assert!(is_bad_time(
        store.set_paused(None, true, Actor::cli(), end).await
    ));
    lease_one(store, id, at(1)).await;
    // Reading with the end of time is fine: it takes every lease.
    assert_eq!(ids(&store.expired_leases(end).await.unwrap()), vec![id]);
    assert!(is_bad_time(store.release(id, "recovered", end).await));
    assert!(is_bad_time(store.mark_request_started(id, end).await));
    store.mark_request_started(id, at(1)).await.unwrap();
    assert!(is_bad_time(
        store
            .record_sent(id, &Receipt::default(), end, "sent")
            .await
    ));
    assert!(is_bad_time(
        store.release_reconciled(id, "resumed", end).await
    ));
    let d = store.get(id).await.unwrap().unwrap();
    assert_eq!((d.state, d.sent_at), (State::InFlight, None));
    let err = store
        .record_failed(id, "refused", end)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("262142"), "the error names the time: {err}");
    assert!(store
        .history(id)
        .await
        .unwrap()
        .iter()
        .all(|t| t.at < at(10)));
}
