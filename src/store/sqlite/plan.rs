//! `sync_plan`: making pending deliveries match the content without
//! holding the queue in memory or SQLite's single writer for long.
//!
//! The plan's keys and fingerprints are staged in TEMP tables, which belong
//! to one connection and take no write lock on the database. SQLite then
//! works out the difference in two set-based statements: the plan entries
//! that are new or changed (`sync_todo`) and the pending deliveries the plan
//! no longer names (`sync_gone`). Both are applied in short write
//! transactions of at most [`CANCEL_CHUNK`] / [`PLAN_CHUNK`] rows, so the
//! dispatcher and the API write between them. Each chunk repeats its
//! conditions (still pending, still different) inside its transaction: a
//! delivery leased or settled since the difference was taken is left alone.
//! Content that did not change writes nothing to the database.

mod renders;
#[cfg(test)]
mod tests;
mod update;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Connection, Row, Sqlite, SqliteConnection, Transaction};

use super::{db_error, stamp, SqliteStore};
use crate::delivery::{Actor, Planned};
use crate::store::{StoreError, SyncSummary};
use update::Pending;

/// Pending deliveries cancelled per write transaction: a chunk holds the
/// writer ~0.2 s on a VM disk, so a lease or an API write waits no longer
/// than that. Smaller chunks cost more commits and checkpoints: with 5,000,
/// cancelling 100k rows took twice as long (docs/performance.md).
const CANCEL_CHUNK: i64 = 20_000;
/// Plan entries added or updated per write transaction (an update is a few
/// statements per row).
const PLAN_CHUNK: i64 = 500;
/// Rows per multi-row INSERT (each row is one crossing into SQLite
/// otherwise; SQLite allows 32,766 bound values a statement).
const ROWS_PER_INSERT: usize = 100;

/// The plan's side of the difference, on this connection only. Dropped
/// first in case an earlier sync on this connection stopped half-way.
const STAGE_SQL: &str = "
    DROP TABLE IF EXISTS temp.sync_plan;
    DROP TABLE IF EXISTS temp.sync_todo;
    DROP TABLE IF EXISTS temp.sync_gone;
    CREATE TEMP TABLE sync_plan (
        idx               INTEGER PRIMARY KEY,
        item              TEXT    NOT NULL,
        channel           TEXT    NOT NULL,
        occasion          TEXT    NOT NULL,
        fingerprint       TEXT    NOT NULL,
        requires_approval INTEGER NOT NULL
    );
    CREATE TEMP TABLE sync_todo (idx INTEGER PRIMARY KEY, id INTEGER);
    CREATE TEMP TABLE sync_gone (id INTEGER PRIMARY KEY);";

const UNSTAGE_SQL: &str = "
    DROP TABLE IF EXISTS temp.sync_plan;
    DROP TABLE IF EXISTS temp.sync_todo;
    DROP TABLE IF EXISTS temp.sync_gone;";

/// Built after the rows are in: one sort instead of a million inserts
/// into an index.
const STAGE_INDEX_SQL: &str =
    "CREATE INDEX temp.sync_plan_key ON sync_plan (item, channel, occasion)";

const DUPLICATE_SQL: &str = "SELECT item, channel, occasion FROM temp.sync_plan
     GROUP BY item, channel, occasion HAVING count(*) > 1 LIMIT 1";

/// Plan entries whose key is new (no `id`), or whose pending delivery
/// differs. A key already sent, failed, cancelled or in flight is neither:
/// it stays as it is; so does one held `uncertain`, whose request started:
/// it may have gone out with the variant it holds.
pub(super) const TODO_SQL: &str = "INSERT INTO temp.sync_todo (idx, id)
     SELECT p.idx, d.id FROM temp.sync_plan p
     LEFT JOIN main.deliveries d
         ON d.item = p.item AND d.channel = p.channel AND d.occasion = p.occasion
     WHERE d.id IS NULL
        OR (d.state IN ('planned', 'retrying', 'held') AND d.hold_reason IS NOT 'uncertain'
            AND (d.fingerprint <> p.fingerprint OR d.requires_approval <> p.requires_approval))";

