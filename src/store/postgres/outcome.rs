//! Ending and marking attempts: the outcomes of a send (sent, retry,
//! failed, stopped, reconciled) and the "request started" marks, each
//! checked against its row's state under the row's lock, or with the
//! condition in its `UPDATE`'s `WHERE` for a burst.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;

use super::ops::{fence, locked, require, wrong_state};
use super::{db_error, log, settle, stamp, PgStore};
use crate::delivery::{Actor, HoldReason, Receipt, State};
use crate::store::StoreError;

/// Ends an in-flight attempt: state, error and receipt columns, lease cleared.
pub(super) struct Outcome {
    pub to: State,
    pub allowed: &'static [State],
    pub next_attempt_at: Option<i64>,
    pub error: Option<String>,
    pub receipt: Option<Receipt>,
    pub reason: String,
}

impl PgStore {
    /// An outcome in a transaction of its own: PostgreSQL commits
    /// concurrent transactions side by side and groups their WAL flushes
    /// itself, so there is no group commit to share here.
    pub(super) async fn finish(
        &self,
        id: i64,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let done = apply_finish(&mut tx, id, &outcome, &self.owner, now).await;
        settle(tx, done).await
    }
}

/// The body of `mark_request_started`, inside the caller's transaction:
/// only `owner`'s live lease may start a request.
pub(super) async fn apply_request_started(
    tx: &mut PgConnection,
    id: i64,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let cur = locked(&mut *tx, id).await?;
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
    // Nor may one whose delivery another process has leased since.
    fence(id, &cur, owner, at)?;
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

/// The body of [`PgStore::finish`], inside the caller's transaction, for
/// `owner`: its own lease, or one that lapsed (recovery), never another
/// process's live lease.
pub(super) async fn apply_finish(
    tx: &mut PgConnection,
    id: i64,
    outcome: &Outcome,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let cur = locked(&mut *tx, id).await?;
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
    fence(id, &cur, owner, at)?;
    let sent = outcome.to == State::Sent;
    let receipt = outcome.receipt.as_ref();
    sqlx::query(
        "UPDATE deliveries SET state = $2, hold_reason = NULL, lease_expires_at = NULL,
             next_attempt_at = $3,
             last_error = CASE WHEN $5 THEN NULL WHEN $4::text IS NULL THEN last_error
                               ELSE $4 END,
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
    .bind(receipt.and_then(|r| r.remote_id.as_deref()))
    .bind(receipt.and_then(|r| r.remote_url.as_deref()))
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

impl PgStore {
    /// The body of `mark_requests_started`: one statement marks every
    /// delivery of `ids` in flight with a live lease of this process (the
    /// condition in its `WHERE`, so a lease that lapsed, or was taken over
    /// by another process meanwhile, is left out), one more logs
    /// them; the marked ids come back in the order given.
    pub(super) async fn mark_started(
        &self,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let at = stamp(now)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.write().await?;
        let done: Result<_, StoreError> = async {
            let marked: Vec<i64> = sqlx::query_scalar(
                "UPDATE deliveries SET request_started_at = $2, updated_at = $2
                 WHERE id = ANY($1) AND state = 'in_flight' AND lease_expires_at > $2
                     AND leased_from = $3
                 RETURNING id",
            )
            .bind(ids)
            .bind(at)
            .bind(&self.owner)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            let marked: std::collections::HashSet<i64> = marked.into_iter().collect();
            let in_order: Vec<i64> = ids
                .iter()
                .copied()
                .filter(|id| marked.contains(id))
                .collect();
            sqlx::query(
                "INSERT INTO transitions (delivery_id, at, from_state, to_state, actor, reason)
                 SELECT m.id, $2, 'in_flight', 'in_flight', $3, 'request started'
                 FROM unnest($1::bigint[]) WITH ORDINALITY AS m (id, n) ORDER BY m.n",
            )
            .bind(&in_order)
            .bind(at)
            .bind(Actor::Daemon.to_stored())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            Ok(in_order)
        }
        .await;
        settle(tx, done).await
    }

    /// A checked move out of flight back to retrying, due `now`: `note`,
    /// if given, kept as `last_error`; `uncount` gives the attempt back.
    /// Fenced as [`apply_finish`] is.
    pub(super) async fn back_to_retrying(
        &self,
        id: i64,
        reason: &str,
        note: Option<&str>,
        uncount: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let done: Result<_, StoreError> = async {
            let cur = locked(&mut tx, id).await?;
            require(id, &cur, &[State::InFlight])?;
            let at = stamp(now)?;
            fence(id, &cur, &self.owner, at)?;
            sqlx::query(
                "UPDATE deliveries SET state = 'retrying', lease_expires_at = NULL,
                     next_attempt_at = $2,
                     attempts = CASE WHEN $4 THEN GREATEST(attempts - 1, 0) ELSE attempts END,
                     last_error = COALESCE($3, last_error), updated_at = $2
                 WHERE id = $1",
            )
            .bind(id)
            .bind(at)
            .bind(note)
            .bind(uncount)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            let (from, to, actor) = (Some(State::InFlight), State::Retrying, &Actor::Daemon);
            log(&mut tx, id, now, from, to, actor, reason).await?;
            Ok(())
        }
        .await;
        settle(tx, done).await
    }
}
