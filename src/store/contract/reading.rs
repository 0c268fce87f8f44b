//! What the CLI, `/metrics` and `/healthz` read: lists, counts, history and
//! channel statuses.

use super::{at, change, find, lease_one, planned, LEASE};
use crate::delivery::{Actor, HoldReason, Receipt, State};
use crate::store::{QueueFilter, Store, StoreError};

pub async fn counts_by_channel_and_state(store: &dyn Store) {
    assert!(store.counts().await.unwrap().is_empty());
    let plan = [
        planned("a", "news", "at", 0, "t"),
        planned("b", "news", "at", 0, "t"),
        planned("c", "news", "at", 0, "t"),
        planned("a", "social", "at", 50, "t"),
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
            ("news".to_string(), State::Planned, 2),
            ("news".to_string(), State::Sent, 1),
            ("social".to_string(), State::Planned, 1),
        ]
    );
}

pub async fn history_in_order_with_actors(store: &dyn Store) {
    store
        .sync_plan(&[planned("d", "news", "at", 0, "t")], at(10))
        .await
        .unwrap();
    let id = find(store, "d", "news").await.id;
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
    let mut approve = change(
        &[State::Held],
        State::Planned,
        Actor::Person("ann@example.org".into()),
        "approved",
    );
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
    let steps: Vec<_> = log
        .iter()
        .map(|t| (t.from, t.to, t.actor.clone()))
        .collect();
    use State::*;
    assert_eq!(
        steps,
        vec![
            (None, Planned, Actor::Daemon),
            (Some(Planned), Held, Actor::Daemon),
            (Some(Held), Planned, Actor::Person("ann@example.org".into())),
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
    let mut plan = [
        planned("a", "news", "at", 30, "t"),
        planned("a", "social", "at", 10, "t"),
        planned("b", "news", "at", 20, "t"),
        planned("b", "news", "reminder", 5, "t"),
    ];
    plan[1].requires_approval = true;
    plan[2].requires_approval = true;
    store.sync_plan(&plan, at(0)).await.unwrap();
    let all = store.list(&QueueFilter::default()).await.unwrap();
    let order: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|d| (d.item.as_str(), d.channel.as_str(), d.occasion.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("b", "news", "reminder"),
            ("a", "social", "at"),
            ("b", "news", "at"),
            ("a", "news", "at")
        ]
    );
    let held = find(store, "a", "social").await.id;
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
        channel: Some("news".into()),
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
        channel: Some("news".into()),
        item: Some("b".into()),
        limit: Some(1),
        ..QueueFilter::default()
    };
    let got = store.list(&combined).await.unwrap();
    assert_eq!((got.len(), got[0].occasion.as_str()), (1, "reminder"));
    // A calendar's range: due at or after its start, before its end.
    let range = QueueFilter {
        due_from: Some(at(10)),
        due_before: Some(at(30)),
        ..QueueFilter::default()
    };
    let due: Vec<_> = store
        .list(&range)
        .await
        .unwrap()
        .iter()
        .map(|d| d.due_at)
        .collect();
    assert_eq!(due, [at(10), at(20)]);
    // Awaiting approval: needs it, not approved, still pending (a/social
    // is held as missed, so it waits on something else).
    let awaiting = QueueFilter {
        awaiting_approval: true,
        ..QueueFilter::default()
    };
    let waiting: Vec<_> = store.list(&awaiting).await.unwrap();
    let waiting: Vec<(&str, &str)> = waiting
        .iter()
        .map(|d| (d.item.as_str(), d.occasion.as_str()))
        .collect();
    assert_eq!(waiting, [("b", "at")]);
    assert!(store.get(9999).await.unwrap().is_none());
}

/// A listing's summaries are the listed deliveries, field for field, in
/// the same order, under every filter, whatever state each is in.
pub async fn summaries_are_the_listed_deliveries(store: &dyn Store) {
    let mut plan = [
        planned("s", "news", "at", 0, "t"),
        planned("r", "news", "at", 1, "t"),
        planned("h", "social", "at", 2, "t"),
        planned("p", "social", "at", 30, "t"),
    ];
    plan[2].requires_approval = true;
    plan[3].requires_approval = true;
    store.sync_plan(&plan, at(0)).await.unwrap();
    let (s, r, h) = (
        find(store, "s", "news").await.id,
        find(store, "r", "news").await.id,
        find(store, "h", "social").await.id,
    );
    store.lease_due(at(1), 2, LEASE).await.unwrap();
    let receipt = Receipt {
        remote_id: Some("42".into()),
        remote_url: Some("https://example.org/42".into()),
    };
    store
        .record_sent(s, &receipt, at(1), "posted")
        .await
        .unwrap();
    store
        .record_retry(r, at(5), "429 rate limited", at(1))
        .await
        .unwrap();
    let note = "waiting for approval";
    let held = store.hold(h, HoldReason::Approval, note, Actor::Daemon, at(1));
    held.await.unwrap();
    let filters = [
        QueueFilter::default(),
        QueueFilter {
            channel: Some("social".into()),
            due_from: Some(at(1)),
            due_before: Some(at(60)),
            ..QueueFilter::default()
        },
        QueueFilter {
            awaiting_approval: true,
            ..QueueFilter::default()
        },
        QueueFilter {
            state: Some(State::Retrying),
            item: Some("r".into()),
            ..QueueFilter::default()
        },
        QueueFilter {
            after: Some((at(0), s)),
            limit: Some(2),
            ..QueueFilter::default()
        },
    ];
    for f in &filters {
        let full: Vec<_> = store.list(f).await.unwrap();
        let summaries = store.list_summaries(f).await.unwrap();
        let expected: Vec<_> = full.iter().map(|d| d.summary()).collect();
        assert_eq!(summaries, expected, "{f:?}");
    }
    let all = store.list_summaries(&filters[0]).await.unwrap();
    let sent = all.iter().find(|d| d.id == s).unwrap();
    assert_eq!(
        (sent.state, sent.remote_url.as_deref(), sent.sent_at),
        (State::Sent, Some("https://example.org/42"), Some(at(1)))
    );
    let retrying = all.iter().find(|d| d.id == r).unwrap();
    assert_eq!(retrying.last_error.as_deref(), Some("429 rate limited"));
    let waiting = store.list_summaries(&filters[2]).await.unwrap();
    let waiting: Vec<&str> = waiting.iter().map(|d| d.item.as_str()).collect();
    assert_eq!(waiting, ["h", "p"]);
}

pub async fn channel_statuses(store: &dyn Store) {
    assert!(store.channel_statuses().await.unwrap().is_empty());
    store
        .set_channel_status("news", Some("needs new credentials"), at(0))
        .await
        .unwrap();
    store
        .set_channel_status("a", Some("rate limited"), at(0))
        .await
        .unwrap();
    store
        .set_channel_status("news", Some("token expired"), at(1))
        .await
        .unwrap();
    assert_eq!(
        store.channel_statuses().await.unwrap(),
        vec![
            ("a".into(), "rate limited".into()),
            ("news".into(), "token expired".into())
        ]
    );
    store.set_channel_status("a", None, at(2)).await.unwrap();
    store
        .set_channel_status("never-set", None, at(2))
        .await
        .unwrap();
    assert_eq!(
        store.channel_statuses().await.unwrap(),
        vec![("news".into(), "token expired".into())]
    );
}
