//! What the dispatcher polls: the next wakeup, leases, expired leases.
//!
//! Each query names its state as a literal so the planner can use the
//! partial indexes; each is an index range or an index min, never a table
//! scan. Leasing takes its rows with `FOR UPDATE SKIP LOCKED`: several
//! processes lease side by side, each passing over the rows another is
//! taking, and never wait for one another.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::ops::wrong_state;
use super::outcome::{apply_finish, Outcome};
use super::{
    corrupt, db_error, delivery_from_row, log, read_delivery, settle, stamp, PgStore,
    UnreadableVariant,
};
use crate::delivery::{Actor, Delivery, State};
use crate::store::rows::parse_state;
use crate::store::StoreError;

/// The earliest planned due time, retry time or lease expiry: three index mins.
pub(super) const WAKEUP_SQL: &str = "SELECT MIN(t) FROM (
        SELECT MIN(due_at) AS t FROM deliveries WHERE state = 'planned'
        UNION ALL
        SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'retrying'
        UNION ALL
        SELECT MIN(lease_expires_at) FROM deliveries WHERE state = 'in_flight'
    ) AS w";

/// Picks and claims in one statement. Each arm walks its partial index
/// (`deliveries_planned_due`, `deliveries_retry_due`) in order, locking at
/// most `$3` rows and skipping any another transaction holds, so two
/// leasers never take one row and never wait on each other; the earliest
/// `$3` of both arms are claimed by the `UPDATE … FROM` (never
/// `IN (… LIMIT)`, which may be planned as a join that claims more). The
/// state each left comes from its arm. Rows one arm locked but the final
/// limit dropped stay locked until the commit, milliseconds later.
/// $1 now, $2 lease expiry, $3 limit, $4 due by (at or after now),
/// $5 this process's owner id.
pub(super) const LEASE_SQL: &str = concat!(
    "WITH p AS (
         SELECT id AS due_id, due_at AS due_t, 'planned' AS due_from FROM deliveries
         WHERE state = 'planned' AND due_at <= $4
         ORDER BY due_at, id LIMIT $3 FOR UPDATE SKIP LOCKED),
     r AS (
         SELECT id AS due_id, next_attempt_at AS due_t, 'retrying' AS due_from FROM deliveries
         WHERE state = 'retrying' AND next_attempt_at <= $4
         ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED),
     due AS (
         SELECT due_id, due_t, due_from FROM (SELECT * FROM p UNION ALL SELECT * FROM r) AS b
         ORDER BY due_t, due_id LIMIT $3)
     UPDATE deliveries
     SET state = 'in_flight', hold_reason = NULL, leased_from = $5,
         attempts = attempts + 1, lease_expires_at = $2,
         request_started_at = NULL, updated_at = $1
     FROM due WHERE deliveries.id = due.due_id
     RETURNING ",
    delivery_columns!(),
    ", due_from"
);

impl PgStore {
    pub(super) async fn wakeup(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(WAKEUP_SQL)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        let ms: Option<i64> = row.try_get(0).map_err(db_error)?;
        ms.map(|ms| {
            DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| corrupt(format!("a delivery time {ms} is out of range")))
        })
        .transpose()
    }

    pub(super) async fn lease(
        &self,
        now: DateTime<Utc>,
        due_by: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let at = stamp(now)?;
        let by = stamp(due_by)?.max(at);
        let until = at.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut tx = self.write().await?;
        let done: Result<_, StoreError> = async {
            let rows = sqlx::query(LEASE_SQL)
                .bind(at)
                .bind(until)
                .bind(limit)
                .bind(by)
                .bind(&self.owner)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;

            let mut leased = Vec::with_capacity(rows.len());
            let mut unreadable = Vec::new();
            for row in &rows {
                let from: String = row.try_get("due_from").map_err(db_error)?;
                let d = match read_delivery(row)? {
                    Ok(d) => d,
                    Err(u) => {
                        unreadable.push((from, u));
                        continue;
                    }
                };
                let from = parse_state(&from, d.id)?;
                let due = match from {
                    State::Retrying => d.next_attempt_at.unwrap_or(d.due_at),
                    _ => d.due_at,
                };
                leased.push((due, from, d));
            }
            // RETURNING gives no order; callers get the earliest first.
            leased.sort_by_key(|(due, _, d)| (*due, d.id));
            log_leases(&mut tx, &leased, at).await?;
            for (from, u) in unreadable {
                fail_unreadable(&mut tx, &from, &u, &self.owner, now).await?;
            }
            Ok(leased.into_iter().map(|(_, _, d)| d).collect())
        }
        .await;
        settle(tx, done).await
    }

    /// The body of `renew_lease`: only a live lease of this process is
    /// extended, never one another process took over once it lapsed.
    pub(super) async fn renew(
        &self,
        id: i64,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET lease_expires_at = $2
             WHERE id = $1 AND state = 'in_flight' AND lease_expires_at > $3
                 AND leased_from = $4",
        )
        .bind(id)
        .bind(stamp(until)?)
        .bind(stamp(now)?)
        .bind(&self.owner)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let live = "not in flight with a live lease of this process";
        Err(wrong_state(id, live, &[State::InFlight]))
    }

    pub(super) async fn expired(&self, now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries WHERE state = 'in_flight' AND lease_expires_at <= $1
              ORDER BY lease_expires_at, id"
        ))
        .bind(now.timestamp_millis())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(delivery_from_row)
        .collect()
    }
}

/// One audit row per lease, written by one statement for the whole batch
/// (a statement costs far more than a row), in the order leased.
async fn log_leases(
    tx: &mut PgConnection,
    leased: &[(DateTime<Utc>, State, Delivery)],
    at: i64,
) -> Result<(), StoreError> {
    if leased.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = leased.iter().map(|(_, _, d)| d.id).collect();
    let from: Vec<&str> = leased.iter().map(|(_, f, _)| f.as_str()).collect();
    let attempts: Vec<i64> = leased
        .iter()
        .map(|(_, _, d)| i64::from(d.attempts))
        .collect();
    sqlx::query(
        "INSERT INTO transitions (delivery_id, at, from_state, to_state, actor, reason)
         SELECT l.id, $1, l.from_state, 'in_flight', $2, 'leased (attempt ' || l.attempts || ')'
         FROM unnest($3::bigint[], $4::text[], $5::bigint[]) WITH ORDINALITY
             AS l (id, from_state, attempts, n)
         ORDER BY l.n",
    )
    .bind(at)
    .bind(Actor::Daemon.to_stored())
    .bind(&ids)
    .bind(&from)
    .bind(&attempts)
    .execute(tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// A leased delivery whose variant cannot be read can never be sent: it is
/// failed in the lease's transaction (leased, then failed, both logged), and
/// the dispatcher never sees it.
async fn fail_unreadable(
    tx: &mut PgConnection,
    from: &str,
    u: &UnreadableVariant,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let from = parse_state(from, u.id)?;
    let (to, actor) = (State::InFlight, &Actor::Daemon);
    log(&mut *tx, u.id, now, Some(from), to, actor, "leased").await?;
    let outcome = Outcome {
        to: State::Failed,
        allowed: &[State::InFlight],
        next_attempt_at: None,
        error: Some(u.reason()),
        receipt: None,
        reason: u.reason(),
    };
    apply_finish(tx, u.id, &outcome, owner, now).await
}
