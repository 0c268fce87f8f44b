//! The posted parts of threads: one row per part a network accepted.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{db_error, stamp, PgStore};
use crate::delivery::Receipt;
use crate::store::StoreError;

impl PgStore {
    pub(super) async fn insert_part(
        &self,
        delivery_id: i64,
        part: usize,
        receipt: &Receipt,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // A plain pool write commits on its own: the part is durable before
        // the caller sends the next one.
        sqlx::query(
            "INSERT INTO posted_parts (delivery_id, part, remote_id, remote_url, at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(delivery_id)
        .bind(part as i64)
        .bind(receipt.remote_id.as_deref())
        .bind(receipt.remote_url.as_deref())
        .bind(stamp(now)?)
        .execute(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Other(format!(
                "part {} of delivery {delivery_id} is already recorded as posted",
                part + 1
            )),
            _ => db_error(e),
        })?;
        Ok(())
    }

    pub(super) async fn select_parts(&self, delivery_id: i64) -> Result<Vec<Receipt>, StoreError> {
        let rows = sqlx::query(
            "SELECT part, remote_id, remote_url FROM posted_parts
             WHERE delivery_id = $1 ORDER BY part",
        )
        .bind(delivery_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut parts = Vec::with_capacity(rows.len());
        for row in rows {
            let part: i64 = row.try_get("part").map_err(db_error)?;
            // A gap cannot be resumed across: the thread's order is lost.
            if part != parts.len() as i64 {
                break;
            }
            parts.push(Receipt {
                remote_id: row.try_get("remote_id").map_err(db_error)?,
                remote_url: row.try_get("remote_url").map_err(db_error)?,
            });
        }
        Ok(parts)
    }
}
