//! What only PostgreSQL can get wrong: two crier processes changing the
//! same rows at once. Each test runs its two sides on two stores (two
//! pools, as two processes have) released together by a barrier, many
//! rounds at once, so a read-then-write would be caught in between.

use std::future::Future;
use std::sync::Arc;

use chrono::TimeDelta;
use tokio::sync::Barrier;

use super::testing::{self, Schema};
use super::PgStore;
use crate::store::contract::at;
use crate::store::lists::{
    Added, BounceApplied, BounceEvent, BounceKind, Lists, NewSubscriber, SoftBounces, Status,
};
use crate::store::people::{digest, LinkPurpose, NewLink, People};

/// Rounds run side by side in each test.
const ROUNDS: usize = 16;

/// A second store on the same schema: another process.
async fn other_process(schema: &Schema) -> PgStore {
    PgStore::connect_with(&schema.url, Some(&schema.name))
        .await
        .unwrap()
}

/// Runs `side(store, round, which)` on both stores (`which` 0 and 1) for
/// every round, all at once, and gives each round's two results.
async fn both_at_once<T, F, Fut>(a: &PgStore, b: &PgStore, side: F) -> Vec<(T, T)>
where
    T: Send + 'static,
    F: Fn(PgStore, usize, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(2 * ROUNDS));
    let mut tasks = Vec::new();
    for round in 0..ROUNDS {
        for (which, store) in [a, b].into_iter().enumerate() {
            let (barrier, run) = (barrier.clone(), side(store.clone(), round, which));
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                run.await
            }));
        }
    }
    let mut out = Vec::new();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let mut results = results.into_iter();
    while let (Some(x), Some(y)) = (results.next(), results.next()) {
        out.push((x, y));
    }
    out
}

