//! The behaviour every [`Store`] backend must show, as plain async functions
//! over `&dyn Store`. A backend runs them with [`contract_tests!`], giving it
//! a function that makes a fresh, empty store (plus anything to keep alive).
//!
//! Times are fixed minutes after [`BASE`]; nothing sleeps.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::{Change, Paused, QueueFilter, Store, StoreError, SyncSummary};
use crate::delivery::{Actor, Delivery, HoldReason, Planned, Receipt, State};
use crate::variant::Variant;

/// Generates one `#[tokio::test]` per contract behaviour. `$make` is an
/// async fn returning `(store, guard)`; the guard lives as long as the test.
macro_rules! contract_tests {
    ($make:path) => {
        $crate::store::contract::contract_tests!(@each $make;
            sync_adds_updates_cancels,
            sync_never_touches_settled,
            sync_updates_retrying_and_held,
            sync_rejects_duplicate_keys,
            next_wakeup_is_earliest,
            lease_earliest_first_with_limit,
            lease_retry_due_by_next_attempt_at,
            expired_leases_lists_lapsed,
            mark_request_started_needs_live_lease,
            record_sent_keeps_receipt,
            record_sent_after_uncertain_hold,
            record_retry_and_failed,
            record_stopped_resumes_now_without_counting,
            hold_and_release,
            change_checks_state,
            pauses,
            counts_by_channel_and_state,
            history_in_order_with_actors,
            list_filters,
            channel_statuses,
            posted_parts_are_the_resume_point,
            record_sent_clears_last_error,
            sync_moves_overdue_held_into_the_future_back_to_planned,
            times_that_cannot_be_clock_readings_are_refused,
            confirmation_resends_are_limited,
        );
    };
    (@each $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, _guard) = $make().await;
                $crate::store::contract::$name(&store).await;
            }
        )*
    };
}
pub(crate) use contract_tests;

/// 2026-12-07 10:00 UTC, a Monday.
pub const BASE: i64 = 1_796_637_600;
pub const LEASE: Duration = Duration::from_secs(300);

/// `BASE` plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(BASE + minutes * 60, 0).unwrap()
}

/// A planned delivery whose fingerprint follows its text and due time.
pub fn planned(item: &str, channel: &str, occasion: &str, due: i64, text: &str) -> Planned {
    Planned {
        item: item.into(),
        channel: channel.into(),
        occasion: occasion.into(),
        due_at: at(due),
        variant: Variant::document(item, channel, "test", text.into()),
        fingerprint: format!("{text}@{due}"),
        requires_approval: false,
    }
}

fn summary(added: usize, updated: usize, cancelled: usize, unchanged: usize) -> SyncSummary {
    SyncSummary {
        added,
        updated,
        cancelled,
        unchanged,
    }
}

async fn find(store: &dyn Store, item: &str, channel: &str) -> Delivery {
    let filter = QueueFilter {
        item: Some(item.into()),
        channel: Some(channel.into()),
        ..QueueFilter::default()
    };
    let mut found = store.list(&filter).await.unwrap();
    assert_eq!(found.len(), 1, "{item}/{channel}: {found:?}");
    found.remove(0)
}

async fn state_of(store: &dyn Store, id: i64) -> State {
    store.get(id).await.unwrap().unwrap().state
}

fn ids(ds: &[Delivery]) -> Vec<i64> {
    ds.iter().map(|d| d.id).collect()
}

fn is_wrong_state(r: Result<impl std::fmt::Debug, StoreError>) -> bool {
    matches!(r, Err(StoreError::WrongState { .. }))
}

/// Leases exactly the delivery with id `id` (it must be the only one due at `now`).
async fn lease_one(store: &dyn Store, id: i64, now: DateTime<Utc>) -> Delivery {
    let leased = store.lease_due(now, 1, LEASE).await.unwrap();
    assert_eq!(ids(&leased), vec![id]);
    leased.into_iter().next().unwrap()
}

