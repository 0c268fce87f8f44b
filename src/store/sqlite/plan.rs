//! `sync_plan`: making pending deliveries match the content, in one
//! transaction: each planned delivery is added, updated or left alone, and
//! each pending one the plan no longer names is cancelled.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use super::{db_error, log, parse_hold, parse_state, stamp, SqliteStore};
use crate::delivery::{Actor, HoldReason, Planned, State};
use crate::store::{StoreError, SyncSummary};

/// A pending delivery as sync needs it.
struct Pending {
    id: i64,
    state: State,
    fingerprint: String,
    requires_approval: bool,
}

/// (item, channel, occasion): what makes a delivery one.
type Key = (String, String, String);

/// Every pending delivery's key and fingerprint, read from a partial covering index.
pub(super) const PENDING_SQL: &str =
    "SELECT id, item, channel, occasion, state, fingerprint, requires_approval
     FROM deliveries WHERE state IN ('planned', 'retrying', 'held')";

impl SqliteStore {
    pub(super) async fn sync(
        &self,
        plan: &[Planned],
        now: DateTime<Utc>,
    ) -> Result<SyncSummary, StoreError> {
        check_unique_keys(plan)?;
        stamp(now)?;
        let mut tx = self.write().await?;
        let pending = read_pending(&mut tx).await?;
        let mut summary = SyncSummary::default();
        let mut seen = HashSet::with_capacity(plan.len());
        for p in plan {
            match pending.get(&(p.item.clone(), p.channel.clone(), p.occasion.clone())) {
                Some(old) => {
                    seen.insert(old.id);
                    let same = old.fingerprint == p.fingerprint
                        && old.requires_approval == p.requires_approval;
                    if same {
                        summary.unchanged += 1;
                    } else {
                        update(&mut tx, old, p, now).await?;
                        summary.updated += 1;
                    }
                }
                None if insert(&mut tx, p, now).await? => summary.added += 1,
                None => summary.unchanged += 1,
            }
        }
        summary.cancelled = cancel_gone(&mut tx, &pending, &seen, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(summary)
    }
}

/// A plan naming one key twice is a planner bug; guessing which copy wins
/// could send the wrong one.
fn check_unique_keys(plan: &[Planned]) -> Result<(), StoreError> {
    let mut keys = HashSet::with_capacity(plan.len());
    for p in plan {
        if !keys.insert((p.item.as_str(), p.channel.as_str(), p.occasion.as_str())) {
            return Err(StoreError::Other(format!(
                "the plan names item {:?}, channel {:?}, occasion {:?} twice",
                p.item, p.channel, p.occasion
            )));
        }
    }
    Ok(())
}

/// Only pending rows are read (a partial covering index), so years of
/// sent history cost nothing. Every pending row must be seen: an item
/// deleted from content must have its pending deliveries cancelled.
async fn read_pending(conn: &mut SqliteConnection) -> Result<HashMap<Key, Pending>, StoreError> {
    let rows = sqlx::query(PENDING_SQL)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    let mut pending = HashMap::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get("id").map_err(db_error)?;
        let state: String = row.try_get("state").map_err(db_error)?;
        pending.insert(
            (
                row.try_get("item").map_err(db_error)?,
                row.try_get("channel").map_err(db_error)?,
                row.try_get("occasion").map_err(db_error)?,
            ),
            Pending {
                id,
                state: parse_state(&state, id)?,
                fingerprint: row.try_get("fingerprint").map_err(db_error)?,
                requires_approval: row.try_get("requires_approval").map_err(db_error)?,
            },
        );
    }
    Ok(pending)
}

