//! What only the SQLite sync can show: work larger than a chunk, a lease
//! taken between the difference and its chunk, nothing committed when
//! nothing changed, and the difference read through the indexes.

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, Connection, Row, SqliteConnection};
use tempfile::TempDir;

use super::{add_and_update, cancel_gone, stage, GONE_SQL, TODO_SQL};
use super::{CANCEL_CHUNK, PLAN_CHUNK};
use super::{CANCEL_LOG_SQL, CANCEL_SQL, CHANGED_SQL};
use crate::delivery::{Planned, State};
use crate::store::contract::{at, planned, LEASE};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, SyncSummary};

fn items(prefix: &str, n: usize, text: &str) -> Vec<Planned> {
    (0..n)
        .map(|i| planned(&format!("{prefix}{i:05}"), "news", "at", 0, text))
        .collect()
}

async fn on_file() -> (SqliteStore, TempDir) {
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open(&dir.path().join("crier.db"))
        .await
        .unwrap();
    (store, dir)
}

/// How many audit rows lead to `state`.
async fn logged(store: &SqliteStore, to: State) -> i64 {
    sqlx::query("SELECT count(*) FROM transitions WHERE to_state = $1")
        .bind(to.as_str())
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .get(0)
}

async fn in_state(store: &SqliteStore, state: State) -> i64 {
    sqlx::query("SELECT count(*) FROM deliveries WHERE state = $1")
        .bind(state.as_str())
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn more_than_a_chunk_is_added_updated_and_cancelled_whole() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let old = items("old", 2 * CANCEL_CHUNK as usize + 1, "t");
    let added = store.sync_plan(&old, at(0)).await.unwrap();
    assert_eq!(added.added, old.len());

    let new = items("new", 2 * PLAN_CHUNK as usize + 1, "t");
    let summary = store.sync_plan(&new, at(1)).await.unwrap();
    let expected = SyncSummary {
        added: new.len(),
        updated: 0,
        cancelled: old.len(),
        unchanged: 0,
        unrendered: Vec::new(),
    };
    assert_eq!(summary, expected);
    assert_eq!(in_state(&store, State::Cancelled).await, old.len() as i64);
    assert_eq!(in_state(&store, State::Planned).await, new.len() as i64);
    assert_eq!(logged(&store, State::Cancelled).await, old.len() as i64);
    assert_eq!(
        logged(&store, State::Planned).await,
        (old.len() + new.len()) as i64
    );

    // Every other entry edited: the changed ones are spread over every chunk.
    let edited: Vec<Planned> = new
        .iter()
        .enumerate()
        .map(|(i, p)| match i % 2 {
            0 => planned(&p.item, "news", "at", 0, "edited"),
            _ => p.clone(),
        })
        .collect();
    let summary = store.sync_plan(&edited, at(2)).await.unwrap();
    assert_eq!((summary.updated, summary.unchanged), (501, 500));
    let texts: Vec<String> =
        sqlx::query("SELECT variant FROM deliveries WHERE state = 'planned' ORDER BY item")
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    for (i, variant) in texts.iter().enumerate() {
        let want = if i % 2 == 0 { "edited" } else { "\"t\"" };
        assert!(variant.contains(want), "{i}: {variant}");
    }
}