fn change(from: &[State], to: State, actor: Actor, reason: &str) -> Change {
    Change {
        from: from.to_vec(),
        to,
        hold_reason: None,
        due_at: None,
        approve: false,
        actor,
        reason: reason.into(),
    }
}

pub async fn sync_adds_updates_cancels(store: &dyn Store) {
    let v1 = vec![
        planned("a", "x", "at", 10, "hello"),
        planned("a", "y", "at", 10, "hi"),
        planned("b", "x", "at", 20, "bye"),
    ];
    assert_eq!(
        store.sync_plan(&v1, at(0)).await.unwrap(),
        summary(3, 0, 0, 0)
    );
    assert_eq!(
        store.sync_plan(&v1, at(1)).await.unwrap(),
        summary(0, 0, 0, 3)
    );

    let v2 = vec![
        planned("a", "x", "at", 15, "hello, edited"),
        planned("a", "y", "at", 10, "hi"),
        planned("c", "x", "at", 30, "new"),
    ];
    assert_eq!(
        store.sync_plan(&v2, at(2)).await.unwrap(),
        summary(1, 1, 1, 1)
    );

    let edited = find(store, "a", "x").await;
    assert_eq!(edited.state, State::Planned);
    assert_eq!(edited.due_at, at(15));
    assert_eq!(edited.variant.text, "hello, edited");
    assert_eq!(edited.fingerprint, "hello, edited@15");
    let log = store.history(edited.id).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!((log[0].from, log[0].to), (None, State::Planned));
    assert_eq!(log[1].reason, "content edited");

    let removed = find(store, "b", "x").await;
    assert_eq!(removed.state, State::Cancelled);
    let log = store.history(removed.id).await.unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        (last.from, last.to),
        (Some(State::Planned), State::Cancelled)
    );
    assert_eq!(
        (last.actor, last.reason.as_str()),
        (Actor::Daemon, "removed from content")
    );
    assert_eq!(last.at, at(2));

    assert_eq!(
        store.sync_plan(&v2, at(3)).await.unwrap(),
        summary(0, 0, 0, 3)
    );
    // Content that comes back does not revive a cancelled delivery: a
    // person does that with `change`.
    let mut v3 = v2.clone();
    v3.push(planned("b", "x", "at", 20, "bye"));
    assert_eq!(
        store.sync_plan(&v3, at(4)).await.unwrap(),
        summary(0, 0, 0, 4)
    );
    assert_eq!(state_of(store, removed.id).await, State::Cancelled);
}

pub async fn sync_never_touches_settled(store: &dyn Store) {
    let plan: Vec<Planned> = (1..=4)
        .map(|i| planned(&format!("i{i}"), "x", "at", i, "v1"))
        .collect();
    store.sync_plan(&plan, at(0)).await.unwrap();
    let leased = store.lease_due(at(3), 3, LEASE).await.unwrap();
    let [sent, failed, in_flight] = [leased[0].id, leased[1].id, leased[2].id];
    store
        .record_sent(sent, &Receipt::default(), at(3), "posted")
        .await
        .unwrap();
    store.record_failed(failed, "refused", at(3)).await.unwrap();
    let cancelled = find(store, "i4", "x").await.id;
    let cancel = change(
        &[State::Planned],
        State::Cancelled,
        Actor::Cli,
        "not needed",
    );
    store.change(cancelled, &cancel, at(3)).await.unwrap();
    let before: Vec<Delivery> = store.list(&QueueFilter::default()).await.unwrap();

    let edited: Vec<Planned> = (1..=4)
        .map(|i| planned(&format!("i{i}"), "x", "at", i + 100, "v2"))
        .collect();
    assert_eq!(
        store.sync_plan(&edited, at(4)).await.unwrap(),
        summary(0, 0, 0, 4)
    );
    assert_eq!(
        store.sync_plan(&[], at(5)).await.unwrap(),
        summary(0, 0, 0, 0)
    );

    assert_eq!(store.list(&QueueFilter::default()).await.unwrap(), before);
    for (id, state) in [
        (sent, State::Sent),
        (failed, State::Failed),
        (in_flight, State::InFlight),
        (cancelled, State::Cancelled),
    ] {
        assert_eq!(state_of(store, id).await, state);
    }
}

