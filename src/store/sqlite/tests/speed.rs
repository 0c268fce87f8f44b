//! How the queries scale: the hot ones stay index searches, and a 1M-row
//! benchmark (ignored by default) times them.

use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Row};
use tempfile::TempDir;

use crate::delivery::Planned;
use crate::store::contract::{at, planned, LEASE};
use crate::store::rows::SUMMARY_COLUMNS;
use crate::store::sqlite::lease::{LEASE_SQL, WAKEUP_SQL};
use crate::store::sqlite::queries::{list_query, list_sql};
use crate::store::sqlite::SqliteStore;
use crate::store::{QueueFilter, Store};

/// The hot queries must stay index searches however big the table grows.
#[tokio::test]
async fn hot_queries_use_indexes() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let plan: Vec<Planned> = (0..2000)
        .map(|i| planned(&format!("i{i}"), "news", "at", i, "t"))
        .collect();
    store.insert_many_for_bench(&plan).await.unwrap();
    sqlx::query("ANALYZE").execute(&store.pool).await.unwrap();
    let expired = "SELECT id FROM deliveries WHERE state = 'in_flight' AND lease_expires_at <= 5";
    for sql in [WAKEUP_SQL, LEASE_SQL, expired] {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let steps: Vec<String> = sqlx::query(AssertSqlSafe(explain))
            .bind(1_i64)
            .bind(2_i64)
            .bind(3_i64)
            .bind(4_i64)
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect();
        let scans = |s: &String| s.starts_with("SCAN deliveries");
        assert!(!steps.iter().any(scans), "{sql}\n{steps:#?}");
        println!("{steps:#?}");
    }
}

/// The console's listings (a calendar's month, by channel, page after
/// page; what awaits approval) read their rows in due order from an
/// index: no full scan, no sort of every candidate; one item's deliveries
/// are found by item (and only those sorted). Planned without `ANALYZE`,
/// as a database in use is.
#[tokio::test]
async fn console_listings_read_in_due_order_from_an_index() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let plan: Vec<Planned> = bench_rows(0, 4000)
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            p.requires_approval = i % 20 == 0;
            p
        })
        .collect();
    store.insert_many_for_bench(&plan).await.unwrap();
    let month = QueueFilter {
        due_from: Some(at(10)),
        due_before: Some(at(50)),
        limit: Some(501),
        ..QueueFilter::default()
    };
    let filters = [
        month.clone(),
        QueueFilter {
            channel: Some("chat".into()),
            ..month.clone()
        },
        QueueFilter {
            channel: Some("chat".into()),
            after: Some((at(20), 7)),
            ..month
        },
        QueueFilter {
            awaiting_approval: true,
            limit: Some(501),
            ..QueueFilter::default()
        },
        QueueFilter {
            item: Some("item-000042".into()),
            limit: Some(501),
            ..QueueFilter::default()
        },
    ];
    for f in &filters {
        let sql = format!("EXPLAIN QUERY PLAN {}", list_sql(f, SUMMARY_COLUMNS));
        let steps: Vec<String> = list_query(&sql, f)
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect();
        let sorts = |s: &String| s.contains("TEMP B-TREE") && f.item.is_none();
        let bad = |s: &String| s.starts_with("SCAN deliveries") || sorts(s);
        assert!(!steps.iter().any(bad), "{f:?}\n{steps:#?}");
        // And the listing finds what it should.
        assert!(!store.list_summaries(f).await.unwrap().is_empty(), "{f:?}");
    }
}

fn bench_rows(from: usize, to: usize) -> Vec<Planned> {
    const CHANNELS: [&str; 4] = ["social", "chat", "email", "alerts"];
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

/// `cargo test --release --lib store::sqlite::tests::speed::bench_one_million -- --ignored --nocapture`
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

    // Worst case for sync: every one of 1M pending rows gone from content.
    let t = Instant::now();
    let gone = store.sync_plan(&[], at(0)).await.unwrap();
    println!(
        "sync_plan of an empty plan over {N} pending rows: {gone:?} in {:?}",
        t.elapsed()
    );

    // The realistic case: a long history of sent rows and 400 pending.
    sqlx::query(
        "UPDATE deliveries SET lease_expires_at = NULL,
             state = CASE WHEN id <= $1 THEN 'sent' ELSE 'planned' END",
    )
    .bind((N - 400) as i64)
    .execute(&store.pool)
    .await
    .unwrap();
    let plan: Vec<Planned> = bench_rows(N - 400, N)
        .into_iter()
        .filter(|p| p.channel == "social")
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
