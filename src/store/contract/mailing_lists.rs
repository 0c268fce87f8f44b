//! Mailing lists behind `Store::lists()`, as every backend must keep them.

use super::at;
use crate::store::Store;

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
