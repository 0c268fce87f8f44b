//! [`Upkeep`] on SQLite: `VACUUM INTO` a file beside the target, then a
//! rename. `VACUUM INTO` reads in one transaction, so the copy is the
//! store as of one moment however busy the daemon is (WAL: readers never
//! block the writer), and it is compact, a plain file with no WAL to carry.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::{db_error, stamp, SqliteStore};
use crate::store::upkeep::Forgotten;
use crate::store::{StoreError, Upkeep};

#[async_trait]
impl Upkeep for SqliteStore {
    async fn backup(&self, to: &Path) -> Result<u64, StoreError> {
        let refused = |reason: String| StoreError::Open {
            path: to.display().to_string(),
            reason,
        };
        let failed = |e: std::io::Error| refused(e.to_string());
        if to.exists() {
            return Err(refused(
                "it exists; give a new file name (nothing was written)".into(),
            ));
        }
        let name = to
            .file_name()
            .ok_or_else(|| refused("not a file name".into()))?;
        let partial = to.with_file_name(format!("{}.partial", name.to_string_lossy()));
        if partial.exists() {
            std::fs::remove_file(&partial).map_err(failed)?;
        }
        let target = partial
            .to_str()
            .ok_or_else(|| refused("the path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        // Durable before it takes the name: a crash leaves the old state.
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(failed)?;
        std::fs::rename(&partial, to).map_err(failed)?;
        Ok(std::fs::metadata(to).map_err(failed)?.len())
    }

    async fn forget_history(&self, before: DateTime<Utc>) -> Result<Forgotten, StoreError> {
        self.forget_settled(before).await
    }
}

/// Deliveries whose history one transaction forgets: the writer is held
/// for milliseconds, not for the whole of a year's history.
const FORGET_CHUNK: i64 = 500;

impl SqliteStore {
    pub(super) async fn forget_settled(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Forgotten, StoreError> {
        let before = stamp(before)?;
        let mut gone = Forgotten::default();
        let mut after = 0_i64;
        loop {
            let mut tx = self.write().await?;
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM deliveries WHERE id > $1 AND state IN ('sent', 'cancelled')
                 AND updated_at < $2 ORDER BY id LIMIT $3",
            )
            .bind(after)
            .bind(before)
            .bind(FORGET_CHUNK)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            let Some(&last) = ids.last() else { break };
            let list = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
            for (table, count) in [
                ("transitions", &mut gone.transitions),
                ("recipients", &mut gone.recipients),
            ] {
                let sql = format!(
                    "DELETE FROM {table} WHERE delivery_id IN (SELECT value FROM json_each($1))"
                );
                let done = sqlx::query(AssertSqlSafe(sql))
                    .bind(&list)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                *count += done.rows_affected();
            }
            tx.commit().await.map_err(db_error)?;
            gone.deliveries += ids.len() as u64;
            after = last;
        }
        Ok(gone)
    }
}
