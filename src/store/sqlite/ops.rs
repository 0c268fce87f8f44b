//! The [`Store`] trait for SQLite, and its checked state changes.
//!
//! Every state change reads the row, checks it, updates it and logs it in
//! one `BEGIN IMMEDIATE` transaction, so the check cannot go stale.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteConnection;
use sqlx::Row;

use super::{db_error, delivery_from_row, log, parse_hold, parse_state, stamp, SqliteStore};
use crate::delivery::DeliverySummary as Summary;
use crate::delivery::{Actor, Delivery, HoldReason, Planned, Receipt, State, Transition};
use crate::store::{
    AuditEntry, AuditFilter, Change, ChannelActivity, ContentChange, Paused, QueueFilter, Store,
    StoreError, SyncSummary,
};

/// The parts of a delivery that decide whether a change is allowed.
struct Current {
    state: State,
    hold_reason: Option<HoldReason>,
    request_started: bool,
    lease_expires_at: Option<i64>,
}

async fn current(conn: &mut SqliteConnection, id: i64) -> Result<Current, StoreError> {
    let row = sqlx::query(
        "SELECT state, hold_reason, request_started_at, lease_expires_at
         FROM deliveries WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db_error)?
    .ok_or(StoreError::NotFound(id))?;
    let state: String = row.try_get("state").map_err(db_error)?;
    let started: Option<i64> = row.try_get("request_started_at").map_err(db_error)?;
    Ok(Current {
        state: parse_state(&state, id)?,
        hold_reason: parse_hold(row.try_get("hold_reason").map_err(db_error)?, id)?,
        request_started: started.is_some(),
        lease_expires_at: row.try_get("lease_expires_at").map_err(db_error)?,
    })
}

pub(super) fn wrong_state(id: i64, actual: impl Into<String>, expected: &[State]) -> StoreError {
    let expected: Vec<&str> = expected.iter().map(|s| s.as_str()).collect();
    StoreError::WrongState {
        id,
        actual: actual.into(),
        expected: if expected.is_empty() {
            "(no state was allowed)".into()
        } else {
            expected.join(" or ")
        },
    }
}

fn require(id: i64, cur: &Current, allowed: &[State]) -> Result<(), StoreError> {
    if allowed.contains(&cur.state) {
        Ok(())
    } else {
        Err(wrong_state(id, cur.state.as_str(), allowed))
    }
}

pub(super) async fn fetch(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<Delivery>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db_error)?
    .as_ref()
    .map(delivery_from_row)
    .transpose()
}

/// Ends an in-flight attempt: state, error and receipt columns, lease cleared.
pub(super) struct Outcome {
    pub to: State,
    pub allowed: &'static [State],
    pub next_attempt_at: Option<i64>,
    pub error: Option<String>,
    pub receipt: Option<Receipt>,
    pub reason: String,
}

/// The body of `mark_request_started`, inside a shared transaction.
pub(super) async fn apply_request_started(
    tx: &mut SqliteConnection,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let cur = current(&mut *tx, id).await?;
    require(id, &cur, &[State::InFlight])?;
    let at = stamp(now)?;
    // A worker whose lease ran out may have been presumed dead and its
    // delivery re-leased: it must not send.
    if cur.lease_expires_at.is_none_or(|until| until <= at) {
        return Err(wrong_state(
            id,
            "in_flight with an expired lease",
            &[State::InFlight],
        ));
    }
    sqlx::query("UPDATE deliveries SET request_started_at = $2, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    log(
        &mut *tx,
        id,
        now,
        Some(State::InFlight),
        State::InFlight,
        &Actor::Daemon,
        "request started",
    )
    .await
}

/// The body of [`SqliteStore::finish`], inside a shared transaction.
pub(super) async fn apply_finish(
    tx: &mut SqliteConnection,
    id: i64,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let cur = current(&mut *tx, id).await?;
    require(id, &cur, outcome.allowed)?;
    if cur.state == State::Held && cur.hold_reason != Some(HoldReason::Uncertain) {
        return Err(wrong_state(
            id,
            format!(
                "held ({})",
                cur.hold_reason.map_or("no reason", |r| r.as_str())
            ),
            &[State::InFlight],
        ));
    }
    let at = stamp(now)?;
    let sent = outcome.to == State::Sent;
    sqlx::query(
        "UPDATE deliveries SET state = $2, hold_reason = NULL, lease_expires_at = NULL,
             next_attempt_at = $3,
             last_error = CASE WHEN $5 THEN NULL WHEN $4 IS NULL THEN last_error ELSE $4 END,
             remote_id = CASE WHEN $5 THEN $6 ELSE remote_id END,
             remote_url = CASE WHEN $5 THEN $7 ELSE remote_url END,
             sent_at = CASE WHEN $5 THEN $8 ELSE sent_at END,
             updated_at = $8
         WHERE id = $1",
    )
    .bind(id)
    .bind(outcome.to.as_str())
    .bind(outcome.next_attempt_at)
    .bind(outcome.error.as_deref())
    .bind(sent)
    .bind(
        outcome
            .receipt
            .as_ref()
            .and_then(|r| r.remote_id.as_deref()),
    )
    .bind(
        outcome
            .receipt
            .as_ref()
            .and_then(|r| r.remote_url.as_deref()),
    )
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    log(
        &mut *tx,
        id,
        now,
        Some(cur.state),
        outcome.to,
        &Actor::Daemon,
        &outcome.reason,
    )
    .await
}

