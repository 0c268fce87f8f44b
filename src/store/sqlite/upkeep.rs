//! [`Upkeep`] on SQLite: `VACUUM INTO` a file beside the target, then a
//! rename. `VACUUM INTO` reads in one transaction, so the copy is the
//! store as of one moment however busy the daemon is (WAL: readers never
//! block the writer), and it is compact, a plain file with no WAL to carry.

use std::path::Path;

use async_trait::async_trait;

use super::{db_error, SqliteStore};
use crate::store::{StoreError, Upkeep};

#[async_trait]
impl Upkeep for SqliteStore {
    async fn backup(&self, to: &Path) -> Result<u64, StoreError> {
        let failed = |e: std::io::Error| StoreError::Open {
            path: to.display().to_string(),
            reason: e.to_string(),
        };
        if to.exists() {
            let reason = "it exists; give a new file name (nothing was written)".to_string();
            return Err(StoreError::Open {
                path: to.display().to_string(),
                reason,
            });
        }
        let name = to.file_name().ok_or_else(|| StoreError::Open {
            path: to.display().to_string(),
            reason: "not a file name".into(),
        })?;
        let partial = to.with_file_name(format!("{}.partial", name.to_string_lossy()));
        if partial.exists() {
            std::fs::remove_file(&partial).map_err(failed)?;
        }
        let target = partial.to_str().ok_or_else(|| StoreError::Open {
            path: to.display().to_string(),
            reason: "the path is not UTF-8".into(),
        })?;
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
}
