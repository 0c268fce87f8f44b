//! Bulk loads for benchmarks and fixtures (`examples/bench_fill.rs`,
//! `examples/bench_console.rs`): many rows a transaction, through one
//! prepared multi-row statement run in a loop (a row per statement spends
//! most of its time crossing to SQLite's thread). Not used by crier itself.

use chrono::Utc;
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{db_error, SqliteStore};
use crate::delivery::Planned;
use crate::store::StoreError;

impl SqliteStore {
    /// Loads planned deliveries in one transaction. Writes no audit rows and
    /// skips keys that already exist; returns how many were inserted.
    #[doc(hidden)]
    pub async fn insert_many_for_bench(&self, rows: &[Planned]) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let inserted = insert_planned(&mut tx, rows).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(inserted)
    }

    /// Loads deliveries as already sent, in one transaction, each with the
    /// history a real send leaves (planned a day before its due time,
    /// leased, request started, sent a second after it was due), a post
    /// address and, where it needed one, its approval, so the queue, the
    /// calendar and the audit log read them as they read the daemon's own.
    /// Skips keys that already exist; returns how many were inserted.
    #[doc(hidden)]
    pub async fn insert_sent_for_bench(&self, rows: &[Planned]) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let before: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM deliveries")
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db_error)?;
        let inserted = insert_planned(&mut tx, rows).await?;
        // Transitions in the order the daemon writes them, so each
        // delivery's history (ordered by transition id) reads right.
        for (from, to, at, reason) in [
            ("NULL", "'planned'", "due_at - 86400000", "'planned'"),
            ("'planned'", "'in_flight'", "due_at", "'leased (attempt 1)'"),
            (
                "'in_flight'",
                "'in_flight'",
                "due_at + 200",
                "'request started'",
            ),
            ("'in_flight'", "'sent'", "due_at + 1000", "'sent'"),
        ] {
            let sql = format!(
                "INSERT INTO transitions (delivery_id, at, from_state, to_state, actor, reason)
                 SELECT id, {at}, {from}, {to}, 'daemon', {reason} FROM deliveries
                 WHERE id > $1 ORDER BY id"
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        sqlx::query(
            "UPDATE deliveries SET state = 'sent', attempts = 1, sent_at = due_at + 1000,
                 request_started_at = due_at + 200, remote_id = item || '-' || channel,
                 remote_url = 'https://posts.example/' || channel || '/' || item,
                 approved = requires_approval, created_at = due_at - 86400000,
                 updated_at = due_at + 1000
             WHERE id > $1",
        )
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(inserted)
    }
}

/// Inserts `rows` as planned, 100 to a statement; how many were new.
async fn insert_planned(tx: &mut SqliteConnection, rows: &[Planned]) -> Result<u64, StoreError> {
    const BATCH: usize = 100;
    let statement = |n: usize| {
        let values: Vec<String> = (0..n)
            .map(|i| {
                let p = i * 7;
                format!(
                    "(${}, ${}, ${}, 'planned', ${}, ${}, ${}, ${}, $1, $1)",
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 8
                )
            })
            .collect();
        format!(
            "INSERT INTO deliveries (item, channel, occasion, state, due_at,
                 requires_approval, variant, fingerprint, created_at, updated_at)
             VALUES {}
             ON CONFLICT (item, channel, occasion) DO NOTHING",
            values.join(", ")
        )
    };
    let full = statement(BATCH);
    let now = Utc::now().timestamp_millis();
    let mut inserted = 0;
    for chunk in rows.chunks(BATCH) {
        let sql = if chunk.len() == BATCH {
            full.clone()
        } else {
            statement(chunk.len())
        };
        // Only numbered placeholders are generated; every value is bound.
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now);
        for p in chunk {
            query = query
                .bind(p.item.clone())
                .bind(p.channel.clone())
                .bind(p.occasion.clone())
                .bind(p.due_at.timestamp_millis())
                .bind(p.requires_approval)
                .bind(crate::store::planned_json(p).expect("bench rows carry their variant"))
                .bind(p.fingerprint.clone());
        }
        inserted += query
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
    }
    Ok(inserted)
}
