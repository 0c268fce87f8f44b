//! `sync_plan`: making pending deliveries match the content without
//! holding other writers up for long.
//!
//! The plan's keys and fingerprints are staged in a temporary table
//! (`ON COMMIT DROP`: it lives in one transaction on one connection and is
//! gone at its end, which also holds behind a pooler in transaction mode).
//! PostgreSQL then works out the difference in two set-based reads: the
//! plan entries that are new or changed, and the pending deliveries the
//! plan no longer names; only those ids and plan indexes come back. They
//! are applied in short transactions of at most [`CANCEL_CHUNK`] /
//! [`PLAN_CHUNK`] rows. Other processes write side by side, so each chunk
//! locks its rows and repeats its conditions (still pending, still
//! different) on them: a delivery leased or settled since the difference
//! was taken is left alone. Content that did not change writes nothing to
//! the database's tables.

mod renders;
mod update;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::{db_error, settle, stamp, PgStore};
use crate::delivery::{Actor, Planned};
use crate::store::rows::{parse_hold, parse_state};
use crate::store::{StoreError, SyncSummary};
use update::Pending;

/// Pending deliveries cancelled per transaction.
const CANCEL_CHUNK: usize = 5_000;
/// Plan entries added or updated per transaction (an update is a few
/// statements per row).
const PLAN_CHUNK: usize = 500;
/// Plan entries staged per statement (each bound as a few arrays).
const STAGE_CHUNK: usize = 10_000;

const STAGE_SQL: &str = "CREATE TEMP TABLE sync_plan (
        idx               BIGINT  PRIMARY KEY,
        item              TEXT    NOT NULL,
        channel           TEXT    NOT NULL,
        occasion          TEXT    NOT NULL,
        fingerprint       TEXT    NOT NULL,
        requires_approval BOOLEAN NOT NULL
    ) ON COMMIT DROP";

const STAGE_ROWS_SQL: &str = "INSERT INTO sync_plan
         (idx, item, channel, occasion, fingerprint, requires_approval)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                          $6::boolean[])";

/// Built after the rows are in (one sort instead of many index inserts);
/// ANALYZE because autovacuum never sees a temporary table, and without
/// statistics the planner guesses its size.
const STAGE_INDEX_SQL: &[&str] = &[
    "CREATE INDEX sync_plan_key ON sync_plan (item, channel, occasion)",
    "ANALYZE sync_plan",
];

/// Plan entries whose key is new (no `id`), or whose pending delivery
/// differs. A key already sent, failed, cancelled or in flight is neither:
/// it stays as it is; so does one held `uncertain`, whose request started:
/// it may have gone out with the variant it holds.
pub(super) const TODO_SQL: &str = "SELECT p.idx, d.id FROM sync_plan p
     LEFT JOIN deliveries d
         ON d.item = p.item AND d.channel = p.channel AND d.occasion = p.occasion
     WHERE d.id IS NULL
        OR (d.state IN ('planned', 'retrying', 'held')
            AND d.hold_reason IS DISTINCT FROM 'uncertain'
            AND (d.fingerprint <> p.fingerprint OR d.requires_approval <> p.requires_approval))
     ORDER BY p.idx";

/// Pending deliveries the plan no longer names: an item deleted from
/// content has its pending deliveries cancelled. `deliveries_pending`, the
/// partial index, holds them, so years of sent history cost nothing.
pub(super) const GONE_SQL: &str = "SELECT d.id FROM deliveries d
     WHERE d.state IN ('planned', 'retrying', 'held')
       AND NOT EXISTS (SELECT 1 FROM sync_plan p
           WHERE p.item = d.item AND p.channel = d.channel AND p.occasion = d.occasion)
     ORDER BY d.id";

/// `GONE_SQL` for the items of `$1` only, each read by the deliveries'
/// unique key, which starts with the item.
pub(super) const GONE_OF_ITEMS_SQL: &str = "SELECT DISTINCT d.id FROM deliveries d
     WHERE d.item = ANY($1::text[]) AND d.state IN ('planned', 'retrying', 'held')
       AND NOT EXISTS (SELECT 1 FROM sync_plan p
           WHERE p.item = d.item AND p.channel = d.channel AND p.occasion = d.occasion)
     ORDER BY d.id";

/// Cancels a chunk of ids, with an audit row each, in one statement: the
/// rows still pending are locked (in id order, so two syncs never
/// deadlock), and only those are changed and logged, with the state each
/// left. $1 ids, $2 now, $3 actor.
pub(super) const CANCEL_SQL: &str = "WITH gone AS (
         SELECT id, state FROM deliveries
         WHERE id = ANY($1) AND state IN ('planned', 'retrying', 'held')
         ORDER BY id FOR UPDATE),
     cancelled AS (
         UPDATE deliveries d SET state = 'cancelled', hold_reason = NULL, updated_at = $2
         FROM gone WHERE d.id = gone.id
         RETURNING d.id, gone.state AS from_state)
     INSERT INTO transitions (delivery_id, at, from_state, to_state, actor, reason)
     SELECT id, $2, from_state, 'cancelled', $3, 'removed from content'
     FROM cancelled ORDER BY id";