#[async_trait]
impl Store for SqliteStore {
    async fn sync_plan(
        &self,
        plan: &[Planned],
        now: DateTime<Utc>,
    ) -> Result<SyncSummary, StoreError> {
        self.sync(None, plan, now).await
    }

    async fn sync_items(
        &self,
        items: &[String],
        plan: &[Planned],
        now: DateTime<Utc>,
    ) -> Result<SyncSummary, StoreError> {
        self.sync(Some(items), plan, now).await
    }

    async fn next_wakeup(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.wakeup().await
    }

    async fn lease_due_by(
        &self,
        now: DateTime<Utc>,
        due_by: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.lease(now, due_by, limit, lease).await
    }

    async fn mark_request_started(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        let write = super::group::Write::RequestStarted { id, now };
        self.grouped(write).await.map(drop)
    }

    async fn mark_requests_started(
        &self,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let write = super::group::Write::Started {
            ids: ids.to_vec(),
            now,
        };
        self.grouped(write).await
    }

    async fn record_sent(
        &self,
        id: i64,
        receipt: &Receipt,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        // Also from held(uncertain): reconciliation finding the post makes it
        // sent, so nobody resumes it into a second post.
        let outcome = Outcome {
            to: State::Sent,
            allowed: &[State::InFlight, State::Held],
            next_attempt_at: None,
            error: None,
            receipt: Some(receipt.clone()),
            reason: reason.to_string(),
        };
        self.finish(id, outcome, now).await
    }

    async fn record_retry(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let outcome = Outcome {
            to: State::Retrying,
            allowed: &[State::InFlight],
            next_attempt_at: Some(stamp(next_attempt_at)?),
            error: Some(error.to_string()),
            receipt: None,
            reason: error.to_string(),
        };
        self.finish(id, outcome, now).await
    }

    async fn record_failed(
        &self,
        id: i64,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let outcome = Outcome {
            to: State::Failed,
            allowed: &[State::InFlight],
            next_attempt_at: None,
            error: Some(error.to_string()),
            receipt: None,
            reason: error.to_string(),
        };
        self.finish(id, outcome, now).await
    }

    async fn hold(
        &self,
        id: i64,
        reason: HoldReason,
        note: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const FROM: [State; 4] = [
            State::Planned,
            State::Retrying,
            State::InFlight,
            State::Held,
        ];
        let mut tx = self.write().await?;
        let cur = current(&mut tx, id).await?;
        require(id, &cur, &FROM)?;
        sqlx::query(
            "UPDATE deliveries SET state = 'held', hold_reason = $2, lease_expires_at = NULL,
                 updated_at = $3, last_error = $4
             WHERE id = $1",
        )
        .bind(id)
        .bind(reason.as_str())
        .bind(stamp(now)?)
        // The note is what a person reads in `crier queue` to decide.
        .bind(note)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let why = format!("held ({}): {note}", reason.as_str());
        log(&mut tx, id, now, Some(cur.state), State::Held, &actor, &why).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn release(&self, id: i64, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let cur = current(&mut tx, id).await?;
        require(id, &cur, &[State::InFlight])?;
        // Once the request may have left, planning it again could post twice.
        if cur.request_started {
            return Err(wrong_state(
                id,
                "in_flight with its request started",
                &[State::InFlight],
            ));
        }
        // The attempt never happened, so it does not count towards backoff.
        sqlx::query(
            "UPDATE deliveries SET state = 'planned', lease_expires_at = NULL,
                 next_attempt_at = NULL, attempts = MAX(attempts - 1, 0), updated_at = $2
             WHERE id = $1",
        )
        .bind(id)
        .bind(stamp(now)?)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        log(
            &mut tx,
            id,
            now,
            Some(State::InFlight),
            State::Planned,
            &Actor::Daemon,
            reason,
        )
        .await?;
        tx.commit().await.map_err(db_error)
    }

    async fn expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        self.expired(now).await
    }

