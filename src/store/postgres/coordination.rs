//! Several processes on one database: the leader row, the database's
//! clock, and LISTEN/NOTIFY wake-ups.
//!
//! Leadership is a row with a time to live, claimed and renewed by one
//! statement judged by the database's clock, not a session advisory lock:
//! those are tied to a connection, which a pooler in transaction mode
//! (PgBouncer) shares between clients. For the same reason a notification
//! can be lost, so the dispatcher polls a shared store as well.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::postgres::PgListener;
use sqlx::Row;
use tokio::sync::Notify;
use tracing::warn;

use super::{db_error, PgStore};
use crate::store::{Coordination, StoreError};

/// The database's clock in unix milliseconds, as the schema keeps times.
pub(super) const DB_NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// The one role the leader row holds (plan sync, feed rebuilds, learned
/// limits, history upkeep).
const ROLE: &str = "planner";

#[async_trait]
impl Coordination for PgStore {
    fn shared(&self) -> bool {
        true
    }

    async fn lead(&self, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let sql = format!(
            "INSERT INTO leader (role, owner, expires_at) VALUES ($1, $2, {DB_NOW_MS} + $3)
             ON CONFLICT (role) DO UPDATE
                SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
              WHERE leader.owner = EXCLUDED.owner OR leader.expires_at < {DB_NOW_MS}
             RETURNING owner"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ROLE)
            .bind(owner)
            .bind(ttl_ms)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn resign(&self, owner: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leader WHERE role = $1 AND owner = $2")
            .bind(ROLE)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn clock_skew(&self) -> Result<chrono::TimeDelta, StoreError> {
        let before = Utc::now();
        let sql = format!("SELECT {DB_NOW_MS}");
        let db_ms: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db_error)?;
        let after = Utc::now();
        // The database read its clock somewhere in the round trip: take the middle.
        let local = before + (after - before) / 2;
        Ok(chrono::TimeDelta::milliseconds(
            db_ms - local.timestamp_millis(),
        ))
    }

    fn watch_changes(&self, wake: Arc<Notify>) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    warn!(error = %db_error(e), "cannot listen for queue changes; polling only");
                    return;
                }
            };
            let channel = match channel_name(&pool).await {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "cannot listen for queue changes; polling only");
                    return;
                }
            };
            if let Err(e) = listener.listen(&channel).await {
                warn!(error = %db_error(e), "cannot listen for queue changes; polling only");
                return;
            }
            // recv reconnects after a lost connection (what was sent
            // meanwhile is lost: the poll finds it).
            loop {
                match listener.recv().await {
                    Ok(_) => wake.notify_one(),
                    Err(e) => {
                        warn!(error = %db_error(e), "lost the queue-change listener; polling only");
                        return;
                    }
                }
            }
        });
    }
}

/// The notification channel of this store's schema: processes on other
/// schemas of the same database are not woken by it.
async fn channel_name(pool: &sqlx::PgPool) -> Result<String, StoreError> {
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(pool)
        .await
        .map_err(db_error)?;
    Ok(format!("crier_queue.{schema}"))
}

/// Migration 2: the leader row, and the triggers that notify listeners
/// when a delivery may be due sooner than they thought (added,
/// rescheduled, released, retrying) or a pause switch moved. A row-level
/// trigger with a WHEN clause costs nothing for the updates that make
/// nothing due (leases, outcomes); one transaction's notifications are
/// folded into one.
pub(super) const MIGRATION: &[&str] = &[
    "CREATE TABLE leader (
        role       TEXT   PRIMARY KEY,
        owner      TEXT   NOT NULL,
        expires_at BIGINT NOT NULL
    )",
    "CREATE FUNCTION crier_queue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
        PERFORM pg_notify('crier_queue.' || current_schema(), '');
        RETURN NULL;
     END $$",
    "CREATE TRIGGER deliveries_due_sooner AFTER INSERT OR UPDATE ON deliveries
        FOR EACH ROW WHEN (NEW.state IN ('planned', 'retrying'))
        EXECUTE FUNCTION crier_queue_changed()",
    "CREATE TRIGGER pauses_changed AFTER INSERT OR UPDATE ON pauses
        FOR EACH STATEMENT EXECUTE FUNCTION crier_queue_changed()",
];