/// The difference is taken before its chunks are written; a delivery the
/// dispatcher leases in between is in flight, and neither cancelled nor
/// edited under it.
#[tokio::test]
async fn a_delivery_leased_after_the_difference_is_left_alone() {
    let (store, _dir) = on_file().await;
    let plan = [
        planned("gone", "news", "at", 0, "t"),
        planned("edited", "news", "at", 1, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let mut conn = store.pool.acquire().await.unwrap();
    let next = [planned("edited", "news", "at", 1, "t2")];
    stage(&mut conn, &next).await.unwrap();
    sqlx::query(TODO_SQL).execute(&mut *conn).await.unwrap();
    sqlx::query(GONE_SQL).execute(&mut *conn).await.unwrap();

    let leased = store.lease_due(at(5), 2, LEASE).await.unwrap();
    assert_eq!(leased.len(), 2);
    assert_eq!(cancel_gone(&mut conn, at(6)).await.unwrap(), 0);
    assert_eq!(
        add_and_update(&mut conn, &next, at(6)).await.unwrap(),
        (0, 0, Vec::new())
    );
    for d in leased {
        let now = store.get(d.id).await.unwrap().unwrap();
        assert_eq!(
            (now.state, now.fingerprint),
            (State::InFlight, d.fingerprint)
        );
        let last = store.history(d.id).await.unwrap().pop().unwrap();
        assert_eq!(last.to, State::InFlight);
    }
}

/// How many commits other connections have made, as `conn` can tell.
async fn data_version(conn: &mut SqliteConnection) -> i64 {
    sqlx::query("PRAGMA data_version")
        .fetch_one(conn)
        .await
        .unwrap()
        .get(0)
}

/// "Touches nothing" as SQLite sees it: another connection's
/// `data_version` moves on every commit by someone else, and an unchanged
/// reload makes none.
#[tokio::test]
async fn unchanged_content_commits_nothing() {
    let (store, dir) = on_file().await;
    let plan = items("i", 50, "t");
    store.sync_plan(&plan, at(0)).await.unwrap();
    let leased = store.lease_due(at(1), 5, LEASE).await.unwrap();
    store
        .record_failed(leased[0].id, "refused", at(1))
        .await
        .unwrap();
    let options = SqliteConnectOptions::new().filename(dir.path().join("crier.db"));
    let mut other = SqliteConnection::connect_with(&options).await.unwrap();
    let before = data_version(&mut other).await;

    let summary = store.sync_plan(&plan, at(2)).await.unwrap();
    assert_eq!(summary.unchanged, 50);
    assert_eq!(data_version(&mut other).await, before, "a reload wrote");

    // The measure can fail: one edit is a commit.
    let mut edited = plan.clone();
    edited[40] = planned(&plan[40].item, "news", "at", 0, "t2");
    assert_eq!(store.sync_plan(&edited, at(3)).await.unwrap().updated, 1);
    assert_ne!(data_version(&mut other).await, before);
}

/// The difference reads the queue's indexes, never every row of the table:
/// pending rows from the partial covering index, plan keys by the unique
/// key; each chunk reaches deliveries by id only (a walk over every
/// pending row per chunk would make a large cancel quadratic). Checked
/// without statistics (crier runs no ANALYZE) and with.
#[tokio::test]
async fn the_difference_and_its_chunks_read_through_indexes() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let plan = items("i", 300, "t");
    store.sync_plan(&plan, at(0)).await.unwrap();
    let mut conn = store.pool.acquire().await.unwrap();
    stage(&mut conn, &plan[..10]).await.unwrap();
    let chunks = [CANCEL_LOG_SQL, CANCEL_SQL, CHANGED_SQL];
    for analyzed in [false, true] {
        if analyzed {
            sqlx::query("ANALYZE").execute(&mut *conn).await.unwrap();
        }
        for sql in [TODO_SQL, GONE_SQL].into_iter().chain(chunks) {
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let steps: Vec<String> = sqlx::query(AssertSqlSafe(explain))
                .fetch_all(&mut *conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("detail"))
                .collect();
            let table = |s: &String| s.split_whitespace().nth(1).unwrap_or("").to_string();
            let on_deliveries: Vec<&String> = steps
                .iter()
                .filter(|s| ["d", "deliveries"].contains(&table(s).as_str()))
                .collect();
            let want = if chunks.contains(&sql) {
                "INTEGER PRIMARY KEY (rowid=?)"
            } else if sql == GONE_SQL {
                "USING COVERING INDEX deliveries_pending"
            } else {
                "USING INDEX sqlite_autoindex_deliveries_1"
            };
            assert!(!on_deliveries.is_empty(), "{sql}\n{steps:#?}");
            for step in on_deliveries {
                assert!(step.contains(want), "{sql}\n{steps:#?}");
            }
        }
    }
}
