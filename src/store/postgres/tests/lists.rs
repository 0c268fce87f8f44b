//! Mailing lists on PostgreSQL beyond the contract suite (`tests/mod.rs`
//! runs that): the recipients' records of a send, the listing filters,
//! the index feeds read, and the fence on a send taken over.

use super::testing;
use super::PgStore;
use crate::store::contract::at;
use crate::store::lists::{Added, Lists, NewSubscriber, RecipientOutcome, RecipientState, Status};
use crate::store::StoreError;

/// A feed's read of its channel's newest sends walks the partial index of
/// sent rows backwards and stops at the limit: no scan of the channel's
/// history, no sort.
#[tokio::test]
async fn sent_latest_scans_the_sent_index_backwards() {
    let Some((store, _schema)) = testing::fresh().await else {
        return;
    };
    many_sends(&store).await;
    let explain = format!("EXPLAIN {}", crate::store::channel::SENT_LATEST);
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(explain))
        .bind("news")
        .bind(50_i64)
        .fetch_all(&store.pool)
        .await
        .unwrap();
    let plan = plan.join("\n");
    assert!(
        plan.contains("Index Scan Backward using deliveries_sent_latest") && !plan.contains("Sort"),
        "{plan}"
    );
}

/// A digest's read of its period is an index range on due time: the
/// period's rows, not the channel's history. (The planner may take
/// `deliveries_channel_due` or the calendar's (due_at, channel, …); both
/// bound the scan by the period.)
#[tokio::test]
async fn sent_in_period_reads_the_channels_due_range() {
    let Some((store, _schema)) = testing::fresh().await else {
        return;
    };
    many_sends(&store).await;
    let explain = format!("EXPLAIN {}", crate::store::channel::SENT_IN_PERIOD);
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(explain))
        .bind("news")
        .bind(5000_i64)
        .bind(5200_i64)
        .fetch_all(&store.pool)
        .await
        .unwrap();
    let plan = plan.join("\n");
    let bounded = plan.lines().any(|l| {
        l.contains("Index Cond") && l.contains("due_at >= '5000'") && l.contains("due_at < '5200'")
    });
    assert!(bounded && !plan.contains("Seq Scan"), "{plan}");
}

/// 20,000 rows on two channels, due and sent at 1 ms to 20,000 ms, a
/// tenth still planned; analysed, as a server's autovacuum would have.
async fn many_sends(store: &PgStore) {
    sqlx::query(
        "INSERT INTO deliveries (item, channel, occasion, state, due_at, sent_at, variant,
                                 fingerprint, created_at, updated_at)
         SELECT 'i' || g, CASE WHEN g % 2 = 0 THEN 'news' ELSE 'social' END, 'at',
                CASE WHEN g % 10 = 0 THEN 'planned' ELSE 'sent' END, g,
                CASE WHEN g % 10 = 0 THEN NULL ELSE g END, '{}', 'f', 0, 0
         FROM generate_series(1, 20000) AS g",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE deliveries")
        .execute(&store.pool)
        .await
        .unwrap();
}

/// A delivery row for recipients to refer to (their foreign key).
/// A list send in flight, leased by `store`'s process.
async fn delivery(store: &PgStore) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO deliveries (item, channel, occasion, state, due_at, variant, fingerprint,
                                 created_at, updated_at, leased_from)
         VALUES ('issue-1', 'news', 'at', 'in_flight', 0, '{}', 'f', 0, 0, $1) RETURNING id",
    )
    .bind(&store.owner)
    .fetch_one(&store.pool)
    .await
    .unwrap()
}

async fn confirmed(store: &PgStore, email: &str) -> i64 {
    let new = NewSubscriber {
        channel: "news".into(),
        email: email.into(),
        name: None,
        organisation: None,
        topics: vec!["news".into()],
        method: "import".into(),
        wording: "w".into(),
        client_addr: None,
        confirmed_at: Some(at(0)),
        override_suppression: false,
    };
    match store.add_subscriber(&new, at(0)).await.unwrap() {
        Added::Confirmed(s) => s.id,
        other => panic!("{email}: {other:?}"),
    }
}

fn outcome(id: i64, email: &str, state: RecipientState, detail: Option<&str>) -> RecipientOutcome {
    RecipientOutcome {
        subscriber_id: id,
        email: email.into(),
        state,
        detail: detail.map(Into::into),
    }
}

