//! The contract suite on an in-memory and an on-disk database, plus what
//! only SQLite has: files, locks, damage, query plans, and a 1M-row bench.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection, Row};
use tempfile::TempDir;

use super::lease::{LEASE_SQL, WAKEUP_SQL};
use super::plan::PENDING_SQL;
use super::{schema, SqliteStore};
use crate::delivery::{Planned, State};
use crate::store::contract::{self, at, planned, LEASE};
use crate::store::{QueueFilter, Store, StoreError};
use crate::variant::Variant;

async fn in_memory() -> (SqliteStore, ()) {
    (SqliteStore::open_in_memory().await.unwrap(), ())
}

async fn on_file() -> (SqliteStore, TempDir) {
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open(&dir.path().join("data/crier.db"))
        .await
        .unwrap();
    (store, dir)
}

mod memory {
    use super::in_memory;
    crate::store::contract::contract_tests!(in_memory);
}

mod file {
    use super::on_file;
    crate::store::contract::contract_tests!(on_file);
}

async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leases_disjoint_across_two_stores_on_one_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    contract::lease_disjoint_concurrent(Arc::new(a), Arc::new(b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leases_disjoint_across_two_tasks_in_memory() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    contract::lease_disjoint_concurrent(store.clone(), store).await;
}

#[tokio::test]
async fn garbage_file_is_corrupt_and_named() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    std::fs::write(
        &path,
        b"these are not the bytes of a database\n".repeat(200),
    )
    .unwrap();
    match SqliteStore::open(&path).await {
        Err(StoreError::Corrupt(msg)) => {
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains("not a database"), "{msg}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn someone_elses_database_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("other.db");
    let mut conn = SqliteConnection::connect_with(
        &SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    sqlx::query("CREATE TABLE customers (id INTEGER)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    match SqliteStore::open(&path).await {
        Err(StoreError::Corrupt(msg)) => assert!(msg.contains("customers"), "{msg}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn unwritable_place_is_an_open_error_naming_the_path() {
    let dir = TempDir::new().unwrap();
    // A regular file where a directory should be fails even for root.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let path = blocker.join("data/crier.db");
    match SqliteStore::open(&path).await {
        Err(e @ StoreError::Open { .. }) => {
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        }
        other => panic!("expected Open, got {other:?}"),
    }
    // A directory where the file should be.
    match SqliteStore::open(dir.path()).await {
        Err(StoreError::Open { path, .. }) => assert_eq!(path, dir.path().display().to_string()),
        other => panic!("expected Open, got {other:?}"),
    }
}

#[tokio::test]
async fn a_held_write_lock_gives_locked_then_clears() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    let store = SqliteStore::open_with_busy_timeout(&path, Duration::from_millis(100))
        .await
        .unwrap();
    store
        .sync_plan(&[planned("a", "x", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let mut other = raw(&path).await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();

    let plan = [planned("b", "x", "at", 0, "t")];
    assert!(matches!(
        store.sync_plan(&plan, at(1)).await,
        Err(StoreError::Locked)
    ));
    assert!(matches!(
        store.lease_due(at(1), 5, LEASE).await,
        Err(StoreError::Locked)
    ));
    // WAL readers are not blocked by a writer.
    assert_eq!(store.list(&QueueFilter::default()).await.unwrap().len(), 1);

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(store.sync_plan(&plan, at(1)).await.unwrap().added, 1);
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_migrate_twice() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .sync_plan(&[planned("a", "x", "at", 0, "t")], at(0))
        .await
        .unwrap();
    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.list(&QueueFilter::default()).await.unwrap().len(), 1);
    let versions: Vec<i64> = sqlx::query("SELECT version FROM schema_version ORDER BY version")
        .fetch_all(&store.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=schema::CURRENT).collect::<Vec<_>>());
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query("PRAGMA foreign_keys")
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(fk, 1);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    let store = SqliteStore::open(&path).await.unwrap();
    sqlx::query("INSERT INTO schema_version (version) VALUES (999)")
        .execute(&store.pool)
        .await
        .unwrap();
    store.close().await;
    match SqliteStore::open(&path).await {
        Err(StoreError::Open { reason, .. }) => assert!(reason.contains("999"), "{reason}"),
        other => panic!("expected Open, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_data_in_a_row_is_corrupt_not_a_panic() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    store
        .sync_plan(&[planned("a", "x", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = store.list(&QueueFilter::default()).await.unwrap()[0].id;
    for damage in [
        "UPDATE deliveries SET state = 'exploded'",
        "UPDATE deliveries SET state = 'held', hold_reason = 'bored'",
        "UPDATE deliveries SET variant = '{not json'",
        "UPDATE deliveries SET attempts = -3",
        "UPDATE deliveries SET due_at = 'tuesday'",
        "UPDATE deliveries SET due_at = 9223372036854775807",
    ] {
        let mut tx = store.pool.begin().await.unwrap();
        sqlx::query(AssertSqlSafe(damage))
            .execute(&mut *tx)
            .await
            .unwrap();
        let got = super::ops::fetch(&mut tx, id).await;
        assert!(
            matches!(got, Err(StoreError::Corrupt(_))),
            "{damage}: {got:?}"
        );
        tx.rollback().await.unwrap();
    }
    sqlx::query("UPDATE deliveries SET state = 'exploded'")
        .execute(&store.pool)
        .await
        .unwrap();
    assert!(matches!(store.get(id).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(
        store.list(&QueueFilter::default()).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(store.counts().await, Err(StoreError::Corrupt(_))));
    let cancel = crate::store::Change {
        from: vec![State::Planned],
        to: State::Cancelled,
        hold_reason: None,
        due_at: None,
        approve: false,
        actor: crate::delivery::Actor::Cli,
        reason: "x".into(),
    };
    assert!(matches!(
        store.change(id, &cancel, at(1)).await,
        Err(StoreError::Corrupt(_))
    ));
    sqlx::query("UPDATE transitions SET actor = 'ghost'")
        .execute(&store.pool)
        .await
        .unwrap();
    assert!(matches!(
        store.history(id).await,
        Err(StoreError::Corrupt(_))
    ));
}

/// The hot queries must stay index searches however big the table grows.
#[tokio::test]
async fn hot_queries_use_indexes() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let plan: Vec<Planned> = (0..2000)
        .map(|i| planned(&format!("i{i}"), "x", "at", i, "t"))
        .collect();
    store.insert_many_for_bench(&plan).await.unwrap();
    sqlx::query("ANALYZE").execute(&store.pool).await.unwrap();
    let expired = "SELECT id FROM deliveries WHERE state = 'in_flight' AND lease_expires_at <= 5";
    for sql in [WAKEUP_SQL, LEASE_SQL, PENDING_SQL, expired] {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let steps: Vec<String> = sqlx::query(AssertSqlSafe(explain))
            .bind(1_i64)
            .bind(2_i64)
            .bind(3_i64)
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect();
        // A scan is allowed only of a partial index, which holds just the
        // rows in the states asked for.
        let bad =
            |s: &String| s.starts_with("SCAN deliveries") && !s.contains("deliveries_pending");
        assert!(!steps.iter().any(bad), "{sql}\n{steps:#?}");
        println!("{steps:#?}");
    }
}

fn bench_rows(from: usize, to: usize) -> Vec<Planned> {
    const CHANNELS: [&str; 4] = ["mastodon", "bluesky", "email", "linkedin"];
    (from..to)
        .map(|i| {
            let mut p = planned(
                &format!("item-{:06}", i / 4),
                CHANNELS[i % 4],
                "at",
                0,
                "Join our free multi-agency training on recognising neglect. Book now.",
            );
            p.due_at = at(0) + chrono::Duration::seconds(i as i64);
            p.fingerprint = format!("{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            p
        })
        .collect()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// `cargo test --release --lib store::sqlite::tests::bench_one_million -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: ~20 s in release, several hundred MB of temp disk"]
async fn bench_one_million() {
    const N: usize = 1_000_000;
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open(&dir.path().join("bench.db"))
        .await
        .unwrap();

    let started = Instant::now();
    for chunk in (0..N).step_by(100_000) {
        let rows = bench_rows(chunk, chunk + 100_000);
        assert_eq!(
            store.insert_many_for_bench(&rows).await.unwrap(),
            rows.len() as u64
        );
    }
    println!(
        "insert {N} planned rows (10 transactions of 100k): {:?}",
        started.elapsed()
    );

    // Times one expression, `runs` times, and gives the median.
    macro_rules! median_of {
        ($runs:expr, $body:expr) => {{
            let mut runs = Vec::new();
            for _ in 0..$runs {
                let t = Instant::now();
                $body;
                runs.push(t.elapsed());
            }
            median(runs)
        }};
    }
    let wakeup = median_of!(21, store.next_wakeup().await.unwrap().unwrap());
    println!("next_wakeup: median {wakeup:?}");

    // An hour after the first due time: 3600 rows due, 50 leased per call.
    let now = at(60);
    let lease = median_of!(
        20,
        assert_eq!(store.lease_due(now, 50, LEASE).await.unwrap().len(), 50)
    );
    println!("lease_due(limit 50), 3600 due of 1M: median {lease:?}");
    // Everything due at once (the daemon was down for a year).
    let far = at(60 * 24 * 365);
    let lease = median_of!(
        20,
        assert_eq!(store.lease_due(far, 50, LEASE).await.unwrap().len(), 50)
    );
    println!("lease_due(limit 50), all 1M due: median {lease:?}");
    let t = Instant::now();
    let expired = store.expired_leases(far).await.unwrap();
    println!("expired_leases ({} rows): {:?}", expired.len(), t.elapsed());
    let counts = median_of!(5, store.counts().await.unwrap());
    println!("counts: median {counts:?}");
    let page = QueueFilter {
        limit: Some(50),
        ..QueueFilter::default()
    };
    let list = median_of!(5, store.list(&page).await.unwrap());
    println!("list(limit 50): median {list:?}");

    // Worst case for sync: ~1M rows pending, and sync must read them all.
    let t = Instant::now();
    let pending = sqlx::query(PENDING_SQL)
        .fetch_all(&store.pool)
        .await
        .unwrap()
        .len();
    println!(
        "read {pending} pending keys (sync's O(pending) part): {:?}",
        t.elapsed()
    );

    // The realistic case: a long history of sent rows and 400 pending.
    sqlx::query("UPDATE deliveries SET state = 'sent', lease_expires_at = NULL WHERE id <= $1")
        .bind((N - 400) as i64)
        .execute(&store.pool)
        .await
        .unwrap();
    let plan: Vec<Planned> = bench_rows(N - 400, N)
        .into_iter()
        .filter(|p| p.channel == "mastodon")
        .collect();
    let t = Instant::now();
    let first = store.sync_plan(&plan, at(0)).await.unwrap();
    println!(
        "sync_plan of {} on 1M rows, 400 pending: {first:?} in {:?}",
        plan.len(),
        t.elapsed()
    );
    let same = median_of!(11, store.sync_plan(&plan, at(0)).await.unwrap());
    println!("sync_plan, nothing changed: median {same:?}");
    let edited: Vec<Planned> = plan
        .iter()
        .map(|p| Planned {
            fingerprint: format!("{}-edited", p.fingerprint),
            ..p.clone()
        })
        .collect();
    let t = Instant::now();
    let summary = store.sync_plan(&edited, at(0)).await.unwrap();
    println!("sync_plan, all edited: {summary:?} in {:?}", t.elapsed());
}

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
            variant: Variant::document(&format!("i{i}"), "c", "test", String::new()),
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
                variant: Variant::document("i", "news", "test", String::new()),
                fingerprint: "f".into(),
                requires_approval: false,
            }],
            t0,
        )
        .await
        .unwrap();
    let d = store.lease_due(t0, 1, LEASE).await.unwrap()[0].id;
    let lists = store.lists();
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
    let all = lists.pending_recipients(d, "news", &topics).await.unwrap();
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
    let owed = lists.still_owed(d, "news", &topics, &ids).await.unwrap();
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

/// Migration 4 puts right consents imported before it: those recorded the
/// import time as given_at and the stated consent time as confirmed_at.
#[tokio::test]
async fn migration_4_records_imported_consent_as_given_when_stated() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    let store = SqliteStore::open(&path).await.unwrap();
    for sql in [
        "INSERT INTO subscribers (id, channel, email, email_hash, status, created_at, confirmed_at)
         VALUES (1, 'news', 'a@example.org', 'h1', 'confirmed', 5000, 1000),
                (2, 'news', 'b@example.org', 'h2', 'confirmed', 5000, 9000)",
        // Inside out (stated time 1000, imported at 5000), and a pending
        // import confirmed by its click at 9000 (already right).
        "INSERT INTO consents (subscriber_id, topic, method, given_at, wording, confirmed_at)
         VALUES (1, 'news', 'import', 5000, 'w', 1000), (2, 'news', 'import', 5000, 'w', 9000)",
        // Back to schema 3, as a database in the field is.
        "ALTER TABLE consents DROP COLUMN imported_at",
        "ALTER TABLE subscribers DROP COLUMN confirm_resent_at",
        "DELETE FROM schema_version WHERE version >= 4",
    ] {
        sqlx::query(AssertSqlSafe(sql))
            .execute(&store.pool)
            .await
            .unwrap();
    }
    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    let rows: Vec<(i64, i64, i64)> = sqlx::query(
        "SELECT given_at, confirmed_at, imported_at FROM consents ORDER BY subscriber_id",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    assert_eq!(rows, [(1000, 1000, 5000), (5000, 9000, 5000)]);
}
