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
