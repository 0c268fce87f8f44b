//! How `sync_plan` makes pending deliveries match the plan: added, edited,
//! cancelled, never touching what is settled, in one transaction.

use super::{at, change, find, lease_one, planned, state_of, summary, LEASE};
use crate::delivery::{Actor, Delivery, HoldReason, Planned, Receipt, State};
use crate::store::{AuditFilter, QueueFilter, RenderRecord, Store, StoreError, StoredRender};

pub async fn sync_adds_updates_cancels(store: &dyn Store) {
    let v1 = vec![
        planned("a", "news", "at", 10, "hello"),
        planned("a", "social", "at", 10, "hi"),
        planned("b", "news", "at", 20, "bye"),
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
        planned("a", "news", "at", 15, "hello, edited"),
        planned("a", "social", "at", 10, "hi"),
        planned("c", "news", "at", 30, "new"),
    ];
    assert_eq!(
        store.sync_plan(&v2, at(2)).await.unwrap(),
        summary(1, 1, 1, 1)
    );

    let edited = find(store, "a", "news").await;
    assert_eq!(edited.state, State::Planned);
    assert_eq!(edited.due_at, at(15));
    assert_eq!(edited.variant.text, "hello, edited");
    assert_eq!(edited.fingerprint, "hello, edited@15");
    let log = store.history(edited.id).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!((log[0].from, log[0].to), (None, State::Planned));
    assert_eq!(log[1].reason, "content edited");

    let removed = find(store, "b", "news").await;
    assert_eq!(removed.state, State::Cancelled);
    let log = store.history(removed.id).await.unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        (last.from, last.to),
        (Some(State::Planned), State::Cancelled)
    );
    assert_eq!(
        (last.actor.clone(), last.reason.as_str()),
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
    v3.push(planned("b", "news", "at", 20, "bye"));
    assert_eq!(
        store.sync_plan(&v3, at(4)).await.unwrap(),
        summary(0, 0, 0, 4)
    );
    assert_eq!(state_of(store, removed.id).await, State::Cancelled);
}