pub async fn sync_updates_retrying_and_held(store: &dyn Store) {
    let mut plan = vec![
        planned("r", "x", "at", 0, "v1"),
        planned("h", "x", "at", 50, "v1"),
    ];
    plan[1].requires_approval = true;
    store.sync_plan(&plan, at(0)).await.unwrap();
    let r = lease_one(store, find(store, "r", "x").await.id, at(1)).await;
    store
        .record_retry(r.id, at(10), "503", at(1))
        .await
        .unwrap();
    let h = find(store, "h", "x").await;
    store
        .hold(
            h.id,
            HoldReason::Approval,
            "needs sign-off",
            Actor::Daemon,
            at(1),
        )
        .await
        .unwrap();
    let mut approve = change(&[State::Held], State::Held, Actor::Cli, "approved");
    approve.approve = true;
    approve.hold_reason = Some(HoldReason::Approval);
    assert!(store.change(h.id, &approve, at(2)).await.unwrap().approved);

    let mut edited = vec![
        planned("r", "x", "at", 20, "v2"),
        planned("h", "x", "at", 60, "v2"),
    ];
    edited[1].requires_approval = true;
    assert_eq!(
        store.sync_plan(&edited, at(3)).await.unwrap(),
        summary(0, 2, 0, 0)
    );

    let r = store.get(r.id).await.unwrap().unwrap();
    assert_eq!((r.state, r.variant.text.as_str()), (State::Retrying, "v2"));
    // A retry does not go out before the (moved) due time.
    assert_eq!(r.next_attempt_at, Some(at(20)));
    let h = store.get(h.id).await.unwrap().unwrap();
    assert_eq!(
        (h.state, h.hold_reason),
        (State::Held, Some(HoldReason::Approval))
    );
    assert_eq!(h.due_at, at(60));
    assert!(
        !h.approved,
        "an approval must not carry over to edited content"
    );
}

pub async fn sync_rejects_duplicate_keys(store: &dyn Store) {
    let plan = vec![
        planned("a", "x", "at", 1, "one"),
        planned("a", "x", "at", 2, "two"),
    ];
    assert!(matches!(
        store.sync_plan(&plan, at(0)).await,
        Err(StoreError::Other(_))
    ));
    assert!(store
        .list(&QueueFilter::default())
        .await
        .unwrap()
        .is_empty());
}

