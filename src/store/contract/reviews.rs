//! Review links: found by their secret's hash while live, each view
//! counted, revoked once, expired by the caller's clock.

use super::at;
use crate::delivery::Actor;
use crate::store::people::digest;
use crate::store::reviews::{NewReviewLink, Reviews, CLIENT_CHARS};
use crate::store::{Store, StoreError};

fn new_link(item: &str, secret: &str, expires: i64) -> NewReviewLink {
    NewReviewLink {
        item: item.into(),
        token_hash: digest(secret),
        label: "Scrutiny officer".into(),
        created_by: Actor::Person("ann@example.org".into()),
        expires_at: at(expires),
    }
}

/// A live link is found by its hash and each view is counted; an expired
/// or revoked one, or an unknown hash, finds nothing and records nothing.
pub async fn review_links_open_while_live_and_count_views<S: Store>(store: &S) {
    let reviews: &dyn Reviews = store;
    let made = reviews
        .create_review_link(&new_link("course-a", "secret-a", 60), at(0))
        .await
        .unwrap();
    assert_eq!((made.views, made.last_viewed_at), (0, None));
    assert_eq!(made.created_by, Actor::Person("ann@example.org".into()));
    assert!(made.live(at(59)) && !made.live(at(60)));

    let seen = reviews
        .view_review_link(&digest("secret-a"), "Firefox", at(1))
        .await
        .unwrap()
        .expect("live link");
    assert_eq!(
        (seen.id, seen.views, seen.last_viewed_at),
        (made.id, 1, Some(at(1)))
    );
    let long = "a".repeat(CLIENT_CHARS * 3);
    reviews
        .view_review_link(&digest("secret-a"), &long, at(2))
        .await
        .unwrap()
        .expect("live link");
    // The secret itself, an unknown hash, and the link at its expiry find nothing.
    for (hash, when) in [
        ("secret-a".to_string(), at(3)),
        (digest("secret-b"), at(3)),
        (digest("secret-a"), at(60)),
    ] {
        let found = reviews.view_review_link(&hash, "Firefox", when).await;
        assert_eq!(found.unwrap(), None, "{hash} at {when}");
    }
    let listed = reviews.review_links("course-a").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].views, listed[0].last_viewed_at),
        (2, Some(at(2)))
    );
    assert!(reviews.review_links("course-b").await.unwrap().is_empty());

    let twice = reviews
        .create_review_link(&new_link("course-b", "secret-a", 60), at(4))
        .await;
    assert!(matches!(twice, Err(StoreError::Exists(_))), "{twice:?}");
}

/// Revocation closes the link at once, keeps who did it, and a second
/// revocation changes nothing; links list newest first.
pub async fn review_links_are_revoked_once<S: Store>(store: &S) {
    let reviews: &dyn Reviews = store;
    let first = reviews
        .create_review_link(&new_link("course-a", "one", 600), at(0))
        .await
        .unwrap();
    let second = reviews
        .create_review_link(&new_link("course-a", "two", 600), at(1))
        .await
        .unwrap();
    let bob = Actor::Person("bob@example.org".into());
    let revoked = reviews
        .revoke_review_link(first.id, &bob, at(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(5)));
    assert_eq!(revoked.revoked_by, Some(bob.clone()));
    assert!(!revoked.live(at(6)));
    let again = reviews
        .revoke_review_link(first.id, &Actor::Daemon, at(9))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.revoked_at, again.revoked_by.clone()),
        (Some(at(5)), Some(bob))
    );
    let opened = reviews
        .view_review_link(&digest("one"), "Firefox", at(6))
        .await;
    assert_eq!(opened.unwrap(), None);
    assert!(reviews
        .view_review_link(&digest("two"), "Firefox", at(6))
        .await
        .unwrap()
        .is_some());
    let ids: Vec<i64> = reviews
        .review_links("course-a")
        .await
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(ids, [second.id, first.id]);
    assert_eq!(reviews.review_link(first.id).await.unwrap(), Some(again));
    let none = reviews.revoke_review_link(999, &Actor::Daemon, at(7)).await;
    assert_eq!(none.unwrap(), None);
}