/// A chunk's changed deliveries, read and locked inside its transaction:
/// only those still pending and still different from their plan entry.
/// $1 plan indexes, $2 ids, $3 fingerprints, $4 approval requirements.
pub(super) const CHANGED_SQL: &str = "SELECT t.idx, d.id, d.state, d.hold_reason, d.fingerprint
     FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::boolean[])
         AS t (idx, id, fingerprint, requires_approval)
     JOIN deliveries d ON d.id = t.id
     WHERE d.state IN ('planned', 'retrying', 'held')
       AND d.hold_reason IS DISTINCT FROM 'uncertain'
       AND (d.fingerprint <> t.fingerprint OR d.requires_approval <> t.requires_approval)
     ORDER BY d.id
     FOR UPDATE OF d";

/// New deliveries, in plan order; a key that exists by now (another
/// process added it) stays as it is.
const INSERT_SQL: &str = "INSERT INTO deliveries (item, channel, occasion, due_at,
         requires_approval, variant, fingerprint, state, created_at, updated_at)
     SELECT item, channel, occasion, due_at, requires_approval, variant, fingerprint,
            'planned', $1, $1
     FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::boolean[],
                 $7::text[], $8::text[]) WITH ORDINALITY
         AS n (item, channel, occasion, due_at, requires_approval, variant, fingerprint, k)
     ORDER BY n.k
     ON CONFLICT (item, channel, occasion) DO NOTHING
     RETURNING id";

const ADDED_LOG_SQL: &str =
    "INSERT INTO transitions (delivery_id, at, from_state, to_state, actor, reason)
     SELECT a.id, $1, NULL, 'planned', $2, 'planned'
     FROM unnest($3::bigint[]) WITH ORDINALITY AS a (id, k) ORDER BY a.k";

/// What differs between the plan and the store: plan indexes with the
/// pending delivery they change (`None`: a new key), and pending ids the
/// plan no longer names.
struct Difference {
    todo: Vec<(i64, Option<i64>)>,
    gone: Vec<i64>,
}

impl PgStore {
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
        check_unique_keys(plan)?;
        // One sync at a time from this process: two interleaving chunk by
        // chunk could cancel what the other just added.
        let _one_at_a_time = self.syncing.lock().await;
        let diff = self.difference(items, plan).await?;
        // What content no longer says goes first: it must not be sent.
        let cancelled = self.cancel_gone(&diff.gone, now).await?;
        let (todo, left): (Vec<_>, Vec<_>) = (diff.todo.iter().copied())
            .partition(|(idx, _)| entry(plan, *idx).is_ok_and(|p| p.variant.is_some()));
        let (added, updated) = self.add_and_update(plan, &todo, now).await?;
        let unrendered: Vec<usize> = (left.iter())
            .map(|(idx, _)| usize::try_from(*idx).expect("a staged index"))
            .collect();
        Ok(SyncSummary {
            added,
            updated,
            cancelled,
            unchanged: plan.len() - added - updated - unrendered.len(),
            unrendered,
        })
    }

    /// Stages the plan and reads the difference, in one transaction that
    /// writes nothing but its temporary table.
    async fn difference(
        &self,
        items: Option<&[String]>,
        plan: &[Planned],
    ) -> Result<Difference, StoreError> {
        let mut tx = self.write().await?;
        let done: Result<_, StoreError> = async {
            stage(&mut tx, plan).await?;
            let todo = sqlx::query(TODO_SQL)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?
                .iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()
                .map_err(db_error)?;
            let gone = match items {
                None => sqlx::query_scalar(GONE_SQL).fetch_all(&mut *tx).await,
                Some(items) => {
                    let query = sqlx::query_scalar(GONE_OF_ITEMS_SQL).bind(items);
                    query.fetch_all(&mut *tx).await
                }
            }
            .map_err(db_error)?;
            Ok(Difference { todo, gone })
        }
        .await;
        settle(tx, done).await
    }

    /// Cancels `gone` chunk by chunk, each with its audit rows in one
    /// transaction; gives how many.
    async fn cancel_gone(&self, gone: &[i64], now: DateTime<Utc>) -> Result<usize, StoreError> {
        let at = stamp(now)?;
        let mut cancelled = 0;
        for chunk in gone.chunks(CANCEL_CHUNK) {
            let done = sqlx::query(CANCEL_SQL)
                .bind(chunk)
                .bind(at)
                .bind(Actor::Daemon.to_stored())
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
            cancelled += done.rows_affected() as usize;
        }
        Ok(cancelled)
    }

    /// Adds the new and updates the changed entries of `todo`, a chunk per
    /// transaction; gives (added, updated).
    async fn add_and_update(
        &self,
        plan: &[Planned],
        todo: &[(i64, Option<i64>)],
        now: DateTime<Utc>,
    ) -> Result<(usize, usize), StoreError> {
        let (mut added, mut updated) = (0, 0);
        for chunk in todo.chunks(PLAN_CHUNK) {
            let mut new = Vec::new();
            let mut changed = Vec::new();
            for &(idx, id) in chunk {
                match id {
                    None => new.push(entry(plan, idx)?),
                    Some(id) => changed.push((idx, id)),
                }
            }
            let mut tx = self.write().await?;
            let done: Result<_, StoreError> = async {
                let added = insert_new(&mut tx, &new, now).await?;
                Ok((added, update_changed(&mut tx, plan, &changed, now).await?))
            }
            .await;
            let (a, u) = settle(tx, done).await?;
            added += a;
            updated += u;
        }
        Ok((added, updated))
    }
}

