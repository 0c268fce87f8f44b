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
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::delivery::{Actor, Delivery, HoldReason, State};
use crate::store::StoreError;
use crate::variant::Variant;

/// The columns [`delivery_from_row`] reads, in a literal so statements can
/// be built with `concat!` and stay `&'static str`.
macro_rules! delivery_columns {
    () => {
        "id, item, channel, occasion, state, hold_reason, due_at, next_attempt_at, attempts, \
         lease_expires_at, request_started_at, last_error, remote_id, remote_url, sent_at, \
         requires_approval, approved, variant, fingerprint"
    };
}

mod audit;
mod bench;
mod calendar;
mod channel;
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

/// The milliseconds to store for a time being recorded (a change's `now`,
/// a due, retry or lease time). The shared check every write goes through:
/// a time more than [`FUTURE_LIMIT`] past the wall clock is no clock
/// reading and no plausible schedule — it is a sentinel passed by mistake
/// (`DateTime::MAX_UTC`, "the end of time", to take every lease) — so it is
/// refused before anything is written. Past times are fine (tests and
/// replays use fixed clocks).
pub(super) fn stamp(t: DateTime<Utc>) -> Result<i64, StoreError> {
    stamp_at(t, Utc::now())
}

/// How far ahead of the wall clock a recorded time may be: content is
/// planned months ahead, never decades.
pub(super) const FUTURE_LIMIT: chrono::TimeDelta = chrono::TimeDelta::days(10 * 366);

fn stamp_at(t: DateTime<Utc>, wall: DateTime<Utc>) -> Result<i64, StoreError> {
    if t <= wall + FUTURE_LIMIT {
        Ok(t.timestamp_millis())
    } else {
        Err(StoreError::BadTime {
            at: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
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

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn time(ms: i64, id: i64, column: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| corrupt(format!("delivery {id}: {column} {ms} is out of range")))
}

fn opt_time(ms: Option<i64>, id: i64, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(|ms| time(ms, id, column)).transpose()
}

fn parse_state(text: &str, id: i64) -> Result<State, StoreError> {
    State::parse(text).ok_or_else(|| corrupt(format!("delivery {id} has unknown state {text:?}")))
}

fn parse_hold(text: Option<String>, id: i64) -> Result<Option<HoldReason>, StoreError> {
    text.map(|t| {
        HoldReason::parse(&t)
            .ok_or_else(|| corrupt(format!("delivery {id} has unknown hold reason {t:?}")))
    })
    .transpose()
}

/// A delivery row whose variant is JSON that this version cannot read as a
/// [`Variant`] (edited by hand; a change to `Variant`'s form comes with a
/// migration in `schema.rs`, as only the store reads stored variants).
pub(super) struct UnreadableVariant {
    pub id: i64,
    pub error: String,
}

impl UnreadableVariant {
    /// Why it cannot be sent, as recorded on the delivery.
    pub(super) fn reason(&self) -> String {
        format!("stored variant unreadable: {}", self.error)
    }
}

/// Reads a row selected with [`delivery_columns!`]; bad data is `Corrupt`,
/// an unreadable variant included, never a panic.
fn delivery_from_row(row: &SqliteRow) -> Result<Delivery, StoreError> {
    read_delivery(row)?.map_err(|u| corrupt(format!("delivery {}: {}", u.id, u.reason())))
}

/// Like [`delivery_from_row`], but tells a variant this version cannot read
/// apart, for the caller to deal with that one delivery (leasing fails it).
fn read_delivery(row: &SqliteRow) -> Result<Result<Delivery, UnreadableVariant>, StoreError> {
    let id: i64 = row.try_get("id").map_err(db_error)?;
    let get_time = |col: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        opt_time(row.try_get(col).map_err(db_error)?, id, col)
    };
    let state: String = row.try_get("state").map_err(db_error)?;
    let attempts: i64 = row.try_get("attempts").map_err(db_error)?;
    let variant: String = row.try_get("variant").map_err(db_error)?;
    let variant: serde_json::Value = serde_json::from_str(&variant)
        .map_err(|e| corrupt(format!("delivery {id}: variant is not JSON: {e}")))?;
    let variant: Variant = match serde_json::from_value(variant) {
        Ok(v) => v,
        Err(e) => {
            let error = e.to_string();
            return Ok(Err(UnreadableVariant { id, error }));
        }
    };
    Ok(Ok(Delivery {
        id,
        item: row.try_get("item").map_err(db_error)?,
        channel: row.try_get("channel").map_err(db_error)?,
        occasion: row.try_get("occasion").map_err(db_error)?,
        state: parse_state(&state, id)?,
        hold_reason: parse_hold(row.try_get("hold_reason").map_err(db_error)?, id)?,
        due_at: time(row.try_get("due_at").map_err(db_error)?, id, "due_at")?,
        next_attempt_at: get_time("next_attempt_at")?,
        attempts: u32::try_from(attempts)
            .map_err(|_| corrupt(format!("delivery {id} has {attempts} attempts")))?,
        lease_expires_at: get_time("lease_expires_at")?,
        request_started_at: get_time("request_started_at")?,
        last_error: row.try_get("last_error").map_err(db_error)?,
        remote_id: row.try_get("remote_id").map_err(db_error)?,
        remote_url: row.try_get("remote_url").map_err(db_error)?,
        sent_at: get_time("sent_at")?,
        requires_approval: row.try_get("requires_approval").map_err(db_error)?,
        approved: row.try_get("approved").map_err(db_error)?,
        variant,
        fingerprint: row.try_get("fingerprint").map_err(db_error)?,
    }))
}

#[cfg(test)]
mod stamp_tests {
    use super::*;

    #[test]
    fn times_far_past_the_wall_clock_are_refused() {
        let wall = DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ok = [
            wall,
            wall - FUTURE_LIMIT,
            wall + chrono::TimeDelta::days(400),
        ];
        for t in ok {
            assert_eq!(stamp_at(t, wall).unwrap(), t.timestamp_millis());
        }
        let bad = [
            DateTime::<Utc>::MAX_UTC,
            wall + FUTURE_LIMIT + chrono::TimeDelta::seconds(1),
            wall + chrono::TimeDelta::days(365 * 50),
        ];
        for t in bad {
            assert!(
                matches!(stamp_at(t, wall), Err(StoreError::BadTime { .. })),
                "{t}"
            );
        }
    }
}