/// Pending deliveries the plan no longer names: an item deleted from content
/// has its pending deliveries cancelled. Read from `deliveries_pending`,
/// the partial covering index, so years of sent history cost nothing and no
/// table row is read. `INDEXED BY` because without statistics (crier runs no
/// ANALYZE) SQLite prefers `deliveries_state_due`, which would read every
/// pending row from the table; it also makes the statement fail, not slow
/// down, should the index ever go.
pub(super) const GONE_SQL: &str = "INSERT INTO temp.sync_gone (id)
     SELECT d.id FROM main.deliveries d INDEXED BY deliveries_pending
     WHERE d.state IN ('planned', 'retrying', 'held')
       AND NOT EXISTS (SELECT 1 FROM temp.sync_plan p
           WHERE p.item = d.item AND p.channel = d.channel AND p.occasion = d.occasion)
     ORDER BY d.id";

/// `GONE_SQL` for the items of `$1` (a JSON array) only, each read by the
/// deliveries' unique key, which starts with the item.
pub(super) const GONE_OF_ITEMS_SQL: &str = "INSERT INTO temp.sync_gone (id)
     SELECT DISTINCT d.id FROM json_each($1) i
     CROSS JOIN main.deliveries d
     WHERE d.item = i.value AND d.state IN ('planned', 'retrying', 'held')
       AND NOT EXISTS (SELECT 1 FROM temp.sync_plan p
           WHERE p.item = d.item AND p.channel = d.channel AND p.occasion = d.occasion)
     ORDER BY d.id";

/// The last id of the next chunk of `sync_gone` after `$1`.
const GONE_CHUNK_END_SQL: &str = "SELECT max(id) FROM
     (SELECT id FROM temp.sync_gone WHERE id > $1 ORDER BY id LIMIT $2)";

/// The audit rows of a chunk's cancellations, written before the UPDATE
/// because they need the state each delivery leaves. The chunk statements
/// reach deliveries by id from the staged rows (`CROSS JOIN` keeps that
/// order; SQLite would otherwise walk every pending row by its state index
/// for each chunk).
pub(super) const CANCEL_LOG_SQL: &str =
    "INSERT INTO transitions (delivery_id, at, from_state, to_state, actor, reason)
     SELECT d.id, $3, d.state, 'cancelled', $4, 'removed from content'
     FROM temp.sync_gone g CROSS JOIN main.deliveries d
     WHERE d.id = g.id AND g.id > $1 AND g.id <= $2
       AND d.state IN ('planned', 'retrying', 'held')
     ORDER BY d.id";

pub(super) const CANCEL_SQL: &str =
    "UPDATE main.deliveries SET state = 'cancelled', hold_reason = NULL, updated_at = $3
     WHERE id IN (SELECT d.id FROM temp.sync_gone g CROSS JOIN main.deliveries d
         WHERE d.id = g.id AND g.id > $1 AND g.id <= $2
           AND d.state IN ('planned', 'retrying', 'held'))";

const TODO_CHUNK_SQL: &str =
    "SELECT idx, id FROM temp.sync_todo WHERE idx > $1 ORDER BY idx LIMIT $2";

/// A chunk's changed deliveries, read again inside its write transaction.
pub(super) const CHANGED_SQL: &str = "SELECT t.idx, d.id, d.state, d.fingerprint
     FROM temp.sync_todo t
     CROSS JOIN main.deliveries d
     CROSS JOIN temp.sync_plan p
     WHERE d.id = t.id AND p.idx = t.idx AND t.idx > $1 AND t.idx <= $2
       AND d.state IN ('planned', 'retrying', 'held') AND d.hold_reason IS NOT 'uncertain'
       AND (d.fingerprint <> p.fingerprint OR d.requires_approval <> p.requires_approval)
     ORDER BY t.idx";

const ADDED_LOG_SQL: &str =
    "INSERT INTO transitions (delivery_id, at, from_state, to_state, actor, reason)
     SELECT value, $1, NULL, 'planned', $2, 'planned' FROM json_each($3) ORDER BY key";

impl SqliteStore {
    /// Syncs the whole plan, or with `items` the plan of those items only.
    pub(super) async fn sync(
        &self,
        items: Option<&[String]>,
        plan: &[Planned],
        now: DateTime<Utc>,
    ) -> Result<SyncSummary, StoreError> {
        // Every time is checked before anything is written: a refused time
        // half-way would leave a sync half done.
        stamp(now)?;
        for p in plan {
            stamp(p.due_at)?;
        }
        // One sync at a time: two interleaving chunk by chunk could cancel
        // what the other just added.
        let _one_at_a_time = self.syncing.lock().await;
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let synced = sync_on(&mut conn, items, plan, now).await;
        let dropped = sqlx::raw_sql(UNSTAGE_SQL).execute(&mut *conn).await;
        let summary = synced?;
        dropped.map_err(db_error)?;
        Ok(summary)
    }
}