fn subscriber(email: &str, confirmed: bool) -> NewSubscriber {
    NewSubscriber {
        channel: "news".into(),
        email: email.into(),
        name: None,
        organisation: None,
        topics: vec!["news".into(), "training".into()],
        method: "form".into(),
        wording: "w".into(),
        client_addr: None,
        confirmed_at: confirmed.then(|| at(0)),
        override_suppression: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_time_link_used_by_two_processes_at_once_is_used_once() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = other_process(&schema).await;
    for round in 0..ROUNDS {
        let link = NewLink {
            hash: digest(&format!("secret {round}")),
            purpose: LinkPurpose::Password,
            email: Some("ann@example.org".into()),
            payload: None,
            expires_at: at(60),
        };
        a.create_link(&link, at(0)).await.unwrap();
    }
    let uses = both_at_once(&a, &b, |store, round, _| async move {
        let hash = digest(&format!("secret {round}"));
        store
            .consume_link(&hash, LinkPurpose::Password, at(1))
            .await
            .unwrap()
            .is_some()
    })
    .await;
    for (round, (x, y)) in uses.into_iter().enumerate() {
        assert!(
            x != y,
            "link {round}: used by {} processes",
            x as u8 + y as u8
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_confirming_twice_at_once_is_one_confirmation() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = other_process(&schema).await;
    let mut ids = Vec::new();
    for round in 0..ROUNDS {
        let new = subscriber(&format!("s{round}@example.org"), false);
        match a.add_subscriber(&new, at(0)).await.unwrap() {
            Added::Pending(s) => ids.push(s.id),
            other => panic!("{other:?}"),
        }
    }
    // The two clicks at different times: one of them is the confirmation,
    // on the subscriber and on every consent alike.
    let clicks = both_at_once(&a, &b, |store, round, which| {
        let id = ids[round];
        async move { store.confirm(id, at(1 + which as i64)).await.unwrap() }
    })
    .await;
    for (round, (x, y)) in clicks.into_iter().enumerate() {
        for sub in [x, y] {
            assert_eq!(sub.unwrap().status, Status::Confirmed, "round {round}");
        }
        let email = format!("s{round}@example.org");
        let sub = a.subscriber("news", &email).await.unwrap().unwrap();
        let export = a.export(&email).await.unwrap();
        let consents = export["subscriptions"][0]["consents"].as_array().unwrap();
        assert_eq!(consents.len(), 2, "{export}");
        for c in consents {
            assert_eq!(
                c["confirmed_at"],
                serde_json::json!(sub.confirmed_at),
                "round {round}: {export}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_address_added_by_two_processes_at_once_is_one_subscriber() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = other_process(&schema).await;
    let adds = both_at_once(&a, &b, |store, round, _| async move {
        let new = subscriber(&format!("s{round}@example.org"), false);
        store.add_subscriber(&new, at(0)).await.unwrap()
    })
    .await;
    for (round, (x, y)) in adds.into_iter().enumerate() {
        let (new, known) = match (x, y) {
            (Added::Pending(n), Added::Known(k)) | (Added::Known(k), Added::Pending(n)) => (n, k),
            other => panic!("round {round}: {other:?}"),
        };
        assert_eq!(new.id, known.id, "round {round}");
        let export = a.export(&new.email).await.unwrap();
        let consents = export["subscriptions"][0]["consents"].as_array().unwrap();
        assert_eq!(
            consents.len(),
            2,
            "round {round}: one consent a topic: {export}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soft_bounces_at_once_reach_the_limit_together() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = other_process(&schema).await;
    let mut ids = Vec::new();
    for round in 0..ROUNDS {
        let new = subscriber(&format!("s{round}@example.org"), true);
        match a.add_subscriber(&new, at(0)).await.unwrap() {
            Added::Confirmed(s) => ids.push(s.id),
            other => panic!("{other:?}"),
        }
    }
    // Two soft bounces, the limit, from two mailboxes read at once.
    let soft = SoftBounces {
        limit: 2,
        window: TimeDelta::days(30),
    };
    let applied = both_at_once(&a, &b, |store, round, which| {
        let event = BounceEvent {
            key: format!("<{round}.{which}@mx>"),
            channel: "news".into(),
            delivery_id: 7,
            subscriber_id: ids[round],
            kind: BounceKind::Soft,
            source: "mailbox".into(),
            status: Some("4.2.2".into()),
            detail: Some("mailbox full".into()),
        };
        async move { store.record_bounce(&event, soft, at(1)).await.unwrap() }
    })
    .await;
    for (round, (x, y)) in applied.into_iter().enumerate() {
        let mut both = [x, y];
        both.sort_by_key(|a| *a == BounceApplied::Suppressed);
        assert_eq!(
            both,
            [BounceApplied::Counted, BounceApplied::Suppressed],
            "round {round}"
        );
        let email = format!("s{round}@example.org");
        assert!(a.is_suppressed("news", &email).await.unwrap(), "{email}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signin_attempts_at_once_are_each_counted() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = other_process(&schema).await;
    let counts = both_at_once(&a, &b, |store, round, _| async move {
        let key = format!("ip {round}");
        store.record_attempt(&key, at(-10), at(0)).await.unwrap()
    })
    .await;
    for (round, (x, y)) in counts.into_iter().enumerate() {
        let mut both = [x, y];
        both.sort();
        assert_eq!(both, [1, 2], "round {round}: the second sees the first");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leaving_while_choosing_topics_leaves_no_topic_in_force() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = other_process(&schema).await;
    let mut ids = Vec::new();
    for round in 0..ROUNDS {
        let new = subscriber(&format!("s{round}@example.org"), true);
        match a.add_subscriber(&new, at(0)).await.unwrap() {
            Added::Confirmed(s) => ids.push(s.id),
            other => panic!("{other:?}"),
        }
    }
    let topics = vec!["news".to_string(), "training".into(), "events".into()];
    both_at_once(&a, &b, |store, round, which| {
        let (id, topics) = (ids[round], topics.clone());
        async move {
            match which {
                0 => store.set_topics(id, &topics, "w", None, at(1)).await,
                _ => store.unsubscribe(id, at(1)).await,
            }
            .unwrap()
        }
    })
    .await;
    // Either order is fine; a mix of the two (gone, with a topic) is not.
    for id in ids {
        let sub = a.subscriber_by_id(id).await.unwrap().unwrap();
        match sub.status {
            Status::Unsubscribed => assert!(sub.topics.is_empty(), "{sub:?}"),
            _ => assert_eq!(sub.topics, ["events", "news", "training"], "{sub:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_confirmation_resend_claimed_by_two_processes_at_once_goes_once() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = other_process(&schema).await;
    let mut ids = Vec::new();
    for round in 0..ROUNDS {
        let new = subscriber(&format!("s{round}@example.org"), false);
        match a.add_subscriber(&new, at(0)).await.unwrap() {
            Added::Pending(s) => ids.push(s.id),
            other => panic!("{other:?}"),
        }
    }
    let claims = both_at_once(&a, &b, |store, round, _| {
        let id = ids[round];
        async move { store.claim_resend(id, at(0), at(5)).await.unwrap() }
    })
    .await;
    for (round, (x, y)) in claims.into_iter().enumerate() {
        assert!(
            x != y,
            "round {round}: claimed by {} processes",
            x as u8 + y as u8
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_digest_choice_while_the_person_is_erased_is_dropped_with_them() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = other_process(&schema).await;
    let mut ids = Vec::new();
    for round in 0..ROUNDS {
        let new = subscriber(&format!("s{round}@example.org"), true);
        match a.add_subscriber(&new, at(0)).await.unwrap() {
            Added::Confirmed(s) => ids.push(s.id),
            other => panic!("{other:?}"),
        }
    }
    both_at_once(&a, &b, |store, round, which| {
        let id = ids[round];
        async move {
            match which {
                0 => store
                    .erase(&format!("s{round}@example.org"), &[], at(1))
                    .await
                    .map(drop),
                _ => {
                    let choice = (id, "news".to_string(), "weekly".to_string());
                    store.set_cadences(&[choice], at(1)).await
                }
            }
            .unwrap()
        }
    })
    .await;
    for id in ids {
        assert!(a.subscriber_by_id(id).await.unwrap().is_none());
        assert!(a.cadences(id).await.unwrap().is_empty(), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_imports_of_the_same_people_in_opposite_orders_both_finish() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = other_process(&schema).await;
    let people: Vec<NewSubscriber> = (0..ROUNDS)
        .map(|i| subscriber(&format!("s{i}@example.org"), true))
        .collect();
    let reversed: Vec<NewSubscriber> = people.iter().rev().cloned().collect();
    let (x, y) = tokio::join!(
        a.add_subscribers(&people, at(0)),
        b.add_subscribers(&reversed, at(0))
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    // Each address is new to one import and known to the other, and each
    // import's answers are in its own order.
    for (i, added) in x.iter().enumerate() {
        let theirs = &y[ROUNDS - 1 - i];
        let email = |a: &Added| match a {
            Added::Confirmed(s) | Added::Known(s) => s.email.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(email(added), format!("s{i}@example.org"));
        assert_eq!(email(theirs), format!("s{i}@example.org"));
        let new = [added, theirs]
            .iter()
            .filter(|a| matches!(a, Added::Confirmed(_)))
            .count();
        assert_eq!(new, 1, "s{i}: {added:?} {theirs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn someone_who_left_added_back_by_two_processes_at_once_comes_back_once() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = other_process(&schema).await;
    for round in 0..ROUNDS {
        let new = subscriber(&format!("s{round}@example.org"), true);
        let Added::Confirmed(s) = a.add_subscriber(&new, at(0)).await.unwrap() else {
            panic!("s{round}");
        };
        a.unsubscribe(s.id, at(1)).await.unwrap();
    }
    let adds = both_at_once(&a, &b, |store, round, _| async move {
        let new = subscriber(&format!("s{round}@example.org"), false);
        store.add_subscriber(&new, at(2)).await.unwrap()
    })
    .await;
    for (round, (x, y)) in adds.into_iter().enumerate() {
        match (&x, &y) {
            (Added::Pending(_), Added::Known(_)) | (Added::Known(_), Added::Pending(_)) => {}
            other => panic!("round {round}: {other:?}"),
        }
        let export = a.export(&format!("s{round}@example.org")).await.unwrap();
        let consents = export["subscriptions"][0]["consents"].as_array().unwrap();
        let open = consents.iter().filter(|c| c["withdrawn_at"].is_null());
        assert_eq!(open.count(), 2, "round {round}: {export}");
    }
}
