//! The posted parts of a thread: the durable resume point of a multi-part
//! delivery.

use super::{at, find, planned};
use crate::delivery::Receipt;
use crate::store::Store;

pub async fn posted_parts_are_the_resume_point(store: &dyn Store) {
    store
        .sync_plan(
            &[
                planned("t", "news", "at", 0, "thread"),
                planned("u", "news", "at", 0, "other"),
            ],
            at(0),
        )
        .await
        .unwrap();
    let id = find(store, "t", "news").await.id;
    let other = find(store, "u", "news").await.id;
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
                planned("t", "news", "at", 0, "edited"),
                planned("u", "news", "at", 0, "edited"),
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
