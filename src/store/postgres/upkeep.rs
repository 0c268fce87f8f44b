//! [`Upkeep`] on PostgreSQL. A backup is the server's business (`pg_dump`,
//! or its own base backups and WAL archive): crier refuses and says so,
//! rather than write a file that is not a copy of the queue. Forgetting
//! history works as on SQLite, in small transactions.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{db_error, settle, stamp, PgStore};
use crate::store::upkeep::Forgotten;
use crate::store::{StoreError, Upkeep};

/// Deliveries whose history one transaction forgets: rows are locked for
/// milliseconds, not for the whole of a year's history.
const FORGET_CHUNK: i64 = 500;

#[async_trait]
impl Upkeep for PgStore {
    async fn backup(&self, to: &Path) -> Result<u64, StoreError> {
        Err(StoreError::Other(format!(
            "crier backup copies only a SQLite store; this one is in PostgreSQL: back it up \
             with pg_dump (or the server's own backups). Nothing was written to {}",
            to.display()
        )))
    }

    async fn forget_history(&self, before: DateTime<Utc>) -> Result<Forgotten, StoreError> {
        self.forget_settled(before).await
    }
}

impl PgStore {
    async fn forget_settled(&self, before: DateTime<Utc>) -> Result<Forgotten, StoreError> {
        let before = stamp(before)?;
        let mut gone = Forgotten::default();
        let mut after = 0_i64;
        loop {
            let mut tx = self.write().await?;
            let done: Result<_, StoreError> = async {
                // Locked, so a delivery a person revives meanwhile (a cancelled
                // one planned again) is either still settled here or skipped.
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT id FROM deliveries WHERE id > $1 AND state IN ('sent', 'cancelled')
                         AND updated_at < $2 ORDER BY id LIMIT $3 FOR UPDATE",
                )
                .bind(after)
                .bind(before)
                .bind(FORGET_CHUNK)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
                if ids.is_empty() {
                    return Ok(ids);
                }
                for (sql, count) in [
                    (
                        "DELETE FROM transitions WHERE delivery_id = ANY($1)",
                        &mut gone.transitions,
                    ),
                    (
                        "DELETE FROM recipients WHERE delivery_id = ANY($1)",
                        &mut gone.recipients,
                    ),
                ] {
                    let done = sqlx::query(sql)
                        .bind(&ids)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    *count += done.rows_affected();
                }
                Ok(ids)
            }
            .await;
            let ids = settle(tx, done).await?;
            let Some(&last) = ids.last() else { break };
            gone.deliveries += ids.len() as u64;
            after = last;
        }
        Ok(gone)
    }
}
