//! Bounces and complaints after the send, as every backend must apply
//! them: once per event, suppressing by kind.

use chrono::TimeDelta;

use super::at;
use crate::store::lists::{
    Added, BounceApplied, BounceEvent, BounceKind, Lists, NewSubscriber, SoftBounces, EVERY_ITEM,
};
use crate::store::Store;

async fn confirmed(lists: &dyn Lists, email: &str) -> i64 {
    let new = NewSubscriber {
        channel: "news".into(),
        email: email.into(),
        name: None,
        organisation: None,
        topics: vec!["news".into(), "training".into()],
        method: "import".into(),
        wording: "w".into(),
        client_addr: None,
        confirmed_at: Some(at(0)),
        override_suppression: false,
    };
    match lists.add_subscriber(&new, at(0)).await.unwrap() {
        Added::Confirmed(s) => s.id,
        other => panic!("{email}: {other:?}"),
    }
}

fn event(key: &str, subscriber_id: i64, kind: BounceKind) -> BounceEvent {
    BounceEvent {
        key: key.into(),
        channel: "news".into(),
        delivery_id: 7,
        subscriber_id,
        kind,
        source: "mailbox".into(),
        status: Some("5.1.1".into()),
        detail: Some("no such user".into()),
    }
}

/// A hard bounce suppresses at once; soft ones after `limit` within the
/// window; a complaint withdraws every topic and suppresses; the same
/// event twice changes nothing; the person's export shows them, and
/// erasure removes them.
pub async fn bounces_apply_once_and_suppress_by_kind<S: Store + Lists>(store: &S) {
    let lists: &dyn Lists = store;
    let soft = SoftBounces {
        limit: 3,
        window: TimeDelta::days(30),
    };
    let day = |d: i64| at(d * 24 * 60);
    let ann = confirmed(lists, "ann@example.org").await;
    let bob = confirmed(lists, "bob@example.org").await;
    let cat = confirmed(lists, "cat@example.org").await;

    let hard = event("<b1@mx>", ann, BounceKind::Hard);
    let applied = lists.record_bounce(&hard, soft, day(1)).await.unwrap();
    assert_eq!(applied, BounceApplied::Suppressed);
    assert!(lists
        .is_suppressed("news", "ann@example.org")
        .await
        .unwrap());
    let again = lists.record_bounce(&hard, soft, day(2)).await.unwrap();
    assert_eq!(again, BounceApplied::Duplicate);
    let ann_now = lists.subscriber_by_id(ann).await.unwrap().unwrap();
    assert_eq!(ann_now.bounces, 1, "counted once");

    for (n, d) in [(1, 0), (2, 1), (3, 40), (4, 41)] {
        let e = event(&format!("<s{n}@mx>"), bob, BounceKind::Soft);
        let applied = lists.record_bounce(&e, soft, day(d)).await.unwrap();
        assert_eq!(applied, BounceApplied::Counted, "soft {n} on day {d}");
    }
    assert!(!lists
        .is_suppressed("news", "bob@example.org")
        .await
        .unwrap());
    let e = event("<s5@mx>", bob, BounceKind::Soft);
    let applied = lists.record_bounce(&e, soft, day(42)).await.unwrap();
    assert_eq!(applied, BounceApplied::Suppressed, "3 within 30 days");
    assert!(lists
        .is_suppressed("news", "bob@example.org")
        .await
        .unwrap());

    let complaint = event("<c1@mx>", cat, BounceKind::Complaint);
    let applied = lists.record_bounce(&complaint, soft, day(3)).await.unwrap();
    assert_eq!(applied, BounceApplied::Suppressed);
    let cat_now = lists.subscriber_by_id(cat).await.unwrap().unwrap();
    assert!(cat_now.topics.is_empty(), "{cat_now:?}");
    assert!(lists
        .is_suppressed("news", "cat@example.org")
        .await
        .unwrap());
    assert!(lists
        .pending_recipients(8, "news", &["news".into()], EVERY_ITEM)
        .await
        .unwrap()
        .is_empty());

    let export = lists.export("ann@example.org").await.unwrap();
    let bounces = &export["subscriptions"][0]["bounces"];
    assert_eq!(bounces.as_array().unwrap().len(), 1, "{export}");
    assert_eq!(bounces[0]["kind"], "hard");
    assert_eq!(bounces[0]["delivery"], 7);
    assert_eq!(bounces[0]["status"], "5.1.1");
    lists
        .erase("ann@example.org", &["news".into()], day(5))
        .await
        .unwrap();
    // The event is gone with the person; replaying it finds nothing to do.
    let export = lists.export("ann@example.org").await.unwrap();
    assert_eq!(export["subscriptions"], serde_json::json!([]));
}
