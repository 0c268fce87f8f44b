//! Forgetting old history: only what is settled for good, only its
//! history, and never so that a plan sees a delivery as new.

use super::*;

pub async fn forgetting_history_keeps_deliveries_and_what_may_still_be_sent(store: &dyn Store) {
    let plan = [
        planned("sent", "news", "at", 0, "t"),
        planned("failed", "news", "at", 0, "t"),
        planned("gone", "news", "at", 0, "t"),
        planned("ahead", "news", "at", 500, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let id = |item: &'static str| async move { find(store, item, "news").await.id };
    let (sent, failed, gone, ahead) = (
        id("sent").await,
        id("failed").await,
        id("gone").await,
        id("ahead").await,
    );
    let cancel = change(
        &[State::Planned],
        State::Cancelled,
        Actor::Daemon,
        "removed",
    );
    store.change(gone, &cancel, at(0)).await.unwrap();
    store.lease_due(at(1), 2, LEASE).await.unwrap();
    store
        .record_sent(sent, &Default::default(), at(1), "posted")
        .await
        .unwrap();
    store.record_failed(failed, "refused", at(1)).await.unwrap();

    // Nothing was settled before minute 0.
    let none = store.forget_history(at(0)).await.unwrap();
    assert_eq!(none.deliveries, 0, "{none:?}");
    let gone_history = store.forget_history(at(100)).await.unwrap();
    assert_eq!(
        (gone_history.deliveries, gone_history.transitions),
        (2, 5),
        "{gone_history:?}"
    );
    assert!(store.history(sent).await.unwrap().is_empty());
    assert!(store.history(gone).await.unwrap().is_empty());
    // A failed delivery may be retried, a planned one is still to go.
    assert_eq!(store.history(failed).await.unwrap().len(), 3);
    assert_eq!(store.history(ahead).await.unwrap().len(), 1);
    // The deliveries stay, so the same plan adds nothing.
    let kept = store.get(sent).await.unwrap().unwrap();
    assert_eq!((kept.state, kept.sent_at), (State::Sent, Some(at(1))));
    let again = store.sync_plan(&plan, at(200)).await.unwrap();
    assert_eq!(again.added, 0, "{again:?}");
    assert_eq!(store.list(&QueueFilter::default()).await.unwrap().len(), 4);
    assert_eq!(store.forget_history(at(100)).await.unwrap().transitions, 0);
}
