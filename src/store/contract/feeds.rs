//! What a feed is rebuilt from: a channel's newest sends.

use super::{at, planned, LEASE};
use crate::store::{ChannelStore, Store};

/// `sent_latest` is the newest `limit` sent deliveries of the channel by
/// `sent_at` (not due time; the higher id first on a tie): nothing still
/// pending or in flight, nothing of another channel.
pub async fn sent_latest_is_the_channels_newest_sends<S: Store + ChannelStore>(store: &S) {
    let mut plan: Vec<_> = (0..5)
        .map(|i| planned(&format!("n{i}"), "news", "at", i, "t"))
        .collect();
    plan.push(planned("o", "other", "at", 0, "t"));
    plan.push(planned("late", "news", "at", 30, "t"));
    plan.push(planned("leased", "news", "at", 5, "t"));
    store.sync_plan(&plan, at(0)).await.unwrap();
    let leased = store.lease_due(at(5), 10, LEASE).await.unwrap();
    assert_eq!(leased.len(), 7, "everything due by minute 5");
    // Sent out of due order; n1 and n4 in the same minute.
    let sent_at = |item: &str| match item {
        "n0" => Some(9),
        "n1" | "n4" => Some(6),
        "n2" => Some(7),
        "n3" => Some(8),
        "o" => Some(10),
        _ => None, // `leased` stays in flight
    };
    for d in &leased {
        if let Some(minute) = sent_at(&d.item) {
            store
                .record_sent(d.id, &Default::default(), at(minute), "sent")
                .await
                .unwrap();
        }
    }
    let items = |limit| async move {
        let sent = ChannelStore::sent_latest(store, "news", limit)
            .await
            .unwrap();
        assert!(sent.iter().all(|d| d.variant.item == d.item), "whole rows");
        sent.into_iter().map(|d| d.item).collect::<Vec<_>>()
    };
    assert_eq!(items(3).await, ["n0", "n3", "n2"]);
    assert_eq!(items(10).await, ["n0", "n3", "n2", "n4", "n1"]);
    assert_eq!(items(usize::MAX).await.len(), 5);
    let other = ChannelStore::sent_latest(store, "other", 10).await.unwrap();
    assert_eq!(other.iter().map(|d| &d.item).collect::<Vec<_>>(), ["o"]);
    assert!(ChannelStore::sent_latest(store, "nobody", 10)
        .await
        .unwrap()
        .is_empty());
}
