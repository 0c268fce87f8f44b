//! [`Renders`] on SQLite: the `rendered` table (migration 14), one row per
//! (item, channel), counted while its `at` delivery keeps the recorded
//! fingerprint.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::super::{db_error, SqliteStore};
use super::placeholders;
use crate::store::{RenderRecord, Renders, StoreError, StoredRender};

/// Records written per transaction (and 100 to a statement): the writer is
/// free between them, as between the plan sync's chunks.
const RECORDS_PER_TX: usize = 5_000;
const RECORDS_PER_INSERT: usize = 100;

/// A record counts while its `at` delivery keeps the recorded fingerprint
/// (read by the deliveries' unique key). The row-value comparison pages in
/// the table's own order.
const STORED_SQL: &str = "SELECT r.item, r.channel, r.source, r.state
     FROM rendered r
     JOIN deliveries d
         ON d.item = r.item AND d.channel = r.channel AND d.occasion = 'at'
     WHERE (r.item, r.channel) > ($1, $2) AND d.fingerprint = r.fingerprint
       AND r.state IS NOT NULL
     ORDER BY r.item, r.channel
     LIMIT $3";

#[async_trait]
impl Renders for SqliteStore {
    async fn record_renders(&self, records: &[RenderRecord]) -> Result<(), StoreError> {
        for batch in records.chunks(RECORDS_PER_TX) {
            let mut tx = self.write().await?;
            for chunk in batch.chunks(RECORDS_PER_INSERT) {
                let sql = format!(
                    "INSERT INTO rendered (item, channel, source, fingerprint, state) VALUES {}
                     ON CONFLICT (item, channel) DO UPDATE
                     SET source = excluded.source, fingerprint = excluded.fingerprint,
                         state = excluded.state",
                    placeholders(chunk.len(), 5, 0, "")
                );
                // Only numbered placeholders are generated; every value is bound.
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for r in chunk {
                    query = query
                        .bind(&r.item)
                        .bind(&r.channel)
                        .bind(&r.source)
                        .bind(&r.fingerprint)
                        .bind(&r.state);
                }
                query.execute(&mut *tx).await.map_err(db_error)?;
            }
            tx.commit().await.map_err(db_error)?;
        }
        Ok(())
    }

    async fn stored_renders(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<StoredRender>, StoreError> {
        let (item, channel) = after.unwrap_or(("", ""));
        let rows = sqlx::query(STORED_SQL)
            .bind(item)
            .bind(channel)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        (rows.iter())
            .map(|row| crate::store::renders::stored_render(row, db_error))
            .collect()
    }
}
