//! What the dispatcher polls: the next wakeup, leases, expired leases.
//!
//! Each query names its state as a literal so SQLite can use the partial
//! indexes; each is an index range or an index min, never a table scan.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::ops::{apply_finish, wrong_state, Outcome};
use super::{
    corrupt, db_error, delivery_from_row, log, parse_state, read_delivery, stamp, SqliteStore,
    UnreadableVariant,
};
use crate::delivery::{Actor, Delivery, State};
use crate::store::StoreError;

/// The earliest planned due time, retry time or lease expiry: three index mins.
pub(super) const WAKEUP_SQL: &str = "SELECT MIN(t) FROM (
        SELECT MIN(due_at) AS t FROM deliveries WHERE state = 'planned'
        UNION ALL
        SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'retrying'
        UNION ALL
        SELECT MIN(lease_expires_at) FROM deliveries WHERE state = 'in_flight'
    ) AS w";

/// Picks and claims in one statement, so two leasers can never both take a
/// row. `leased_from = state` keeps the old state (SET reads the row as it
/// was) for the audit log, which RETURNING alone cannot give. Each arm is
/// limited first so the sort never sees more than twice the limit.
/// $1 now, $2 lease expiry, $3 limit, $4 due by (at or after now).
pub(super) const LEASE_SQL: &str = concat!(
    "UPDATE deliveries
     SET leased_from = state, state = 'in_flight', hold_reason = NULL,
         attempts = attempts + 1, lease_expires_at = $2,
         request_started_at = NULL, updated_at = $1
     WHERE id IN (
         SELECT id FROM (
             SELECT id, t FROM (
                 SELECT id, due_at AS t FROM deliveries
                 WHERE state = 'planned' AND due_at <= $4
                 ORDER BY due_at, id LIMIT $3) AS p
             UNION ALL
             SELECT id, t FROM (
                 SELECT id, next_attempt_at AS t FROM deliveries
                 WHERE state = 'retrying' AND next_attempt_at <= $4
                 ORDER BY next_attempt_at, id LIMIT $3) AS r
         ) AS due
         ORDER BY t, id LIMIT $3)
     RETURNING ",
    delivery_columns!(),
    ", leased_from"
);

impl SqliteStore {
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
        let rows = sqlx::query(LEASE_SQL)
            .bind(at)
            .bind(until)
            .bind(limit)
            .bind(by)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;

        let mut leased = Vec::with_capacity(rows.len());
        let mut unreadable = Vec::new();
        for row in &rows {
            let from: Option<String> = row.try_get("leased_from").map_err(db_error)?;
            let d = match read_delivery(row)? {
                Ok(d) => d,
                Err(u) => {
                    unreadable.push((from, u));
                    continue;
                }
            };
            let from = from
                .map(|s| parse_state(&s, d.id))
                .transpose()?
                .unwrap_or(State::Planned);
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
            fail_unreadable(&mut tx, from, &u, now).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(leased.into_iter().map(|(_, _, d)| d).collect())
    }

    /// The body of `renew_lease`: only a live lease is extended.
    pub(super) async fn renew(
        &self,
        id: i64,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET lease_expires_at = $2
             WHERE id = $1 AND state = 'in_flight' AND lease_expires_at > $3",
        )
        .bind(id)
        .bind(stamp(until)?)
        .bind(stamp(now)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let live = "not in flight with a live lease";
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
/// (a statement costs far more than a row).
async fn log_leases(
    tx: &mut sqlx::SqliteConnection,
    leased: &[(DateTime<Utc>, State, Delivery)],
    at: i64,
) -> Result<(), StoreError> {
    if leased.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = leased
        .iter()
        .map(|(_, from, d)| serde_json::json!([d.id, from.as_str(), d.attempts]))
        .collect();
    sqlx::query(
        "INSERT INTO transitions (delivery_id, at, from_state, to_state, actor, reason)
         SELECT value ->> 0, $1, value ->> 1, 'in_flight', $2,
                'leased (attempt ' || (value ->> 2) || ')'
         FROM json_each($3)",
    )
    .bind(at)
    .bind(Actor::Daemon.to_stored())
    .bind(serde_json::Value::Array(rows).to_string())
    .execute(tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// A leased delivery whose variant cannot be read can never be sent: it is
/// failed in the lease's transaction (leased, then failed, both logged), and
/// the dispatcher never sees it.
async fn fail_unreadable(
    tx: &mut sqlx::SqliteConnection,
    from: Option<String>,
    u: &UnreadableVariant,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let from = from
        .map(|s| parse_state(&s, u.id))
        .transpose()?
        .unwrap_or(State::Planned);
    log(
        &mut *tx,
        u.id,
        now,
        Some(from),
        State::InFlight,
        &Actor::Daemon,
        "leased",
    )
    .await?;
    let outcome = Outcome {
        to: State::Failed,
        allowed: &[State::InFlight],
        next_attempt_at: None,
        error: Some(u.reason()),
        receipt: None,
        reason: u.reason(),
    };
    apply_finish(tx, u.id, &outcome, now).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::ops::fetch;
    use super::super::SqliteStore;
    use crate::delivery::State;
    use crate::store::contract::{at, planned};
    use crate::store::{Store, StoreError};

    /// Valid JSON this version cannot read as a variant (another version
    /// wrote it, or a person edited it): that delivery fails, the rest go.
    #[tokio::test]
    async fn an_unreadable_variant_fails_its_delivery_when_leased() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        let plan = [
            planned("a", "news", "at", 0, "a"),
            planned("b", "news", "at", 0, "b"),
        ];
        store.sync_plan(&plan, at(0)).await.unwrap();
        sqlx::query("UPDATE deliveries SET variant = '{\"text\": 3}' WHERE item = 'a'")
            .execute(&store.pool)
            .await
            .unwrap();
        let mut conn = store.pool.acquire().await.unwrap();
        let read = fetch(&mut conn, 1).await;
        drop(conn);
        assert!(
            matches!(&read, Err(StoreError::Corrupt(m)) if m.contains("stored variant unreadable")),
            "{read:?}"
        );

        let leased = store.lease_due(at(1), 10, Duration::from_secs(60)).await;
        let leased = leased.unwrap();
        assert_eq!(
            leased.iter().map(|d| d.item.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
        let history = store.history(1).await.unwrap();
        let last = history.last().unwrap();
        assert_eq!(last.to, State::Failed);
        assert!(
            last.reason.starts_with("stored variant unreadable: "),
            "{}",
            last.reason
        );
        let list = store.list(&Default::default()).await;
        assert!(matches!(list, Err(StoreError::Corrupt(_))), "{list:?}");
    }
}