/// Copies the plan's keys, fingerprints and approval requirements into
/// the transaction's `sync_plan`; `idx` is the entry's place in `plan`.
async fn stage(conn: &mut PgConnection, plan: &[Planned]) -> Result<(), StoreError> {
    sqlx::query(STAGE_SQL)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    for (n, chunk) in plan.chunks(STAGE_CHUNK).enumerate() {
        let first = n * STAGE_CHUNK;
        let idx: Vec<i64> = (0..chunk.len()).map(|i| index(first + i)).collect();
        let column = |f: fn(&Planned) -> &str| chunk.iter().map(f).collect::<Vec<&str>>();
        sqlx::query(STAGE_ROWS_SQL)
            .bind(idx)
            .bind(column(|p| &p.item))
            .bind(column(|p| &p.channel))
            .bind(column(|p| &p.occasion))
            .bind(column(|p| &p.fingerprint))
            .bind(
                chunk
                    .iter()
                    .map(|p| p.requires_approval)
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    for sql in STAGE_INDEX_SQL {
        sqlx::query(*sql)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// A plan naming one key twice is a planner bug; guessing which copy wins
/// could send the wrong one. Checked before anything is staged.
fn check_unique_keys(plan: &[Planned]) -> Result<(), StoreError> {
    let mut seen = HashSet::with_capacity(plan.len());
    for p in plan {
        if !seen.insert((&p.item, &p.channel, &p.occasion)) {
            return Err(StoreError::Other(format!(
                "the plan names item {:?}, channel {:?}, occasion {:?} twice",
                p.item, p.channel, p.occasion
            )));
        }
    }
    Ok(())
}

/// Adds planned deliveries with their audit rows; gives how many.
async fn insert_new(
    conn: &mut PgConnection,
    new: &[&Planned],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    if new.is_empty() {
        return Ok(0);
    }
    let at = stamp(now)?;
    let column = |f: fn(&Planned) -> &str| new.iter().map(|p| f(p)).collect::<Vec<&str>>();
    let due: Vec<i64> = new
        .iter()
        .map(|p| stamp(p.due_at))
        .collect::<Result<_, _>>()?;
    let ids: Vec<i64> = sqlx::query_scalar(INSERT_SQL)
        .bind(at)
        .bind(column(|p| &p.item))
        .bind(column(|p| &p.channel))
        .bind(column(|p| &p.occasion))
        .bind(due)
        .bind(new.iter().map(|p| p.requires_approval).collect::<Vec<_>>())
        .bind(
            new.iter()
                .map(|p| crate::store::planned_json(p))
                .collect::<Result<Vec<_>, _>>()?,
        )
        .bind(column(|p| &p.fingerprint))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    if !ids.is_empty() {
        sqlx::query(ADDED_LOG_SQL)
            .bind(at)
            .bind(Actor::Daemon.to_stored())
            .bind(&ids)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    Ok(ids.len())
}

/// Updates the entries of `changed` (plan index, delivery id) whose
/// delivery is still pending and still differs; gives how many.
async fn update_changed(
    conn: &mut PgConnection,
    plan: &[Planned],
    changed: &[(i64, i64)],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    if changed.is_empty() {
        return Ok(0);
    }
    let mut entries = Vec::with_capacity(changed.len());
    for &(idx, _) in changed {
        entries.push(entry(plan, idx)?);
    }
    let rows = sqlx::query(CHANGED_SQL)
        .bind(changed.iter().map(|c| c.0).collect::<Vec<_>>())
        .bind(changed.iter().map(|c| c.1).collect::<Vec<_>>())
        .bind(
            entries
                .iter()
                .map(|p| p.fingerprint.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            entries
                .iter()
                .map(|p| p.requires_approval)
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    let mut pending = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get("id").map_err(db_error)?;
        let state: String = row.try_get("state").map_err(db_error)?;
        let idx: i64 = row.try_get("idx").map_err(db_error)?;
        let old = Pending {
            id,
            state: parse_state(&state, id)?,
            hold_reason: parse_hold(row.try_get("hold_reason").map_err(db_error)?, id)?,
            fingerprint: row.try_get("fingerprint").map_err(db_error)?,
        };
        pending.push((idx, old));
    }
    // Logged in plan order, as SQLite's backend does.
    pending.sort_by_key(|(idx, _)| *idx);
    for (idx, old) in &pending {
        update::update(&mut *conn, old, entry(plan, *idx)?, now).await?;
    }
    Ok(pending.len())
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