/// One batch records each recipient's outcome; a hard bounce at the limit
/// suppresses; the owed are those without a final outcome; a second try
/// counts as an attempt; the progress and counts read them back.
#[tokio::test]
async fn recipients_are_recorded_a_batch_at_once_and_read_back() {
    let Some((store, _schema)) = testing::fresh().await else {
        return;
    };
    let d = delivery(&store).await;
    let ann = confirmed(&store, "ann@example.org").await;
    let bob = confirmed(&store, "bob@example.org").await;
    let cat = confirmed(&store, "cat@example.org").await;
    let topics = vec!["news".to_string()];
    let owed = store.pending_recipients(d, "news", &topics, "item").await;
    assert_eq!(owed.unwrap().len(), 3);

    let first = [
        outcome(ann, "ann@example.org", RecipientState::Sent, None),
        outcome(
            bob,
            "bob@example.org",
            RecipientState::Bounced,
            Some("550 no"),
        ),
        outcome(
            cat,
            "cat@example.org",
            RecipientState::Deferred,
            Some("421 later"),
        ),
    ];
    store
        .record_recipients(d, "news", &first, 1, at(1))
        .await
        .unwrap();
    let p = store.progress(d).await.unwrap();
    assert_eq!((p.sent, p.bounced, p.deferred), (1, 1, 1));
    assert_eq!(
        p.problems,
        [
            ("bob@example.org".to_string(), "550 no".to_string()),
            ("cat@example.org".to_string(), "421 later".to_string())
        ]
    );
    let bobs = store.subscriber_by_id(bob).await.unwrap().unwrap();
    assert_eq!((bobs.status, bobs.bounces), (Status::Unsubscribed, 1));
    assert!(store
        .is_suppressed("news", "bob@example.org")
        .await
        .unwrap());
    let owed = store.pending_recipients(d, "news", &topics, "item").await;
    let owed: Vec<i64> = owed.unwrap().iter().map(|r| r.subscriber_id).collect();
    assert_eq!(owed, [cat]);
    let all = [ann, bob, cat];
    let still = store.still_owed(d, "news", &topics, "item", &all).await;
    assert_eq!(still.unwrap(), [cat]);

    // Cat twice in one batch: the last outcome stands, as one attempt more.
    let second = [
        outcome(
            cat,
            "cat@example.org",
            RecipientState::Deferred,
            Some("421"),
        ),
        outcome(cat, "cat@example.org", RecipientState::Sent, None),
    ];
    store
        .record_recipients(d, "news", &second, 1, at(2))
        .await
        .unwrap();
    let attempts: i64 =
        sqlx::query_scalar("SELECT attempts FROM recipients WHERE subscriber_id = $1")
            .bind(cat)
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 2);
    let p = store.progress(d).await.unwrap();
    assert_eq!((p.sent, p.bounced, p.deferred), (2, 1, 0));
    assert_eq!(
        store.sent_since("news", at(0)).await.unwrap(),
        (2, Some(at(1)))
    );
    assert_eq!(store.sent_since("news", at(3)).await.unwrap(), (0, None));
    assert_eq!(
        store.recipient_counts().await.unwrap(),
        [
            ("news".to_string(), "bounced".to_string(), 1),
            ("news".to_string(), "sent".to_string(), 2)
        ]
    );
    let export = store.export("ann@example.org").await.unwrap();
    let messages = &export["subscriptions"][0]["messages"];
    assert_eq!(messages[0]["item"], "issue-1", "{export}");
    assert_eq!(messages[0]["state"], "sent", "{export}");
}

/// The team's listing, by channel and topic (either left out: all).
#[tokio::test]
async fn subscribers_are_listed_by_channel_and_topic() {
    let Some((store, _schema)) = testing::fresh().await else {
        return;
    };
    let ann = confirmed(&store, "ann@example.org").await;
    confirmed(&store, "bob@example.org").await;
    let topics = ["training".to_string()];
    store
        .set_topics(ann, &topics, "w", Some("192.0.2.1"), at(1))
        .await
        .unwrap();
    let emails = |subs: Vec<crate::store::lists::Subscriber>| -> Vec<String> {
        subs.into_iter().map(|s| s.email).collect()
    };
    let all = store.subscribers(None, None).await.unwrap();
    assert_eq!(emails(all), ["ann@example.org", "bob@example.org"]);
    let news = store.subscribers(Some("news"), Some("news")).await.unwrap();
    assert_eq!(emails(news), ["bob@example.org"]);
    let training = store.subscribers(None, Some("training")).await.unwrap();
    assert_eq!(emails(training), ["ann@example.org"]);
    assert!(store
        .subscribers(Some("other"), None)
        .await
        .unwrap()
        .is_empty());
}

/// A process whose list send was taken over by another cannot record
/// recipients for it any more: its next batch is refused, so it stops
/// instead of sending on beside the other (seen failing: both recorded).
#[tokio::test]
async fn recipients_of_a_send_another_process_took_over_are_refused() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = PgStore::connect_with(&schema.url, Some(&schema.name))
        .await
        .unwrap();
    let d = delivery(&a).await;
    let ann = confirmed(&a, "ann@example.org").await;
    let sent = [outcome(ann, "ann@example.org", RecipientState::Sent, None)];
    a.record_recipients(d, "news", &sent, 1, at(1))
        .await
        .unwrap();
    // b resumes the send (its lease, as after a takeover).
    sqlx::query("UPDATE deliveries SET leased_from = $1 WHERE id = $2")
        .bind(&b.owner)
        .bind(d)
        .execute(&a.pool)
        .await
        .unwrap();
    let e = a.record_recipients(d, "news", &sent, 1, at(2)).await;
    assert!(matches!(e, Err(StoreError::WrongState { .. })), "{e:?}");
    b.record_recipients(d, "news", &sent, 1, at(3))
        .await
        .unwrap();
    assert_eq!(a.progress(d).await.unwrap().sent, 1);
}
