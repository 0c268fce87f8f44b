//! PostgreSQL backend of [`Store`](crate::store::Store), chosen by
//! `[store] url = "postgres://…"` (or `CRIER_STORE_URL`): several `crier
//! serve` processes, on several machines, share one queue in it.
//!
//! The tables are SQLite's (times are BIGINT unix milliseconds, states
//! TEXT; see `schema.rs`), so a queue copies across unchanged and one row
//! reader ([`crate::store::rows`]) serves both. What differs is how writers
//! meet: SQLite has one writer at a time, so a read-then-write in a
//! transaction is safe; here transactions run side by side under READ
//! COMMITTED, so every checked change states its condition in the `UPDATE`'s
//! `WHERE` (or locks the row with `FOR UPDATE` first), and leasing takes
//! rows with `FOR UPDATE SKIP LOCKED`.
//!
//! Layout: `schema.rs` (tables, migrations); the rest follows `sqlite/`:
//! `ops.rs` (the trait impl and checked state changes), `outcome.rs` (an
//! attempt's outcomes and "request started" marks), `lease.rs`
//! (wakeups and leases), `plan.rs` (`sync_plan`, with `plan/update.rs` and
//! `plan/renders.rs`), `queries.rs` (reads and switches), `audit.rs`,
//! `parts.rs`, `calendar.rs`, `upkeep.rs`; beside the queue, `lists/`
//! (mailing lists), `people.rs`, `reviews.rs` and `channel.rs` (the
//! channel's view).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::PgPool;

use crate::delivery::{Actor, State};
pub(super) use crate::store::rows::{
    corrupt, delivery_from_row, read_delivery, stamp, UnreadableVariant,
};
use crate::store::StoreError;

mod audit;
mod calendar;
mod channel;
mod coordination;
mod lease;
mod lists;
mod ops;
mod outcome;
mod parts;
mod people;
mod plan;
mod queries;
mod reviews;
mod schema;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod upkeep;

/// Connections each process keeps to the database.
const POOL_SIZE: u32 = 10;

/// The PostgreSQL store. Cheap to clone; clones share one connection pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Plan syncs from this process run one at a time.
    syncing: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// This process's random id, kept in `leased_from` on each lease it
    /// takes, so a later step can fence completions by owner.
    owner: String,
}

/// The database being opened, so open-time errors can name it (its URL
/// without the password).
pub(super) struct Opened {
    path: String,
}

impl Opened {
    fn error(&self, e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Configuration(_)
            | sqlx::Error::PoolTimedOut => StoreError::Open {
                path: self.path.clone(),
                reason: message(&e),
            },
            sqlx::Error::Database(ref d)
                if d.code()
                    .is_some_and(|c| c.starts_with("28") || c.starts_with("3D")) =>
            {
                // 28: authentication; 3D: no such database.
                StoreError::Open {
                    path: self.path.clone(),
                    reason: message(&e),
                }
            }
            other => db_error(other),
        }
    }
}

/// `url` with any password replaced, to name the database in errors and
/// logs without the secret.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "the [store] url (not a valid URL)".into(),
    }
}

fn message(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(d) => d.message().to_string(),
        None => e.to_string(),
    }
}

/// Maps a sqlx error to the store's error vocabulary.
pub(super) fn db_error(e: sqlx::Error) -> StoreError {
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned());
    match code.as_deref() {
        // lock_not_available, query_canceled (lock_timeout / statement_timeout)
        Some("55P03" | "57014") => StoreError::Locked,
        // data_corrupted, index_corrupted
        Some("XX001" | "XX002") => StoreError::Corrupt(message(&e)),
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

impl PgStore {
    /// Connects to the database at `url` and migrates it.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        Self::connect_with(url, None).await
    }

    /// [`connect`](Self::connect), keeping crier's tables in `schema`
    /// (created if missing) instead of the user's default one: tests give
    /// each test a schema of its own.
    pub async fn connect_with(url: &str, schema: Option<&str>) -> Result<PgStore, StoreError> {
        let opened = Opened { path: redact(url) };
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Open {
                path: opened.path.clone(),
                reason: message(&e),
            })?
            // The server's notices ("relation … already exists, skipping"
            // at each start's migration check) are not news for the log.
            .options([("client_min_messages", "warning")]);
        if let Some(schema) = schema {
            // Named in SQL below: only a plain identifier will do.
            if schema.is_empty()
                || !schema
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(StoreError::Open {
                    path: opened.path,
                    reason: format!("{schema:?} is not a schema name crier uses (a-z, 0-9, _)"),
                });
            }
            options = options.options([("search_path", schema)]);
        }
        // One connection first: an unreachable server or a refused login
        // fails at once, where the pool would retry until its timeout.
        use sqlx::Connection;
        PgConnection::connect_with(&options)
            .await
            .map_err(|e| opened.error(e))?
            .close()
            .await
            .map_err(|e| opened.error(e))?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| opened.error(e))?;
        if let Some(schema) = schema {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
            )))
            .execute(&pool)
            .await
            .map_err(|e| opened.error(e))?;
        }
        if let Err(e) = schema::migrate(&pool, &opened).await {
            pool.close().await;
            return Err(e);
        }
        Ok(PgStore {
            pool,
            syncing: Default::default(),
            // Its name in `leased_from`, different for each store opened.
            owner: crate::store::coordination::participant_name(),
        })
    }

    /// The pool, for `store::copy`, which writes every table as it is.
    pub(in crate::store) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction (READ COMMITTED): a checked change in it locks
    /// its row or states its condition in its `WHERE`.
    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        self.pool.begin().await.map_err(db_error)
    }
}

/// Commits `tx` if `done` is a success; otherwise rolls it back before
/// giving the error. A transaction only dropped is rolled back by a task
/// sqlx spawns once its connection is back in the pool, and until that
/// runs the rows it locked stay locked: another process's lease would
/// pass over them.
pub(super) async fn settle<T>(
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    done: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match done {
        Ok(value) => {
            tx.commit().await.map_err(db_error)?;
            Ok(value)
        }
        Err(e) => {
            // The error says what went wrong; a failed rollback closes
            // the connection, which ends the transaction too.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Appends one row to the audit log.
async fn log(
    conn: &mut PgConnection,
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
