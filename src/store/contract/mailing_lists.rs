//! Mailing lists, their own door beside `Store`, as every backend must
//! keep them.

use super::at;
use crate::store::lists::Lists;
use crate::store::Store;

/// A pending subscriber who asks again gets a fresh confirmation, at most
/// once per window; a confirmed one never (there is nothing to confirm).
pub async fn confirmation_resends_are_limited<S: Store + Lists>(store: &S) {
    use crate::store::lists::{Added, NewSubscriber};
    let lists: &dyn Lists = store;
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

/// Confirmed subscribers by topic at the end of past months come from the
/// consent history: joined, confirmed, left, withdrawn a topic, bounced
/// out and erased, each in its month; never today's count repeated.
pub async fn subscriber_counts_follow_the_consent_history<S: Store + Lists>(store: &S) {
    use chrono::{TimeZone, Utc};

    use crate::store::lists::{Added, BounceEvent, BounceKind, NewSubscriber, SoftBounces};
    let lists: &dyn Lists = store;
    let day = |m: u32, d: u32| {
        let y = if m == 12 { 2026 } else { 2027 };
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    };
    let new =
        |email: &str, topics: &[&str], evidence: Option<chrono::DateTime<Utc>>| NewSubscriber {
            channel: "news".into(),
            email: email.into(),
            name: None,
            organisation: None,
            topics: topics.iter().map(|t| t.to_string()).collect(),
            method: if evidence.is_some() { "import" } else { "form" }.into(),
            wording: "w".into(),
            client_addr: None,
            confirmed_at: evidence,
            override_suppression: false,
        };
    let id = |a: Added| match a {
        Added::Pending(s) | Added::Confirmed(s) => s.id,
        other => panic!("{other:?}"),
    };
    // Through the form, confirmed the next day.
    let mut joined = Vec::new();
    for (email, topics, on) in [
        ("ann@example.org", &["news", "training"][..], day(1, 5)),
        ("cat@example.org", &["news"][..], day(1, 20)),
        ("eve@example.org", &["news"][..], day(1, 9)),
        ("fay@example.org", &["news"][..], day(1, 10)),
    ] {
        let s = id(lists
            .add_subscriber(&new(email, topics, None), on)
            .await
            .unwrap());
        lists
            .confirm(s, on + chrono::TimeDelta::days(1))
            .await
            .unwrap();
        joined.push(s);
    }
    let (ann, cat, fay) = (joined[0], joined[1], joined[3]);
    // Never confirmed: never counted.
    lists
        .add_subscriber(&new("dan@example.org", &["news"], None), day(1, 2))
        .await
        .unwrap();
    // Imported in February with consent from December: on the list from
    // the import.
    let bob = new("bob@example.org", &["news"], Some(day(12, 10)));
    lists.add_subscriber(&bob, day(2, 3)).await.unwrap();
    lists.unsubscribe(cat, day(2, 15)).await.unwrap();
    let bounce = BounceEvent {
        key: "<fay@mx>".into(),
        channel: "news".into(),
        delivery_id: 7,
        subscriber_id: fay,
        kind: BounceKind::Hard,
        source: "mailbox".into(),
        status: Some("5.1.1".into()),
        detail: None,
    };
    let soft = SoftBounces {
        limit: 3,
        window: chrono::TimeDelta::days(30),
    };
    lists
        .record_bounce(&bounce, soft, day(2, 20))
        .await
        .unwrap();
    // Bounced out in January, back through the form in March: one person
    // (the lifted suppression no longer says when they were out).
    let gus = id(lists
        .add_subscriber(&new("gus@example.org", &["news"], None), day(1, 3))
        .await
        .unwrap());
    lists.confirm(gus, day(1, 3)).await.unwrap();
    let gone = BounceEvent {
        key: "<gus@mx>".into(),
        subscriber_id: gus,
        ..bounce.clone()
    };
    lists.record_bounce(&gone, soft, day(1, 25)).await.unwrap();
    let mut back = new("gus@example.org", &["news"], None);
    back.override_suppression = true;
    lists.add_subscriber(&back, day(3, 10)).await.unwrap();
    lists.confirm(gus, day(3, 11)).await.unwrap();
    lists
        .set_topics(ann, &["news".to_string()], "w", None, day(3, 2))
        .await
        .unwrap();
    lists
        .erase("eve@example.org", &["news".to_string()], day(3, 5))
        .await
        .unwrap();

    // The end of December, January, February and March.
    let ends =
        [day(1, 1), day(2, 1), day(3, 1), day(4, 1)].map(|t| t - chrono::TimeDelta::hours(12));
    let counts = lists.confirmed_counts(&ends).await.unwrap();
    let got: Vec<(&str, &[u64])> = counts
        .iter()
        .map(|c| (c.topic.as_str(), c.counts.as_slice()))
        .collect();
    assert_eq!(
        got,
        [("news", &[0, 4, 3, 3][..]), ("training", &[0, 1, 1, 0][..])],
        "news: ann, cat, fay, gus in January; ann, bob, gus after; training: ann until March"
    );
    assert!(counts.iter().all(|c| c.channel == "news"));
    assert!(lists
        .confirmed_counts(&[])
        .await
        .unwrap()
        .iter()
        .all(|c| c.counts.is_empty()));
}