    async fn get(&self, id: i64) -> Result<Option<Delivery>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        fetch(&mut conn, id).await
    }

    async fn list(&self, filter: &QueueFilter) -> Result<Vec<Delivery>, StoreError> {
        self.select_list(filter).await
    }
    async fn list_summaries(&self, f: &QueueFilter) -> Result<Vec<Summary>, StoreError> {
        self.select_summaries(f).await
    }

    async fn history(&self, id: i64) -> Result<Vec<Transition>, StoreError> {
        self.select_history(id).await
    }

    async fn change(
        &self,
        id: i64,
        change: &Change,
        now: DateTime<Utc>,
    ) -> Result<Delivery, StoreError> {
        if change.to == State::InFlight {
            // An in-flight row without a lease would never be reconciled.
            return Err(StoreError::Other(
                "only the dispatcher's lease may put a delivery in flight".into(),
            ));
        }
        let mut tx = self.write().await?;
        let cur = current(&mut tx, id).await?;
        require(id, &cur, &change.from)?;
        let at = stamp(now)?;
        let due_at = change.due_at.map(stamp).transpose()?;
        let hold_reason = match change.to {
            State::Held => change.hold_reason.map(HoldReason::as_str),
            _ => None,
        };
        // A retry is due by next_attempt_at: the new due time, or now.
        let next_attempt_at = match change.to {
            State::Retrying => Some(due_at.unwrap_or(at)),
            _ => None,
        };
        sqlx::query(
            "UPDATE deliveries SET state = $2, hold_reason = $3,
                 due_at = COALESCE($4, due_at), next_attempt_at = $5,
                 approved = CASE WHEN $6 THEN 1 ELSE approved END,
                 lease_expires_at = NULL,
                 sent_at = CASE WHEN $2 = 'sent' THEN COALESCE(sent_at, $7) ELSE sent_at END,
                 updated_at = $7
             WHERE id = $1",
        )
        .bind(id)
        .bind(change.to.as_str())
        .bind(hold_reason)
        .bind(due_at)
        .bind(next_attempt_at)
        .bind(change.approve)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        log(
            &mut tx,
            id,
            now,
            Some(cur.state),
            change.to,
            &change.actor,
            &change.reason,
        )
        .await?;
        let updated = fetch(&mut tx, id).await?.ok_or(StoreError::NotFound(id))?;
        tx.commit().await.map_err(db_error)?;
        Ok(updated)
    }

    async fn set_paused(
        &self,
        channel: Option<&str>,
        paused: bool,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.upsert_pause(channel, paused, actor, now).await
    }

    async fn paused(&self) -> Result<Paused, StoreError> {
        self.select_paused().await
    }

    async fn counts(&self) -> Result<Vec<(String, State, u64)>, StoreError> {
        self.select_counts().await
    }

    async fn set_channel_status(
        &self,
        channel: &str,
        status: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.upsert_channel_status(channel, status, now).await
    }

    async fn channel_statuses(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.select_channel_statuses().await
    }

    async fn renew_lease(
        &self,
        id: i64,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.renew(id, until, now).await
    }

    async fn release_reconciled(
        &self,
        id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let cur = current(&mut tx, id).await?;
        require(id, &cur, &[State::InFlight])?;
        let at = stamp(now)?;
        sqlx::query(
            "UPDATE deliveries SET state = 'retrying', lease_expires_at = NULL,
                 next_attempt_at = $2, updated_at = $2
             WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        log(
            &mut tx,
            id,
            now,
            Some(State::InFlight),
            State::Retrying,
            &Actor::Daemon,
            reason,
        )
        .await?;
        tx.commit().await.map_err(db_error)
    }

    async fn record_stopped(
        &self,
        id: i64,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let cur = current(&mut tx, id).await?;
        require(id, &cur, &[State::InFlight])?;
        let at = stamp(now)?;
        // Interrupted on purpose, not failed: the attempt does not count.
        sqlx::query(
            "UPDATE deliveries SET state = 'retrying', lease_expires_at = NULL,
                 next_attempt_at = $2, attempts = MAX(attempts - 1, 0),
                 last_error = $3, updated_at = $2
             WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .bind(note)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        log(
            &mut tx,
            id,
            now,
            Some(State::InFlight),
            State::Retrying,
            &Actor::Daemon,
            note,
        )
        .await?;
        tx.commit().await.map_err(db_error)
    }

    async fn record_part(
        &self,
        delivery_id: i64,
        part: usize,
        receipt: &Receipt,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.insert_part(delivery_id, part, receipt, now).await
    }

    async fn posted_parts(&self, delivery_id: i64) -> Result<Vec<Receipt>, StoreError> {
        self.select_parts(delivery_id).await
    }

    async fn record_content_change(&self, change: &ContentChange) -> Result<(), StoreError> {
        self.insert_content_change(change).await
    }

    async fn content_changes(&self, item: &str) -> Result<Vec<ContentChange>, StoreError> {
        self.select_content_changes(item).await
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        self.select_audit(filter).await
    }

    async fn channel_activity(&self) -> Result<Vec<ChannelActivity>, StoreError> {
        self.select_channel_activity().await
    }
}
