//! What a send attempt ends in (sent, retrying, failed, held, released), and
//! which states each outcome may leave.

use super::{at, find, ids, is_wrong_state, lease_one, planned, state_of, LEASE};
use crate::delivery::{Actor, HoldReason, Receipt, State};
use crate::store::{Store, StoreError};

pub async fn record_sent_keeps_receipt(store: &dyn Store) {
    store
        .sync_plan(&[planned("d", "news", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = find(store, "d", "news").await.id;
    assert!(is_wrong_state(
        store
            .record_sent(id, &Receipt::default(), at(1), "posted")
            .await
    ));
    lease_one(store, id, at(1)).await;
    store.mark_request_started(id, at(1)).await.unwrap();
    let receipt = Receipt {
        remote_id: Some("1234".into()),
        remote_url: Some("https://social.example/@lscp/1234".into()),
    };
    store
        .record_sent(id, &receipt, at(2), "posted")
        .await
        .unwrap();
    let d = store.get(id).await.unwrap().unwrap();
    assert_eq!(d.state, State::Sent);
    assert_eq!(d.sent_at, Some(at(2)));
    assert_eq!(d.remote_id.as_deref(), Some("1234"));
    assert_eq!(d.remote_url, receipt.remote_url);
    assert_eq!(d.lease_expires_at, None);
    assert_eq!(
        store.history(id).await.unwrap().last().unwrap().reason,
        "posted"
    );
    assert!(is_wrong_state(
        store.record_sent(id, &receipt, at(3), "again").await
    ));
    assert!(is_wrong_state(store.record_failed(id, "late", at(3)).await));
    assert!(is_wrong_state(
        store
            .hold(id, HoldReason::Paused, "", Actor::cli(), at(3))
            .await
    ));
    assert!(matches!(
        store.record_sent(9999, &receipt, at(3), "posted").await,
        Err(StoreError::NotFound(9999))
    ));
}

pub async fn record_sent_after_uncertain_hold(store: &dyn Store) {
    let plan = [
        planned("u", "news", "at", 0, "t"),
        planned("a", "news", "at", 0, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let (u, a) = (
        find(store, "u", "news").await.id,
        find(store, "a", "news").await.id,
    );
    store.lease_due(at(1), 2, LEASE).await.unwrap();
    store.mark_request_started(u, at(1)).await.unwrap();
    store
        .hold(
            u,
            HoldReason::Uncertain,
            "lease expired after request",
            Actor::Daemon,
            at(7),
        )
        .await
        .unwrap();
    // Reconciliation found the post: it is sent, not resumable.
    store
        .record_sent(u, &Receipt::default(), at(8), "found on the network")
        .await
        .unwrap();
    assert_eq!(state_of(store, u).await, State::Sent);

    store
        .hold(
            a,
            HoldReason::Approval,
            "needs sign-off",
            Actor::Daemon,
            at(1),
        )
        .await
        .unwrap();
    assert!(is_wrong_state(
        store
            .record_sent(a, &Receipt::default(), at(2), "posted")
            .await
    ));
}

pub async fn record_retry_and_failed(store: &dyn Store) {
    let plan = [
        planned("r", "news", "at", 0, "t"),
        planned("f", "news", "at", 1, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let (r, f) = (
        find(store, "r", "news").await.id,
        find(store, "f", "news").await.id,
    );
    assert!(is_wrong_state(
        store.record_retry(r, at(5), "too early", at(0)).await
    ));
    assert!(is_wrong_state(
        store.record_failed(f, "too early", at(0)).await
    ));
    store.lease_due(at(2), 2, LEASE).await.unwrap();
    store
        .record_retry(r, at(5), "429 rate limited", at(2))
        .await
        .unwrap();
    store
        .record_failed(f, "401 credentials refused", at(2))
        .await
        .unwrap();
    let fd = store.get(f).await.unwrap().unwrap();
    assert_eq!((fd.state, fd.lease_expires_at), (State::Failed, None));
    assert_eq!(fd.last_error.as_deref(), Some("401 credentials refused"));
    let last = store.history(f).await.unwrap().pop().unwrap();
    assert_eq!((last.from, last.to), (Some(State::InFlight), State::Failed));
    assert_eq!(last.reason, "401 credentials refused");
    assert_eq!(state_of(store, r).await, State::Retrying);
}

pub async fn record_stopped_resumes_now_without_counting(store: &dyn Store) {
    store
        .sync_plan(&[planned("s", "news", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = find(store, "s", "news").await.id;
    let note = "stopped by shutdown; resumes with the 7 recipients left";
    assert!(is_wrong_state(store.record_stopped(id, note, at(1)).await));
    lease_one(store, id, at(1)).await;
    store.mark_request_started(id, at(1)).await.unwrap();
    store.record_stopped(id, note, at(2)).await.unwrap();
    let d = store.get(id).await.unwrap().unwrap();
    assert_eq!(
        (d.state, d.lease_expires_at, d.next_attempt_at, d.attempts),
        (State::Retrying, None, Some(at(2)), 0)
    );
    assert_eq!(d.last_error.as_deref(), Some(note));
    let last = store.history(id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.from, last.to),
        (Some(State::InFlight), State::Retrying)
    );
    assert_eq!((last.actor, last.reason.as_str()), (Actor::Daemon, note));
    // Due at once: the next start takes it up again.
    assert_eq!(
        ids(&store.lease_due(at(2), 1, LEASE).await.unwrap()),
        vec![id]
    );
}

/// A sent delivery has no error to show: the errors of earlier attempts
/// stay in its history.
pub async fn record_sent_clears_last_error(store: &dyn Store) {
    let plan = [
        planned("r", "news", "at", 0, "t"),
        planned("u", "news", "at", 0, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let (r, u) = (
        find(store, "r", "news").await.id,
        find(store, "u", "news").await.id,
    );
    store.lease_due(at(1), 2, LEASE).await.unwrap();
    store
        .record_retry(r, at(2), "503 service unavailable", at(1))
        .await
        .unwrap();
    store.mark_request_started(u, at(1)).await.unwrap();
    store
        .hold(
            u,
            HoldReason::Uncertain,
            "may have been posted",
            Actor::Daemon,
            at(1),
        )
        .await
        .unwrap();
    lease_one(store, r, at(3)).await;
    store.mark_request_started(r, at(3)).await.unwrap();
    store
        .record_sent(r, &Receipt::default(), at(4), "sent")
        .await
        .unwrap();
    // From held (uncertain): reconciliation found the post.
    store
        .record_sent(u, &Receipt::default(), at(4), "found on the network")
        .await
        .unwrap();
    for (id, old) in [(r, "503 service unavailable"), (u, "may have been posted")] {
        let d = store.get(id).await.unwrap().unwrap();
        assert_eq!((d.state, d.last_error.as_deref()), (State::Sent, None));
        assert!(
            store
                .history(id)
                .await
                .unwrap()
                .iter()
                .any(|t| t.reason.contains(old)),
            "the history keeps the old error"
        );
    }
}

pub async fn hold_and_release(store: &dyn Store) {
    let plan = [
        planned("h", "news", "at", 0, "t"),
        planned("l", "news", "at", 1, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let (h, l) = (
        find(store, "h", "news").await.id,
        find(store, "l", "news").await.id,
    );
    store
        .hold(
            h,
            HoldReason::Approval,
            "needs sign-off",
            Actor::cli(),
            at(0),
        )
        .await
        .unwrap();
    let held = store.get(h).await.unwrap().unwrap();
    assert_eq!(
        (held.state, held.hold_reason),
        (State::Held, Some(HoldReason::Approval))
    );
    assert_eq!(held.display_state(at(0)), "held:approval");
    let last = store.history(h).await.unwrap().pop().unwrap();
    assert_eq!((last.actor, last.to), (Actor::cli(), State::Held));
    assert!(last.reason.contains("approval") && last.reason.contains("needs sign-off"));
    // A held delivery is never leased.
    assert_eq!(
        ids(&store.lease_due(at(5), 10, LEASE).await.unwrap()),
        vec![l]
    );

    store
        .release(l, "shutting down before sending", at(5))
        .await
        .unwrap();
    let released = store.get(l).await.unwrap().unwrap();
    assert_eq!((released.state, released.attempts), (State::Planned, 0));
    assert_eq!(released.lease_expires_at, None);
    assert!(is_wrong_state(store.release(l, "again", at(5)).await));
    assert_eq!(lease_one(store, l, at(6)).await.attempts, 1);
    store
        .hold(
            l,
            HoldReason::Paused,
            "channel paused",
            Actor::Daemon,
            at(6),
        )
        .await
        .unwrap();
    let paused = store.get(l).await.unwrap().unwrap();
    assert_eq!((paused.state, paused.lease_expires_at), (State::Held, None));
    assert!(store.expired_leases(at(100)).await.unwrap().is_empty());
    assert!(matches!(
        store.release(9999, "no such delivery", at(6)).await,
        Err(StoreError::NotFound(9999))
    ));
}
