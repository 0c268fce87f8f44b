//! SQLite backend of [`Store`](crate::store::Store): one file in the data
//! directory, WAL journal, every write in a `BEGIN IMMEDIATE` transaction so
//! writers queue on the busy timeout instead of failing half-way.
//!
//! Layout: `schema.rs` (tables, indexes, migrations), `plan.rs`
//! (`sync_plan`), `lease.rs` (wakeups and leases), `ops.rs` (the trait impl
//! and checked state changes), `queries.rs` (reads and switches),
//! `parts.rs` (the posted parts of threads), `channel.rs` (the channel
//! view), `lists/` (the mailing lists), `people.rs` (accounts, sessions,
//! tokens, one-time links), `reviews.rs` (review links and their views),
//! `bench.rs` (bulk loads for benchmarks).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::delivery::{Actor, State};
pub(super) use crate::store::rows::{
    corrupt, delivery_from_row, parse_hold, parse_state, read_delivery, stamp, time,
    UnreadableVariant,
};
use crate::store::StoreError;

mod audit;
mod bench;
mod calendar;
mod channel;
mod coordination;
mod group;
mod lease;
mod lists;
mod ops;
mod parts;
mod people;
mod plan;
mod queries;
mod reviews;
mod schema;
#[cfg(test)]
mod tests;
mod upkeep;

/// Rows sqlx's SQLite thread may read ahead of the task taking them.
const ROW_BUFFER: usize = 1024;

/// How long a write waits for another process's write to finish before
/// giving up with [`StoreError::Locked`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store. Cheap to clone; clones share one connection pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Concurrent outcome writes share one transaction (see `group.rs`).
    group: std::sync::Arc<group::GroupCommit>,
    /// Plan syncs run one at a time (see `plan.rs`).
    syncing: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// The database being opened, so open-time errors can name it.
pub(super) struct Opened {
    path: String,
}

impl Opened {
    /// Maps an error met while opening or migrating: the cases a person
    /// fixes by pointing crier elsewhere name the file.
    fn error(&self, e: sqlx::Error) -> StoreError {
        let path = self.path.clone();
        match sqlite_code(&e) {
            // CANTOPEN, READONLY, PERM, AUTH, IOERR
            Some(14 | 8 | 3 | 23 | 10) => StoreError::Open {
                path,
                reason: message(&e),
            },
            Some(11 | 26) => StoreError::Corrupt(format!("{path}: {}", message(&e))),
            _ => match e {
                sqlx::Error::Io(io) => StoreError::Open {
                    path,
                    reason: io.to_string(),
                },
                other => db_error(other),
            },
        }
    }
}

/// The primary SQLite result code (extended codes carry detail in the high bits).
fn sqlite_code(e: &sqlx::Error) -> Option<i32> {
    let code = e.as_database_error()?.code()?;
    code.parse::<i32>().ok().map(|c| c & 0xff)
}

fn message(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(d) => d.message().to_string(),
        None => e.to_string(),
    }
}

/// Maps a sqlx error to the store's error vocabulary.
pub(super) fn db_error(e: sqlx::Error) -> StoreError {
    match sqlite_code(&e) {
        // BUSY, LOCKED: another connection holds the write lock past the timeout.
        Some(5 | 6) => StoreError::Locked,
        // CORRUPT, NOTADB
        Some(11 | 26) => StoreError::Corrupt(message(&e)),
        _ => match e {
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(e.to_string()),
            sqlx::Error::PoolTimedOut => {
                StoreError::Other("timed out waiting for a database connection".into())
            }
            other => StoreError::Other(message(&other)),
        },
    }
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) and migrates the
    /// database at `path`.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with_busy_timeout(path, DEFAULT_BUSY_TIMEOUT).await
    }

    /// [`open`](Self::open) with a chosen busy timeout: how long a write
    /// waits on another process before failing with [`StoreError::Locked`].
    pub async fn open_with_busy_timeout(
        path: &Path,
        busy_timeout: Duration,
    ) -> Result<SqliteStore, StoreError> {
        let opened = Opened {
            path: path.display().to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: opened.path.clone(),
                reason: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL, not NORMAL: a commit that says "sent" must survive a
            // power cut, or the next start could post again.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(busy_timeout)
            // sqlx's SQLite thread hands rows over a bounded channel: with
            // room for a page of rows (the audit log's 500, a queue of
            // full deliveries) it reads on instead of waiting to be woken
            // for each row the reader takes.
            .row_buffer_size(ROW_BUFFER);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| opened.error(e))?;
        schema::migrate(&pool, &opened).await?;
        Ok(SqliteStore {
            pool,
            group: Default::default(),
            syncing: Default::default(),
        })
    }

    /// A private in-memory database, for tests.
    pub async fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let opened = Opened {
            path: ":memory:".into(),
        };
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true);
        // Each in-memory connection is its own database: keep exactly one,
        // forever.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| opened.error(e))?;
        schema::migrate(&pool, &opened).await?;
        Ok(SqliteStore {
            pool,
            group: Default::default(),
            syncing: Default::default(),
        })
    }

    /// The pool, for `store::copy`, which reads every table as it is.
    pub(in crate::store) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a write transaction, taking the write lock up front so a
    /// read-then-write never fails half-way on a lock upgrade.
    async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }
}

/// Appends one row to the audit log.
async fn log(
    conn: &mut SqliteConnection,
    id: i64,
    at: DateTime<Utc>,
    from: Option<State>,
    to: State,
    actor: &Actor,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO transitions (delivery_id, at, from_state, to_state, actor, reason)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(stamp(at)?)
    .bind(from.map(State::as_str))
    .bind(to.as_str())
    .bind(actor.to_stored())
    .bind(reason)
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}