async fn sync_on(
    conn: &mut SqliteConnection,
    items: Option<&[String]>,
    plan: &[Planned],
    now: DateTime<Utc>,
) -> Result<SyncSummary, StoreError> {
    stage(conn, plan).await?;
    check_unique_keys(conn).await?;
    sqlx::query(TODO_SQL)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    match items {
        None => sqlx::query(GONE_SQL).execute(&mut *conn).await,
        Some(items) => {
            let items = serde_json::to_string(items).expect("strings serialise");
            sqlx::query(GONE_OF_ITEMS_SQL)
                .bind(items)
                .execute(&mut *conn)
                .await
        }
    }
    .map_err(db_error)?;
    // What content no longer says goes first: it must not be sent.
    let cancelled = cancel_gone(conn, now).await?;
    let (added, updated, unrendered) = add_and_update(conn, plan, now).await?;
    Ok(SyncSummary {
        added,
        updated,
        cancelled,
        unchanged: plan.len() - added - updated - unrendered.len(),
        unrendered,
    })
}

/// Copies the plan's keys, fingerprints and approval requirements into
/// `temp.sync_plan`; `idx` is the entry's place in `plan`.
pub(super) async fn stage(conn: &mut SqliteConnection, plan: &[Planned]) -> Result<(), StoreError> {
    sqlx::raw_sql(STAGE_SQL)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    for (n, chunk) in plan.chunks(ROWS_PER_INSERT).enumerate() {
        let sql = format!(
            "INSERT INTO temp.sync_plan
                 (idx, item, channel, occasion, fingerprint, requires_approval)
             VALUES {}",
            placeholders(chunk.len(), 6, 0, "")
        );
        // Only numbered placeholders are generated; every value is bound.
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (i, p) in chunk.iter().enumerate() {
            query = query
                .bind(index(n * ROWS_PER_INSERT + i))
                .bind(&p.item)
                .bind(&p.channel)
                .bind(&p.occasion)
                .bind(&p.fingerprint)
                .bind(p.requires_approval);
        }
        query.execute(&mut *conn).await.map_err(db_error)?;
    }
    sqlx::query(STAGE_INDEX_SQL)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// A plan naming one key twice is a planner bug; guessing which copy wins
/// could send the wrong one.
async fn check_unique_keys(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let twice = sqlx::query(DUPLICATE_SQL)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    let Some(row) = twice else {
        return Ok(());
    };
    let key = |i: usize| row.try_get::<String, _>(i).map_err(db_error);
    Err(StoreError::Other(format!(
        "the plan names item {:?}, channel {:?}, occasion {:?} twice",
        key(0)?,
        key(1)?,
        key(2)?
    )))
}

/// Cancels `sync_gone` chunk by chunk, in id order, each chunk with its
/// audit rows in one transaction; gives how many.
async fn cancel_gone(conn: &mut SqliteConnection, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let at = stamp(now)?;
    let mut after = 0_i64;
    let mut cancelled = 0;
    loop {
        let end: Option<i64> = sqlx::query(GONE_CHUNK_END_SQL)
            .bind(after)
            .bind(CANCEL_CHUNK)
            .fetch_one(&mut *conn)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db_error)?;
        let Some(end) = end else {
            return Ok(cancelled);
        };
        let mut tx = begin_write(conn).await?;
        let logged = sqlx::query(CANCEL_LOG_SQL)
            .bind(after)
            .bind(end)
            .bind(at)
            .bind(Actor::Daemon.to_stored())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        let changed = sqlx::query(CANCEL_SQL)
            .bind(after)
            .bind(end)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        // Same conditions, same transaction: they cannot differ.
        if logged != changed {
            return Err(StoreError::Other(format!(
                "sync: {changed} cancellations but {logged} audit rows"
            )));
        }
        tx.commit().await.map_err(db_error)?;
        cancelled += changed as usize;
        after = end;
    }
}

