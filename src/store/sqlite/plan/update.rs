//! One changed pending delivery brought to its edited plan. Only the few
//! rows whose fingerprint or approval requirement changed come here, one
//! at a time: what happens to each depends on its thread and hold.

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use super::super::{db_error, log, parse_hold, stamp};
use crate::delivery::{Actor, HoldReason, Planned, State};
use crate::store::StoreError;

/// A pending delivery as an update needs it, read inside the update's
/// transaction.
pub(super) struct Pending {
    pub id: i64,
    pub state: State,
    pub fingerprint: String,
}

/// Brings a pending delivery to its edited plan, with its audit row.
pub(super) async fn update(
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
    .bind(crate::store::planned_json(p)?)
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