pub async fn next_wakeup_is_earliest(store: &dyn Store) {
    assert_eq!(store.next_wakeup().await.unwrap(), None);
    let plan = vec![
        planned("p", "x", "at", 30, "t"),
        planned("r", "x", "at", 0, "t"),
        planned("l", "x", "at", 1, "t"),
        planned("h", "x", "at", 2, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    assert_eq!(store.next_wakeup().await.unwrap(), Some(at(0)));
    let h = find(store, "h", "x").await.id;
    store
        .hold(h, HoldReason::Paused, "paused", Actor::Daemon, at(0))
        .await
        .unwrap();

    let r = lease_one(store, find(store, "r", "x").await.id, at(0)).await;
    store
        .record_retry(r.id, at(20), "timeout", at(0))
        .await
        .unwrap();
    assert_eq!(store.next_wakeup().await.unwrap(), Some(at(1)));
    // Lease from minute 1 for five minutes: expiry at minute 6.
    lease_one(store, find(store, "l", "x").await.id, at(1)).await;
    assert_eq!(store.next_wakeup().await.unwrap(), Some(at(6)));
}

pub async fn lease_earliest_first_with_limit(store: &dyn Store) {
    let plan = vec![
        planned("d1", "x", "at", 30, "t"),
        planned("d2", "x", "at", 10, "t"),
        planned("d3", "x", "at", 20, "t"),
        planned("d4", "x", "at", 100, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let d = |name: &'static str| async move { find(store, name, "x").await.id };
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
        (last.from, last.to, last.actor),
        (Some(State::Planned), State::InFlight, Actor::Daemon)
    );
}

pub async fn lease_retry_due_by_next_attempt_at(store: &dyn Store) {
    store
        .sync_plan(&[planned("r", "x", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let r = find(store, "r", "x").await.id;
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
                planned("r", "x", "at", 0, "t"),
                planned("p", "x", "at", 25, "t"),
            ],
            at(3),
        )
        .await
        .unwrap();
    let p = find(store, "p", "x").await.id;
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
        .map(|i| planned(&format!("item{i:03}"), "x", "at", i % 17, "t"))
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
        .sync_plan(&[planned("d1", "x", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let d1 = lease_one(store, find(store, "d1", "x").await.id, at(1))
        .await
        .id;
    store
        .sync_plan(
            &[
                planned("d1", "x", "at", 0, "t"),
                planned("d2", "x", "at", 2, "t"),
            ],
            at(2),
        )
        .await
        .unwrap();
    let d2 = lease_one(store, find(store, "d2", "x").await.id, at(3))
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
        .sync_plan(&[planned("d", "x", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = find(store, "d", "x").await.id;
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

pub async fn record_sent_keeps_receipt(store: &dyn Store) {
    store
        .sync_plan(&[planned("d", "x", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = find(store, "d", "x").await.id;
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
            .hold(id, HoldReason::Paused, "", Actor::Cli, at(3))
            .await
    ));
    assert!(matches!(
        store.record_sent(9999, &receipt, at(3), "posted").await,
        Err(StoreError::NotFound(9999))
    ));
}

pub async fn record_sent_after_uncertain_hold(store: &dyn Store) {
    let plan = [
        planned("u", "x", "at", 0, "t"),
        planned("a", "x", "at", 0, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let (u, a) = (
        find(store, "u", "x").await.id,
        find(store, "a", "x").await.id,
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
        planned("r", "x", "at", 0, "t"),
        planned("f", "x", "at", 1, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let (r, f) = (
        find(store, "r", "x").await.id,
        find(store, "f", "x").await.id,
    );
    assert!(is_wrong_state(
        store.record_retry(r, at(5), "x", at(0)).await
    ));
    assert!(is_wrong_state(store.record_failed(f, "x", at(0)).await));
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
        .sync_plan(&[planned("s", "x", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = find(store, "s", "x").await.id;
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

pub async fn hold_and_release(store: &dyn Store) {
    let plan = [
        planned("h", "x", "at", 0, "t"),
        planned("l", "x", "at", 1, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let (h, l) = (
        find(store, "h", "x").await.id,
        find(store, "l", "x").await.id,
    );
    store
        .hold(h, HoldReason::Approval, "needs sign-off", Actor::Cli, at(0))
        .await
        .unwrap();
    let held = store.get(h).await.unwrap().unwrap();
    assert_eq!(
        (held.state, held.hold_reason),
        (State::Held, Some(HoldReason::Approval))
    );
    assert_eq!(held.display_state(at(0)), "held:approval");
    let last = store.history(h).await.unwrap().pop().unwrap();
    assert_eq!((last.actor, last.to), (Actor::Cli, State::Held));
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
        store.release(9999, "x", at(6)).await,
        Err(StoreError::NotFound(9999))
    ));
}

pub async fn change_checks_state(store: &dyn Store) {
    store
        .sync_plan(&[planned("d", "x", "at", 60, "t")], at(0))
        .await
        .unwrap();
    let id = find(store, "d", "x").await.id;
    store
        .hold(
            id,
            HoldReason::Approval,
            "needs sign-off",
            Actor::Daemon,
            at(0),
        )
        .await
        .unwrap();

    let mut approve = change(
        &[State::Held],
        State::Planned,
        Actor::Api,
        "approved by comms lead",
    );
    approve.approve = true;
    let d = store.change(id, &approve, at(1)).await.unwrap();
    assert_eq!(
        (d.state, d.hold_reason, d.approved),
        (State::Planned, None, true)
    );
    assert_eq!(store.get(id).await.unwrap().unwrap(), d);

    match store.change(id, &approve, at(2)).await {
        Err(StoreError::WrongState {
            id: got,
            actual,
            expected,
        }) => {
            assert_eq!(
                (got, actual.as_str(), expected.as_str()),
                (id, "planned", "held")
            );
        }
        other => panic!("expected WrongState, got {other:?}"),
    }
    assert!(matches!(
        store.change(9999, &approve, at(2)).await,
        Err(StoreError::NotFound(9999))
    ));

    let mut send_now = change(&[State::Planned], State::Planned, Actor::Cli, "send now");
    send_now.due_at = Some(at(2));
    assert_eq!(
        store.change(id, &send_now, at(2)).await.unwrap().due_at,
        at(2)
    );

    let to_flight = change(&[State::Planned], State::InFlight, Actor::Cli, "force");
    assert!(store.change(id, &to_flight, at(2)).await.is_err());
    assert_eq!(state_of(store, id).await, State::Planned);

    lease_one(store, id, at(3)).await;
    store.record_failed(id, "503", at(3)).await.unwrap();
    let mut retry = change(&[State::Failed], State::Retrying, Actor::Cli, "try again");
    retry.due_at = Some(at(10));
    let d = store.change(id, &retry, at(4)).await.unwrap();
    assert_eq!(
        (d.state, d.next_attempt_at),
        (State::Retrying, Some(at(10)))
    );
    assert_eq!(
        ids(&store.lease_due(at(10), 1, LEASE).await.unwrap()),
        vec![id]
    );
}

pub async fn pauses(store: &dyn Store) {
    assert_eq!(store.paused().await.unwrap(), Paused::default());
    store
        .set_paused(None, true, Actor::Cli, at(0))
        .await
        .unwrap();
    store
        .set_paused(Some("x"), true, Actor::Api, at(0))
        .await
        .unwrap();
    store
        .set_paused(Some("y"), true, Actor::Api, at(0))
        .await
        .unwrap();
    store
        .set_paused(Some("y"), true, Actor::Api, at(1))
        .await
        .unwrap();
    let p = store.paused().await.unwrap();
    assert!(p.all && p.covers("anything"));
    assert_eq!(p.channels, vec!["x".to_string(), "y".to_string()]);
    store
        .set_paused(None, false, Actor::Cli, at(2))
        .await
        .unwrap();
    store
        .set_paused(Some("x"), false, Actor::Cli, at(2))
        .await
        .unwrap();
    store
        .set_paused(Some("never-paused"), false, Actor::Cli, at(2))
        .await
        .unwrap();
    let p = store.paused().await.unwrap();
    assert_eq!(
        p,
        Paused {
            all: false,
            channels: vec!["y".into()]
        }
    );
    assert!(p.covers("y") && !p.covers("x"));
}

pub async fn counts_by_channel_and_state(store: &dyn Store) {
    assert!(store.counts().await.unwrap().is_empty());
    let plan = [
        planned("a", "x", "at", 0, "t"),
        planned("b", "x", "at", 0, "t"),
        planned("c", "x", "at", 0, "t"),
        planned("a", "y", "at", 50, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let leased = store.lease_due(at(1), 1, LEASE).await.unwrap();
    store
        .record_sent(leased[0].id, &Receipt::default(), at(1), "posted")
        .await
        .unwrap();
    let mut counts = store.counts().await.unwrap();
    counts.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
    assert_eq!(
        counts,
        vec![
            ("x".to_string(), State::Planned, 2),
            ("x".to_string(), State::Sent, 1),
            ("y".to_string(), State::Planned, 1),
        ]
    );
}

pub async fn history_in_order_with_actors(store: &dyn Store) {
    store
        .sync_plan(&[planned("d", "x", "at", 0, "t")], at(10))
        .await
        .unwrap();
    let id = find(store, "d", "x").await.id;
    store
        .hold(
            id,
            HoldReason::Approval,
            "needs sign-off",
            Actor::Daemon,
            at(11),
        )
        .await
        .unwrap();
    let mut approve = change(&[State::Held], State::Planned, Actor::Api, "approved");
    approve.approve = true;
    store.change(id, &approve, at(12)).await.unwrap();
    lease_one(store, id, at(13)).await;
    store.mark_request_started(id, at(13)).await.unwrap();
    // Steps logged with an earlier clock still come in the order they happened.
    store
        .record_sent(id, &Receipt::default(), at(9), "posted")
        .await
        .unwrap();

    let log = store.history(id).await.unwrap();
    let steps: Vec<_> = log.iter().map(|t| (t.from, t.to, t.actor)).collect();
    use State::*;
    assert_eq!(
        steps,
        vec![
            (None, Planned, Actor::Daemon),
            (Some(Planned), Held, Actor::Daemon),
            (Some(Held), Planned, Actor::Api),
            (Some(Planned), InFlight, Actor::Daemon),
            (Some(InFlight), InFlight, Actor::Daemon),
            (Some(InFlight), Sent, Actor::Daemon),
        ]
    );
    assert_eq!(
        log.iter().map(|t| t.at).collect::<Vec<_>>(),
        [10, 11, 12, 13, 13, 9].map(at)
    );
    assert!(log.iter().all(|t| t.delivery == id));
    assert!(matches!(
        store.history(9999).await,
        Err(StoreError::NotFound(9999))
    ));
}

pub async fn list_filters(store: &dyn Store) {
    let plan = [
        planned("a", "x", "at", 30, "t"),
        planned("a", "y", "at", 10, "t"),
        planned("b", "x", "at", 20, "t"),
        planned("b", "x", "reminder", 5, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let all = store.list(&QueueFilter::default()).await.unwrap();
    let order: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|d| (d.item.as_str(), d.channel.as_str(), d.occasion.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("b", "x", "reminder"),
            ("a", "y", "at"),
            ("b", "x", "at"),
            ("a", "x", "at")
        ]
    );
    let held = find(store, "a", "y").await.id;
    store
        .hold(
            held,
            HoldReason::Missed,
            "fell due while down",
            Actor::Daemon,
            at(0),
        )
        .await
        .unwrap();

    let count = |f: QueueFilter| async move { store.list(&f).await.unwrap().len() };
    let by_channel = QueueFilter {
        channel: Some("x".into()),
        ..QueueFilter::default()
    };
    assert_eq!(count(by_channel).await, 3);
    let by_item = QueueFilter {
        item: Some("b".into()),
        ..QueueFilter::default()
    };
    assert_eq!(count(by_item).await, 2);
    let by_state = QueueFilter {
        state: Some(State::Held),
        ..QueueFilter::default()
    };
    assert_eq!(count(by_state).await, 1);
    let by_reason = QueueFilter {
        hold_reason: Some(HoldReason::Missed),
        ..QueueFilter::default()
    };
    assert_eq!(count(by_reason).await, 1);
    let other_reason = QueueFilter {
        hold_reason: Some(HoldReason::Paused),
        ..QueueFilter::default()
    };
    assert_eq!(count(other_reason).await, 0);
    let combined = QueueFilter {
        state: Some(State::Planned),
        channel: Some("x".into()),
        item: Some("b".into()),
        limit: Some(1),
        ..QueueFilter::default()
    };
    let got = store.list(&combined).await.unwrap();
    assert_eq!((got.len(), got[0].occasion.as_str()), (1, "reminder"));
    assert!(store.get(9999).await.unwrap().is_none());
}

pub async fn channel_statuses(store: &dyn Store) {
    assert!(store.channel_statuses().await.unwrap().is_empty());
    store
        .set_channel_status("x", Some("needs new credentials"), at(0))
        .await
        .unwrap();
    store
        .set_channel_status("a", Some("rate limited"), at(0))
        .await
        .unwrap();
    store
        .set_channel_status("x", Some("token expired"), at(1))
        .await
        .unwrap();
    assert_eq!(
        store.channel_statuses().await.unwrap(),
        vec![
            ("a".into(), "rate limited".into()),
            ("x".into(), "token expired".into())
        ]
    );
    store.set_channel_status("a", None, at(2)).await.unwrap();
    store
        .set_channel_status("never-set", None, at(2))
        .await
        .unwrap();
    assert_eq!(
        store.channel_statuses().await.unwrap(),
        vec![("x".into(), "token expired".into())]
    );
}

pub async fn posted_parts_are_the_resume_point(store: &dyn Store) {
    store
        .sync_plan(
            &[
                planned("t", "x", "at", 0, "thread"),
                planned("u", "x", "at", 0, "other"),
            ],
            at(0),
        )
        .await
        .unwrap();
    let id = find(store, "t", "x").await.id;
    let other = find(store, "u", "x").await.id;
    assert!(store.posted_parts(id).await.unwrap().is_empty());
    let part = |n: &str| Receipt {
        remote_id: Some(n.into()),
        remote_url: Some(format!("https://social.example/{n}")),
    };
    store.record_part(id, 0, &part("100"), at(1)).await.unwrap();
    store.record_part(id, 1, &part("101"), at(1)).await.unwrap();
    // Part 3 without part 2 is not a resume point: order would be lost.
    store.record_part(id, 3, &part("103"), at(1)).await.unwrap();
    assert_eq!(
        store.posted_parts(id).await.unwrap(),
        vec![part("100"), part("101")]
    );
    assert!(store.posted_parts(other).await.unwrap().is_empty());
    // The same part twice means two senders: refused, the first kept.
    assert!(store.record_part(id, 1, &part("999"), at(2)).await.is_err());
    assert_eq!(store.posted_parts(id).await.unwrap()[1], part("101"));

    // An edit cannot change words already half posted; the other item's can.
    store
        .sync_plan(
            &[
                planned("t", "x", "at", 0, "edited"),
                planned("u", "x", "at", 0, "edited"),
            ],
            at(3),
        )
        .await
        .unwrap();
    assert_eq!(store.get(id).await.unwrap().unwrap().variant.text, "thread");
    assert_eq!(
        store.get(other).await.unwrap().unwrap().variant.text,
        "edited"
    );
    let reason = store
        .history(id)
        .await
        .unwrap()
        .last()
        .unwrap()
        .reason
        .clone();
    assert!(reason.contains("already posted"), "{reason}");
}

/// A sent delivery has no error to show: the errors of earlier attempts
/// stay in its history.
pub async fn record_sent_clears_last_error(store: &dyn Store) {
    let plan = [
        planned("r", "x", "at", 0, "t"),
        planned("u", "x", "at", 0, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let (r, u) = (
        find(store, "r", "x").await.id,
        find(store, "u", "x").await.id,
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

/// A content change that moves a delivery held because its time passed
/// (paused, missed) to a time still ahead makes it planned again, at the
/// new time: nobody needs to decide about a delivery that is not overdue.
pub async fn sync_moves_overdue_held_into_the_future_back_to_planned(store: &dyn Store) {
    let plan = [
        planned("p", "x", "at", 0, "t"),
        planned("m", "x", "at", 0, "t"),
        planned("a", "x", "at", 0, "t"),
        planned("s", "x", "at", 0, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let id = |item: &'static str| async move { find(store, item, "x").await.id };
    let (p, m, a, s) = (id("p").await, id("m").await, id("a").await, id("s").await);
    for (d, reason) in [
        (p, HoldReason::Paused),
        (m, HoldReason::Missed),
        (a, HoldReason::Approval),
        (s, HoldReason::Paused),
    ] {
        store
            .hold(d, reason, "held", Actor::Daemon, at(1))
            .await
            .unwrap();
    }
    // p, m and a move an hour later; s is edited but stays overdue.
    let edited = [
        planned("p", "x", "at", 60, "t"),
        planned("m", "x", "at", 60, "t"),
        planned("a", "x", "at", 60, "t"),
        planned("s", "x", "at", 1, "t2"),
    ];
    assert_eq!(
        store.sync_plan(&edited, at(5)).await.unwrap(),
        summary(0, 4, 0, 0)
    );
    for d in [p, m] {
        let got = store.get(d).await.unwrap().unwrap();
        assert_eq!(
            (got.state, got.hold_reason, got.due_at),
            (State::Planned, None, at(60))
        );
        let last = store.history(d).await.unwrap().pop().unwrap();
        assert_eq!((last.from, last.to), (Some(State::Held), State::Planned));
        assert!(last.reason.contains("later"), "{}", last.reason);
        // Not due before its new time.
        assert!(store.lease_due(at(30), 10, LEASE).await.unwrap().is_empty());
    }
    // Approval is not about time: still held.
    let got = store.get(a).await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.hold_reason),
        (State::Held, Some(HoldReason::Approval))
    );
    // Still overdue: still held for a human.
    let got = store.get(s).await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.hold_reason),
        (State::Held, Some(HoldReason::Paused))
    );
}

/// Every time the store records must be one a clock could read: a
/// sentinel such as `DateTime::MAX_UTC` (year 262142) is refused, not
/// written into the queue and its history.
pub async fn times_that_cannot_be_clock_readings_are_refused(store: &dyn Store) {
    let end = DateTime::<Utc>::MAX_UTC;
    let is_bad_time = |r: Result<(), StoreError>| matches!(r, Err(StoreError::BadTime { .. }));
    assert!(matches!(
        store
            .sync_plan(&[planned("d", "x", "at", 0, "t")], end)
            .await,
        Err(StoreError::BadTime { .. })
    ));
    assert!(store
        .list(&QueueFilter::default())
        .await
        .unwrap()
        .is_empty());
    store
        .sync_plan(&[planned("d", "x", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = find(store, "d", "x").await.id;
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
        store.set_paused(None, true, Actor::Cli, end).await
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
        .record_failed(id, "x", end)
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

/// A pending subscriber who asks again gets a fresh confirmation, at most
/// once per window; a confirmed one never (there is nothing to confirm).
pub async fn confirmation_resends_are_limited(store: &dyn Store) {
    use crate::store::lists::{Added, NewSubscriber};
    let lists = store.lists();
    let new = |email: &str| NewSubscriber {
        channel: "news".into(),
        email: email.into(),
        name: None,
        organisation: None,
        topics: vec!["news".into()],
        method: "form".into(),
        wording: "w".into(),
        client_addr: None,
        confirmed_at: None,
        override_suppression: true,
    };
    let Added::Pending(ann) = lists
        .add_subscriber(&new("ann@example.org"), at(0))
        .await
        .unwrap()
    else {
        panic!("ann is new");
    };
    // Window of 15 minutes: `not_since` is 15 minutes before `now`.
    let claim = |now: i64| lists.claim_resend(ann.id, at(now - 15), at(now));
    assert!(claim(0).await.unwrap(), "the first resend");
    assert!(!claim(1).await.unwrap(), "within the window");
    assert!(!claim(14).await.unwrap(), "still within the window");
    assert!(claim(15).await.unwrap(), "a window later");
    assert!(!claim(16).await.unwrap());
    lists.confirm(ann.id, at(20)).await.unwrap();
    assert!(!claim(60).await.unwrap(), "confirmed: nothing to resend");
}