/// Adds the new and updates the changed entries of `sync_todo`, a chunk per
/// transaction; gives (added, updated, the entries left for want of their
/// variant).
async fn add_and_update(
    conn: &mut SqliteConnection,
    plan: &[Planned],
    now: DateTime<Utc>,
) -> Result<(usize, usize, Vec<usize>), StoreError> {
    let (mut added, mut updated, mut unrendered) = (0, 0, Vec::new());
    let mut after = -1_i64;
    loop {
        let todo = sqlx::query(TODO_CHUNK_SQL)
            .bind(after)
            .bind(PLAN_CHUNK)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
        let Some(last) = todo.last() else {
            return Ok((added, updated, unrendered));
        };
        let end: i64 = last.try_get("idx").map_err(db_error)?;
        let mut new = Vec::new();
        for row in &todo {
            let idx: i64 = row.try_get("idx").map_err(db_error)?;
            let p = entry(plan, idx)?;
            if p.variant.is_none() {
                unrendered.push(usize::try_from(idx).expect("a staged index"));
            } else if row
                .try_get::<Option<i64>, _>("id")
                .map_err(db_error)?
                .is_none()
            {
                new.push(p);
            }
        }
        let mut tx = begin_write(conn).await?;
        added += insert_new(&mut tx, &new, now).await?;
        let changed = sqlx::query(CHANGED_SQL)
            .bind(after)
            .bind(end)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        for row in &changed {
            let id: i64 = row.try_get("id").map_err(db_error)?;
            let state: String = row.try_get("state").map_err(db_error)?;
            let old = Pending {
                id,
                state: super::parse_state(&state, id)?,
                fingerprint: row.try_get("fingerprint").map_err(db_error)?,
            };
            let p = entry(plan, row.try_get("idx").map_err(db_error)?)?;
            if p.variant.is_none() {
                continue;
            }
            update::update(&mut tx, &old, p, now).await?;
            updated += 1;
        }
        tx.commit().await.map_err(db_error)?;
        after = end;
    }
}

/// Adds planned deliveries with their audit rows; gives how many. A key
/// that exists by now (a conflict) stays as it is.
async fn insert_new(
    conn: &mut SqliteConnection,
    new: &[&Planned],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let at = stamp(now)?;
    let mut ids: Vec<i64> = Vec::with_capacity(new.len());
    for chunk in new.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO deliveries (item, channel, occasion, due_at, requires_approval,
                 variant, fingerprint, state, created_at, updated_at)
             VALUES {}
             ON CONFLICT (item, channel, occasion) DO NOTHING
             RETURNING id",
            placeholders(chunk.len(), 7, 1, ", 'planned', $1, $1")
        );
        // Only numbered placeholders are generated; every value is bound.
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(at);
        for p in chunk {
            query = query
                .bind(&p.item)
                .bind(&p.channel)
                .bind(&p.occasion)
                .bind(stamp(p.due_at)?)
                .bind(p.requires_approval)
                .bind(crate::store::planned_json(p)?)
                .bind(&p.fingerprint);
        }
        for row in query.fetch_all(&mut *conn).await.map_err(db_error)? {
            ids.push(row.try_get(0).map_err(db_error)?);
        }
    }
    if !ids.is_empty() {
        let ids_json = serde_json::to_string(&ids).map_err(|e| StoreError::Other(e.to_string()))?;
        sqlx::query(ADDED_LOG_SQL)
            .bind(at)
            .bind(Actor::Daemon.to_stored())
            .bind(ids_json)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    Ok(ids.len())
}

/// A write transaction on the connection that holds the staged tables,
/// taking the write lock up front (see `SqliteStore::write`).
async fn begin_write(conn: &mut SqliteConnection) -> Result<Transaction<'_, Sqlite>, StoreError> {
    conn.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)
}

/// `rows` groups of `width` numbered placeholders, numbered from
/// `first + 1`, each group followed by `tail` inside its parentheses.
fn placeholders(rows: usize, width: usize, first: usize, tail: &str) -> String {
    let group = |r: usize| {
        let cols: Vec<String> = (1..=width)
            .map(|c| format!("${}", first + r * width + c))
            .collect();
        format!("({}{tail})", cols.join(", "))
    };
    (0..rows).map(group).collect::<Vec<_>>().join(", ")
}

fn index(i: usize) -> i64 {
    i64::try_from(i).expect("a plan has fewer than 2^63 entries")
}

/// The plan entry a staged `idx` names.
fn entry(plan: &[Planned], idx: i64) -> Result<&Planned, StoreError> {
    usize::try_from(idx)
        .ok()
        .and_then(|i| plan.get(i))
        .ok_or_else(|| StoreError::Other(format!("sync: staged entry {idx} is not in the plan")))
}