pub async fn sync_never_touches_settled(store: &dyn Store) {
    let plan: Vec<Planned> = (1..=4)
        .map(|i| planned(&format!("i{i}"), "news", "at", i, "v1"))
        .collect();
    store.sync_plan(&plan, at(0)).await.unwrap();
    let leased = store.lease_due(at(3), 3, LEASE).await.unwrap();
    let [sent, failed, in_flight] = [leased[0].id, leased[1].id, leased[2].id];
    store
        .record_sent(sent, &Receipt::default(), at(3), "posted")
        .await
        .unwrap();
    store.record_failed(failed, "refused", at(3)).await.unwrap();
    let cancelled = find(store, "i4", "news").await.id;
    let cancel = change(
        &[State::Planned],
        State::Cancelled,
        Actor::cli(),
        "not needed",
    );
    store.change(cancelled, &cancel, at(3)).await.unwrap();
    let before: Vec<Delivery> = store.list(&QueueFilter::default()).await.unwrap();

    let edited: Vec<Planned> = (1..=4)
        .map(|i| planned(&format!("i{i}"), "news", "at", i + 100, "v2"))
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
        planned("r", "news", "at", 0, "v1"),
        planned("h", "news", "at", 50, "v1"),
    ];
    plan[1].requires_approval = true;
    store.sync_plan(&plan, at(0)).await.unwrap();
    let r = lease_one(store, find(store, "r", "news").await.id, at(1)).await;
    store
        .record_retry(r.id, at(10), "503", at(1))
        .await
        .unwrap();
    let h = find(store, "h", "news").await;
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
    let mut approve = change(&[State::Held], State::Held, Actor::cli(), "approved");
    approve.approve = true;
    approve.hold_reason = Some(HoldReason::Approval);
    assert!(store.change(h.id, &approve, at(2)).await.unwrap().approved);

    let mut edited = vec![
        planned("r", "news", "at", 20, "v2"),
        planned("h", "news", "at", 60, "v2"),
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
        planned("a", "news", "at", 1, "one"),
        planned("a", "news", "at", 2, "two"),
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

/// A content change that moves a delivery held because its time passed
/// (paused, missed) to a time still ahead makes it planned again, at the
/// new time: nobody needs to decide about a delivery that is not overdue.
pub async fn sync_moves_overdue_held_into_the_future_back_to_planned(store: &dyn Store) {
    let plan = [
        planned("p", "news", "at", 0, "t"),
        planned("m", "news", "at", 0, "t"),
        planned("a", "news", "at", 0, "t"),
        planned("s", "news", "at", 0, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let id = |item: &'static str| async move { find(store, item, "news").await.id };
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
        planned("p", "news", "at", 60, "t"),
        planned("m", "news", "at", 60, "t"),
        planned("a", "news", "at", 60, "t"),
        planned("s", "news", "at", 1, "t2"),
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

/// A reload of content that did not change touches nothing: no delivery,
/// no audit row, whatever state the pending and settled ones are in.
pub async fn sync_of_unchanged_content_touches_nothing(store: &dyn Store) {
    let mut plan: Vec<Planned> = (1..=5)
        .map(|i| planned(&format!("i{i}"), "news", "at", i, "t"))
        .collect();
    plan[4].requires_approval = true;
    store.sync_plan(&plan, at(0)).await.unwrap();
    let leased = store.lease_due(at(3), 3, LEASE).await.unwrap();
    store
        .record_sent(leased[0].id, &Receipt::default(), at(3), "posted")
        .await
        .unwrap();
    store
        .record_retry(leased[1].id, at(30), "503", at(3))
        .await
        .unwrap();
    let held = find(store, "i4", "news").await.id;
    store
        .hold(held, HoldReason::Paused, "paused", Actor::Daemon, at(3))
        .await
        .unwrap();
    let everything = AuditFilter {
        limit: 1_000,
        ..AuditFilter::default()
    };
    let queue = store.list(&QueueFilter::default()).await.unwrap();
    let audit = store.audit(&everything).await.unwrap();

    assert_eq!(
        store.sync_plan(&plan, at(4)).await.unwrap(),
        summary(0, 0, 0, 5)
    );
    assert_eq!(store.list(&QueueFilter::default()).await.unwrap(), queue);
    assert_eq!(store.audit(&everything).await.unwrap(), audit);
}

/// What a check rendered is kept as a fingerprint and a hash state per
/// (item, channel), read back while its `at` delivery has the recorded
/// fingerprint, in any state (sent too), never once content planned it
/// again differently; page by page in (item, channel) order.
pub async fn render_records_read_back_through_their_delivery(store: &dyn Store) {
    let plan = vec![
        planned("a", "news", "at", 10, "A"),
        planned("a", "news", "1 day before", 5, "A"),
        planned("b", "news", "at", 20, "B"),
        planned("c", "news", "at", 30, "C"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let record = |item: &str, fingerprint: &str, source: &str| RenderRecord {
        item: item.into(),
        channel: "news".into(),
        source: source.into(),
        fingerprint: fingerprint.into(),
        state: format!("state of {item}").into_bytes(),
    };
    let records = [
        record("a", "A@10", "s1"),
        record("b", "B@20", "s2"),
        record("c", "not its delivery's", "s3"),
        record("gone", "G@1", "s4"),
    ];
    store.record_renders(&records).await.unwrap();
    let sources = |rs: &[StoredRender]| -> Vec<(String, String)> {
        rs.iter()
            .map(|r| (r.item.clone(), r.source.clone()))
            .collect()
    };
    let pair = |i: &str, s: &str| (i.to_string(), s.to_string());
    let all = store.stored_renders(None, 100).await.unwrap();
    assert_eq!(sources(&all), [pair("a", "s1"), pair("b", "s2")]);
    assert_eq!(all[0].state, b"state of a");

    let first = store.stored_renders(None, 1).await.unwrap();
    let second = store.stored_renders(Some(("a", "news")), 1).await.unwrap();
    let end = store.stored_renders(Some(("b", "news")), 1).await.unwrap();
    assert_eq!(
        (sources(&first), sources(&second)),
        (vec![pair("a", "s1")], vec![pair("b", "s2")])
    );
    assert!(end.is_empty());

    let leased = store.lease_due(at(10), 2, LEASE).await.unwrap();
    let main = leased.iter().find(|d| d.occasion == "at").unwrap();
    store
        .record_sent(main.id, &Receipt::default(), at(10), "posted")
        .await
        .unwrap();
    let mut edited = plan.clone();
    edited[2] = planned("b", "news", "at", 20, "B2");
    store.sync_plan(&edited, at(11)).await.unwrap();
    let after = store.stored_renders(None, 100).await.unwrap();
    assert_eq!(
        sources(&after),
        [pair("a", "s1")],
        "sent stays, edited goes"
    );

    store
        .record_renders(&[record("b", "B2@20", "s5")])
        .await
        .unwrap();
    let replaced = store.stored_renders(None, 100).await.unwrap();
    assert_eq!(sources(&replaced), [pair("a", "s1"), pair("b", "s5")]);
}

/// A delivery held `uncertain` had its request started: it may have gone
/// out with the variant it holds. A content edit leaves it as it is, like
/// one in flight, so confirming it went out records what may really have
/// been sent, never the edit; the human's two actions decide the rest.
pub async fn sync_leaves_a_delivery_that_may_have_gone_out(store: &dyn Store) {
    let plan = [
        planned("u", "news", "at", 0, "sent?"),
        planned("p", "news", "at", 50, "v1"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let u = lease_one(store, find(store, "u", "news").await.id, at(1)).await;
    store.mark_request_started(u.id, at(1)).await.unwrap();
    store
        .hold(
            u.id,
            HoldReason::Uncertain,
            "lease expired after request",
            Actor::Daemon,
            at(7),
        )
        .await
        .unwrap();
    let before = store.get(u.id).await.unwrap().unwrap();
    let history = store.history(u.id).await.unwrap();

    let edited = [
        planned("u", "news", "at", 0, "edited"),
        planned("p", "news", "at", 50, "v2"),
    ];
    assert_eq!(
        store.sync_plan(&edited, at(8)).await.unwrap(),
        summary(0, 1, 0, 1)
    );
    assert_eq!(store.get(u.id).await.unwrap().unwrap(), before);
    assert_eq!(store.history(u.id).await.unwrap(), history);
    assert_eq!(
        find(store, "p", "news").await.variant.text,
        "v2",
        "the measure can fail"
    );
}

/// A plan entry may come without its variant (the store holds it): when it
/// matches its delivery nothing is written, as for any entry; when its
/// delivery must be added or changed, the store cannot, so it leaves it
/// and says which entry, for the planner to render and sync again. The
/// rest of the plan is applied as usual.
pub async fn sync_reports_entries_it_cannot_write_without_their_variant(store: &dyn Store) {
    let first = [
        planned("a", "news", "at", 10, "A"),
        planned("b", "news", "at", 20, "B"),
    ];
    store.sync_plan(&first, at(0)).await.unwrap();
    let bare = |p: Planned| Planned { variant: None, ..p };
    let second = [
        bare(planned("a", "news", "at", 10, "A")),
        bare(planned("b", "news", "at", 25, "B")),
        bare(planned("c", "news", "at", 30, "C")),
        planned("d", "news", "at", 40, "D"),
    ];
    let synced = store.sync_plan(&second, at(1)).await.unwrap();
    let mut expected = summary(1, 0, 0, 1);
    expected.unrendered = vec![1, 2];
    assert_eq!(synced, expected);
    let queue = store.list(&QueueFilter::default()).await.unwrap();
    let held: Vec<(&str, &str)> = (queue.iter())
        .map(|d| (d.item.as_str(), d.fingerprint.as_str()))
        .collect();
    assert_eq!(held, [("a", "A@10"), ("b", "B@20"), ("d", "D@40")]);
}

/// A sync of some items' plan changes those items only: their new and
/// edited entries are written and their entries the plan no longer names
/// cancelled (an item with no entries left loses them all), while other
/// items' deliveries stay as they are, named or not.
pub async fn sync_items_touches_only_those_items(store: &dyn Store) {
    let first = [
        planned("a", "news", "at", 10, "A"),
        planned("a", "news", "1 day before", 5, "A"),
        planned("b", "news", "at", 20, "B"),
        planned("d", "news", "at", 40, "D"),
    ];
    store.sync_plan(&first, at(0)).await.unwrap();
    let items = ["a".to_string(), "d".to_string(), "e".to_string()];
    let part = [
        planned("a", "news", "at", 10, "A2"),
        planned("e", "news", "at", 50, "E"),
    ];
    let synced = store.sync_items(&items, &part, at(1)).await.unwrap();
    assert_eq!(synced, summary(1, 1, 2, 0));
    let queue = store.list(&QueueFilter::default()).await.unwrap();
    let mut held: Vec<(&str, &str, State)> = (queue.iter())
        .map(|d| (d.item.as_str(), d.occasion.as_str(), d.state))
        .collect();
    held.sort_by_key(|(item, occasion, _)| (*item, *occasion));
    assert_eq!(
        held,
        [
            ("a", "1 day before", State::Cancelled),
            ("a", "at", State::Planned),
            ("b", "at", State::Planned),
            ("d", "at", State::Cancelled),
            ("e", "at", State::Planned),
        ]
    );
    let a = queue
        .iter()
        .find(|d| d.item == "a" && d.occasion == "at")
        .unwrap();
    assert_eq!(a.fingerprint, "A2@10");
}
