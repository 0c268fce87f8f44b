//! Writes that share one statement or one commit: outcome writes of many
//! workers, and a batch of recipients' outcomes.

use std::time::Duration;

use crate::delivery::{Planned, State};
use crate::store::contract::LEASE;
use crate::store::lists::EVERY_ITEM;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use crate::variant::Variant;

/// Outcome writes arriving together share a commit; one refused write
/// (a lapsed lease) neither fails nor undoes the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_writes_commit_together_and_fail_alone() {
    use crate::delivery::Receipt;
    use chrono::TimeZone;
    let store = std::sync::Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let t0 = chrono::Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    let plan: Vec<Planned> = (0..50)
        .map(|i| Planned {
            item: format!("i{i}"),
            channel: "c".into(),
            occasion: "at".into(),
            due_at: t0,
            variant: Some(Variant::document(&format!("i{i}"), "c", "test", String::new()).into()),
            fingerprint: format!("f{i}"),
            requires_approval: false,
        })
        .collect();
    store.sync_plan(&plan, t0).await.unwrap();
    let leased = store
        .lease_due(t0, 50, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(leased.len(), 50);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, d) in leased.iter().enumerate() {
        let store = store.clone();
        let id = d.id;
        // The last one comes after its lease ran out: it must be refused.
        let now = if i == 49 {
            t0 + chrono::TimeDelta::seconds(120)
        } else {
            t0
        };
        tasks.spawn(async move {
            let started = store.mark_request_started(id, now).await;
            if started.is_ok() {
                let receipt = Receipt {
                    remote_id: Some(format!("r{id}")),
                    remote_url: None,
                };
                store.record_sent(id, &receipt, now, "sent").await.unwrap();
            }
            (id, started.is_ok())
        });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        let (id, started) = r.unwrap();
        let d = store.get(id).await.unwrap().unwrap();
        if started {
            ok += 1;
            assert_eq!(d.state, State::Sent);
            assert_eq!(d.remote_id.as_deref(), Some(format!("r{id}").as_str()));
            let reasons: Vec<String> = store
                .history(id)
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.reason)
                .collect();
            assert!(
                reasons.iter().any(|r| r == "request started")
                    && reasons.iter().any(|r| r == "sent"),
                "{reasons:?}"
            );
        } else {
            assert_eq!(d.state, State::InFlight);
            assert!(d.request_started_at.is_none());
        }
    }
    assert_eq!(ok, 49);
}

/// A batch of outcomes is one statement: rows land, a repeat updates and
/// counts the attempt, a bounce suppresses; and a batch checked again
/// drops whoever left or already has a final outcome.
#[tokio::test]
async fn recipient_outcomes_in_a_batch_and_the_recheck_before_sending() {
    use crate::store::lists::{NewSubscriber, RecipientOutcome, RecipientState};
    use chrono::TimeZone;
    let store = SqliteStore::open_in_memory().await.unwrap();
    let t0 = chrono::Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    store
        .sync_plan(
            &[Planned {
                item: "i".into(),
                channel: "news".into(),
                occasion: "at".into(),
                due_at: t0,
                variant: Some(Variant::document("i", "news", "test", String::new()).into()),
                fingerprint: "f".into(),
                requires_approval: false,
            }],
            t0,
        )
        .await
        .unwrap();
    let d = store.lease_due(t0, 1, LEASE).await.unwrap()[0].id;
    let lists: &dyn crate::store::lists::Lists = &store;
    let new: Vec<NewSubscriber> = (0..5)
        .map(|i| NewSubscriber {
            channel: "news".into(),
            email: format!("p{i}@example.org"),
            name: None,
            organisation: None,
            topics: vec!["t".into()],
            method: "import".into(),
            wording: "w".into(),
            client_addr: None,
            confirmed_at: Some(t0),
            override_suppression: false,
        })
        .collect();
    lists.add_subscribers(&new, t0).await.unwrap();
    let topics = vec!["t".to_string()];
    let all = lists
        .pending_recipients(d, "news", &topics, EVERY_ITEM)
        .await
        .unwrap();
    let ids: Vec<i64> = all.iter().map(|r| r.subscriber_id).collect();
    assert_eq!(ids.len(), 5);
    let outcome = |i: usize, state| RecipientOutcome {
        subscriber_id: ids[i],
        email: all[i].email.clone(),
        state,
        detail: None,
    };
    let batch = [
        outcome(0, RecipientState::Sent),
        outcome(1, RecipientState::Deferred),
        outcome(2, RecipientState::Bounced),
    ];
    lists
        .record_recipients(d, "news", &batch, 1, t0)
        .await
        .unwrap();
    let p = lists.progress(d).await.unwrap();
    assert_eq!((p.sent, p.deferred, p.bounced), (1, 1, 1));
    // The deferred one is still owed; a sent or bounced one is not.
    lists.unsubscribe(ids[3], t0).await.unwrap();
    let owed = lists
        .still_owed(d, "news", &topics, EVERY_ITEM, &ids)
        .await
        .unwrap();
    assert_eq!(owed, vec![ids[1], ids[4]]);
    // Its retry lands on the same row.
    lists
        .record_recipients(d, "news", &[outcome(1, RecipientState::Sent)], 1, t0)
        .await
        .unwrap();
    let p = lists.progress(d).await.unwrap();
    assert_eq!((p.sent, p.deferred, p.bounced), (2, 0, 1));
    assert!(lists.is_suppressed("news", "p2@example.org").await.unwrap());
}

/// A burst has a thousand deliveries in flight: the batch statements look
/// each of the batch's rows up by id, never read every in-flight row (and
/// scan the batch for each: a burst's sends went out at ~900/s, on tmpfs
/// as on disk). Seen failing with `deliveries.state = 'in_flight'`.
#[tokio::test]
async fn batch_statements_find_their_rows_by_id() {
    use crate::store::sqlite::group::{SENT_SQL, STARTED_SQL};
    use sqlx::{AssertSqlSafe, Row};
    let store = SqliteStore::open_in_memory().await.unwrap();
    let t0 = crate::store::contract::at(0);
    let plan: Vec<Planned> = (0..2000)
        .map(|i| crate::store::contract::planned(&format!("i{i}"), "news", "at", 0, "t"))
        .collect();
    store.insert_many_for_bench(&plan).await.unwrap();
    store.lease_due(t0, 1000, LEASE).await.unwrap();
    // No ANALYZE, as a daemon's store: with it, SQLite guessed right.
    let batch = r#"[{"id": 5, "at": 1}, {"id": 6, "at": 1}]"#;
    for sql in [SENT_SQL, STARTED_SQL] {
        let steps: Vec<String> = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .bind(batch)
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect();
        let by_id = |s: &String| s.contains("deliveries USING INTEGER PRIMARY KEY");
        assert!(steps.iter().any(by_id), "{sql}\n{steps:#?}");
    }
}
