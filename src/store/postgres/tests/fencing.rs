//! Completions fenced by lease owner: two stores on one schema (two
//! processes). A leases; its lease lapses; B recovers the delivery and
//! leases it again. A, late, must not record over B's live lease, nor may a
//! recovery that listed the lease before B took it hold or release it.

use super::testing::{self, Schema};
use super::PgStore;
use crate::delivery::{Actor, HoldReason, Receipt, State};
use crate::store::contract::{self, at, planned, LEASE};
use crate::store::{Store, StoreError};

/// Two processes on one schema, and the delivery A leased at minute 1
/// (lapsed at 6) that B gave back and leased again at minute 7 (live
/// until 12).
async fn taken_over() -> Option<(PgStore, PgStore, i64, Schema)> {
    let (a, schema) = testing::fresh().await?;
    let b = PgStore::connect_with(&schema.url, Some(&schema.name))
        .await
        .unwrap();
    a.sync_plan(&[planned("d", "news", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = only_lease(&a, 1).await;
    assert_eq!(a.expired_leases(at(7)).await.unwrap()[0].id, id);
    b.release(id, "lease expired before any request was made", at(7))
        .await
        .unwrap();
    assert_eq!(only_lease(&b, 7).await, id);
    Some((a, b, id, schema))
}

async fn only_lease(store: &PgStore, minute: i64) -> i64 {
    let leased = store.lease_due(at(minute), 1, LEASE).await.unwrap();
    assert_eq!(leased.len(), 1, "{leased:?}");
    leased[0].id
}

fn refused(r: Result<impl std::fmt::Debug, StoreError>) {
    assert!(matches!(r, Err(StoreError::WrongState { .. })), "{r:?}");
}

#[tokio::test]
async fn a_process_whose_lease_was_taken_over_cannot_record_an_outcome() {
    let Some((a, b, id, _schema)) = taken_over().await else {
        return;
    };
    let as_b_leased = b.get(id).await.unwrap();
    refused(
        a.record_sent(id, &Receipt::default(), at(8), "posted")
            .await,
    );
    refused(a.record_retry(id, at(20), "timeout", at(8)).await);
    refused(a.record_failed(id, "refused", at(8)).await);
    refused(a.record_stopped(id, "stopping", at(8)).await);
    refused(a.release_reconciled(id, "resumes", at(8)).await);
    assert_eq!(b.get(id).await.unwrap(), as_b_leased);
    let receipt = Receipt {
        remote_id: Some("b-post".into()),
        ..Receipt::default()
    };
    b.record_sent(id, &receipt, at(8), "posted").await.unwrap();
    let d = b.get(id).await.unwrap().unwrap();
    assert_eq!(
        (d.state, d.remote_id.as_deref()),
        (State::Sent, Some("b-post"))
    );
}

#[tokio::test]
async fn a_process_whose_lease_was_taken_over_cannot_mark_or_renew_it() {
    let Some((a, b, id, _schema)) = taken_over().await else {
        return;
    };
    refused(a.mark_request_started(id, at(8)).await);
    assert!(a
        .mark_requests_started(&[id], at(8))
        .await
        .unwrap()
        .is_empty());
    refused(a.renew_lease(id, at(30), at(8)).await);
    let d = b.get(id).await.unwrap().unwrap();
    assert_eq!(
        (d.request_started_at, d.lease_expires_at),
        (None, Some(at(12)))
    );
    assert_eq!(b.mark_requests_started(&[id], at(8)).await.unwrap(), [id]);
    b.mark_request_started(id, at(9)).await.unwrap();
    b.renew_lease(id, at(30), at(9)).await.unwrap();
    let d = b.get(id).await.unwrap().unwrap();
    assert_eq!(
        (d.request_started_at, d.lease_expires_at),
        (Some(at(9)), Some(at(30)))
    );
}

/// A recovery lists lapsed leases, then acts: by then another process may
/// have recovered and leased the delivery again.
#[tokio::test]
async fn a_stale_recovery_cannot_hold_or_release_a_live_lease() {
    let Some((a, b, id, _schema)) = taken_over().await else {
        return;
    };
    let note = "the process stopped while this was being sent";
    let stale_hold = a
        .hold(id, HoldReason::Uncertain, note, Actor::Daemon, at(8))
        .await;
    refused(stale_hold);
    refused(a.release(id, "lease expired", at(8)).await);
    let d = b.get(id).await.unwrap().unwrap();
    assert_eq!(
        (d.state, d.lease_expires_at),
        (State::InFlight, Some(at(12)))
    );
    b.hold(
        id,
        HoldReason::Credentials,
        "no token",
        Actor::Daemon,
        at(8),
    )
    .await
    .unwrap();
    let d = b.get(id).await.unwrap().unwrap();
    assert_eq!(
        (d.state, d.hold_reason),
        (State::Held, Some(HoldReason::Credentials))
    );
}

/// Once B's lease lapses in turn, B is presumed dead: A recovers it through
/// the same calls.
#[tokio::test]
async fn a_lease_that_lapsed_again_is_recovered_by_the_other_process() {
    let Some((a, b, id, _schema)) = taken_over().await else {
        return;
    };
    b.mark_request_started(id, at(8)).await.unwrap();
    assert_eq!(a.expired_leases(at(12)).await.unwrap()[0].id, id);
    a.record_sent(id, &Receipt::default(), at(13), "confirmed")
        .await
        .unwrap();
    assert_eq!(a.get(id).await.unwrap().unwrap().state, State::Sent);
}

/// What every backend does (the contract): a process started after
/// another's leases lapsed recovers them.
#[tokio::test]
async fn a_later_process_recovers_lapsed_leases() {
    let Some((first, schema)) = testing::fresh().await else {
        return;
    };
    let later = PgStore::connect_with(&schema.url, Some(&schema.name))
        .await
        .unwrap();
    contract::a_later_process_recovers_lapsed_leases(&first, &later).await;
}
