//! Digest choices, as every backend must keep them: a topic taken as a
//! digest leaves the item sends' audience and joins that cadence's; the
//! choice is in the export and goes with an erasure.

use super::{at, planned};
use crate::store::lists::{Added, Lists, NewSubscriber, EVERY_ITEM};
use crate::store::{ChannelStore, Store};

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

async fn audience(lists: &dyn Lists, topics: &[&str], cadence: &str) -> Vec<String> {
    let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
    let owed = lists.pending_recipients(1, "news", &topics, cadence).await;
    owed.unwrap().into_iter().map(|r| r.email).collect()
}

pub async fn digest_choices_split_the_audience_by_cadence<S: Store + ChannelStore + Lists>(
    store: &S,
) {
    let lists: &dyn Lists = store;
    let ann = confirmed(lists, "ann@example.org").await;
    let bob = confirmed(lists, "bob@example.org").await;
    let choose = |id: i64, topic: &str, c: &str| (id, topic.to_string(), c.to_string());
    lists
        .set_cadences(&[choose(bob, "news", "weekly")], at(1))
        .await
        .unwrap();
    assert_eq!(
        audience(lists, &["news"], EVERY_ITEM).await,
        ["ann@example.org"]
    );
    assert_eq!(
        audience(lists, &["news"], "weekly").await,
        ["bob@example.org"]
    );
    assert!(audience(lists, &["news"], "daily").await.is_empty());
    // An item of two topics reaches whoever takes either item by item.
    let both = audience(lists, &["news", "training"], EVERY_ITEM).await;
    assert_eq!(both, ["ann@example.org", "bob@example.org"]);
    let ids = lists
        .still_owed(1, "news", &["news".into()], "weekly", &[ann, bob])
        .await
        .unwrap();
    assert_eq!(ids, [bob]);

    assert_eq!(
        lists.cadences(bob).await.unwrap(),
        [("news".to_string(), "weekly".to_string())]
    );
    let export = lists.export("bob@example.org").await.unwrap();
    assert_eq!(export["subscriptions"][0]["digests"][0][1], "weekly");
    // Every item again is no row; an erasure leaves none either.
    lists
        .set_cadences(
            &[
                choose(bob, "news", EVERY_ITEM),
                choose(ann, "training", "daily"),
            ],
            at(2),
        )
        .await
        .unwrap();
    assert!(lists.cadences(bob).await.unwrap().is_empty());
    lists.erase("ann@example.org", &[], at(3)).await.unwrap();
    assert!(lists.cadences(ann).await.unwrap().is_empty());
}

/// A digest waits for the items of its period still to be sent.
pub async fn unsettled_counts_items_of_the_period_still_to_send<S: Store + ChannelStore>(
    store: &S,
) {
    let plan = [
        planned("a", "news", "at", 0, "a"),
        planned("b", "news", "at", 10, "b"),
        planned("c", "news", "reminder", 5, "c"),
        planned("d", "other", "at", 5, "d"),
        planned("e", "news", "at", 30, "e"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let n = |from, until| ChannelStore::unsettled(store, "news", at(from), at(until));
    assert_eq!(n(0, 20).await.unwrap(), 2);
    let leased = store.lease_due(at(0), 1, super::LEASE).await.unwrap();
    store
        .record_sent(leased[0].id, &Default::default(), at(1), "sent")
        .await
        .unwrap();
    assert_eq!(n(0, 20).await.unwrap(), 1, "a is sent");
    assert_eq!(n(11, 30).await.unwrap(), 0, "the end is not in the period");
}

/// `sent_in_period` is what a digest of `[from, until)` is built from: the
/// channel's sent deliveries at an item's main occasion due in the period,
/// in due order; nothing before or at its end, nothing unsent, no
/// reminder, nothing of another channel.
pub async fn sent_in_period_is_the_periods_item_sends<S: Store + ChannelStore>(store: &S) {
    let plan = [
        planned("before", "news", "at", 9, "t"),
        planned("first", "news", "at", 10, "t"),
        planned("a", "news", "at", 12, "t"),
        planned("b", "news", "at", 12, "t"),
        planned("reminder", "news", "reminder", 13, "t"),
        planned("other", "other", "at", 14, "t"),
        planned("in-flight", "news", "at", 15, "t"),
        planned("end", "news", "at", 20, "t"),
        planned("planned", "news", "at", 18, "t"), // leased with `end`, never sent
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let leased = store.lease_due(at(15), 20, super::LEASE).await.unwrap();
    assert_eq!(leased.len(), 7, "everything due by minute 15");
    let receipt = Default::default();
    for d in leased.iter().filter(|d| d.item != "in-flight") {
        let sent = store.record_sent(d.id, &receipt, at(16), "sent");
        sent.await.unwrap();
    }
    let late = store.lease_due(at(20), 20, super::LEASE).await.unwrap();
    let end = late.iter().find(|d| d.item == "end").unwrap();
    let sent = store.record_sent(end.id, &receipt, at(21), "sent");
    sent.await.unwrap();

    let got = ChannelStore::sent_in_period(store, "news", at(10), at(20))
        .await
        .unwrap();
    assert!(got.iter().all(|d| d.variant.item == d.item), "whole rows");
    let id = |item: &str| leased.iter().find(|d| d.item == item).unwrap().id;
    let (a, b) = if id("a") < id("b") {
        ("a", "b")
    } else {
        ("b", "a")
    };
    let items: Vec<_> = got.iter().map(|d| d.item.as_str()).collect();
    assert_eq!(items, ["first", a, b], "due order, then id");
    let other = ChannelStore::sent_in_period(store, "other", at(10), at(20));
    assert_eq!(other.await.unwrap().len(), 1);
    let empty = ChannelStore::sent_in_period(store, "news", at(21), at(40));
    assert!(empty.await.unwrap().is_empty());
}