/// Brings a pending delivery to its edited plan, with its audit row.
async fn update(
    conn: &mut SqliteConnection,
    old: &Pending,
    p: &Planned,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let edited = old.fingerprint != p.fingerprint;
    // A thread partly up keeps the words it started with: the rest must
    // continue what readers already see.
    let started = thread_started(conn, old.id).await?;
    let replan = no_longer_overdue(conn, old, p, now).await?;
    // An approval was for the old words: edited content needs a fresh one.
    // A retry waits for a due time moved later.
    sqlx::query(
        "UPDATE deliveries SET variant = CASE WHEN $8 THEN variant ELSE $2 END,
             due_at = $3, fingerprint = $4,
             requires_approval = $5,
             approved = CASE WHEN $6 THEN 0 ELSE approved END,
             next_attempt_at = CASE WHEN state = 'retrying'
                 THEN MAX(next_attempt_at, $3) ELSE next_attempt_at END,
             state = CASE WHEN $9 THEN 'planned' ELSE state END,
             hold_reason = CASE WHEN $9 THEN NULL ELSE hold_reason END,
             last_error = CASE WHEN $9 THEN NULL ELSE last_error END,
             updated_at = $7
         WHERE id = $1",
    )
    .bind(old.id)
    .bind(p.variant.canonical_json())
    .bind(stamp(p.due_at)?)
    .bind(&p.fingerprint)
    .bind(p.requires_approval)
    .bind(edited)
    .bind(stamp(now)?)
    .bind(started)
    .bind(replan)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    let to = if replan { State::Planned } else { old.state };
    let reason = update_reason(replan, edited, started);
    log(
        conn,
        old.id,
        now,
        Some(old.state),
        to,
        &Actor::Daemon,
        reason,
    )
    .await
}

fn update_reason(replan: bool, edited: bool, started: bool) -> &'static str {
    if replan {
        "content edited: moved to a later time, so no longer overdue; \
         planned again for its new time"
    } else if edited && started {
        "content edited, but part of the thread is already posted: \
         the rest keeps the words it started with"
    } else if edited {
        "content edited"
    } else {
        "approval requirement changed"
    }
}

/// Whether any part of the delivery's thread is already posted.
async fn thread_started(conn: &mut SqliteConnection, id: i64) -> Result<bool, StoreError> {
    sqlx::query("SELECT EXISTS (SELECT 1 FROM posted_parts WHERE delivery_id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(db_error)
}

/// Held because its time passed (paused, missed) but moved to a time still
/// ahead: nothing is overdue any more, so it is planned again at its new
/// time (a pause still in force holds it again then).
async fn no_longer_overdue(
    conn: &mut SqliteConnection,
    old: &Pending,
    p: &Planned,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(old.state == State::Held
        && p.due_at > now
        && matches!(
            held_reason(conn, old.id).await?,
            Some(HoldReason::Paused | HoldReason::Missed)
        ))
}

/// Adds a planned delivery; false if its key is already settled.
async fn insert(
    conn: &mut SqliteConnection,
    p: &Planned,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let at = stamp(now)?;
    // A conflict here is a sent, failed, cancelled or in-flight delivery of
    // the same key: it stays as it is.
    let inserted = sqlx::query(
        "INSERT INTO deliveries (item, channel, occasion, state, due_at,
             requires_approval, variant, fingerprint, created_at, updated_at)
         VALUES ($1, $2, $3, 'planned', $4, $5, $6, $7, $8, $8)
         ON CONFLICT (item, channel, occasion) DO NOTHING
         RETURNING id",
    )
    .bind(&p.item)
    .bind(&p.channel)
    .bind(&p.occasion)
    .bind(stamp(p.due_at)?)
    .bind(p.requires_approval)
    .bind(p.variant.canonical_json())
    .bind(&p.fingerprint)
    .bind(at)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    let Some(row) = inserted else {
        return Ok(false);
    };
    let id: i64 = row.try_get(0).map_err(db_error)?;
    log(
        conn,
        id,
        now,
        None,
        State::Planned,
        &Actor::Daemon,
        "planned",
    )
    .await?;
    Ok(true)
}

/// Cancels every pending delivery the plan no longer names, in id order;
/// gives how many.
async fn cancel_gone(
    conn: &mut SqliteConnection,
    pending: &HashMap<Key, Pending>,
    seen: &HashSet<i64>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let at = stamp(now)?;
    let mut gone: Vec<&Pending> = pending.values().filter(|d| !seen.contains(&d.id)).collect();
    gone.sort_by_key(|d| d.id);
    for d in &gone {
        sqlx::query(
            "UPDATE deliveries SET state = 'cancelled', hold_reason = NULL, updated_at = $2
             WHERE id = $1",
        )
        .bind(d.id)
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        log(
            conn,
            d.id,
            now,
            Some(d.state),
            State::Cancelled,
            &Actor::Daemon,
            "removed from content",
        )
        .await?;
    }
    Ok(gone.len())
}

/// Why a held delivery is held (read only for the few rows sync updates).
async fn held_reason(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<HoldReason>, StoreError> {
    let reason: Option<String> = sqlx::query("SELECT hold_reason FROM deliveries WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(db_error)?;
    parse_hold(reason, id)
}
