//! `crier store copy --to URL`: moves a queue from the SQLite file to a new
//! PostgreSQL database, table by table, in one PostgreSQL transaction, and
//! proves it: each table's rows are counted and hashed (SHA-256 over every
//! value, rows in key order) as read from SQLite and as read back from
//! PostgreSQL before the commit. Any difference rolls everything back.
//!
//! The source is read in one SQLite read transaction, so it is one moment's
//! queue even while something writes; the daemon should be stopped all the
//! same, or what it does after that moment stays behind.

mod tables;

use futures_util::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{ColumnIndex, Decode, Postgres, QueryBuilder, Row, Type};

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::StoreError;
use tables::{Kind, Table, TABLES};

/// Rows sent to PostgreSQL per INSERT (deliveries have 22 columns; the
/// protocol allows 65,535 parameters a statement).
const BATCH: usize = 1000;

/// What one table's copy found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Copied {
    pub table: &'static str,
    pub rows: u64,
    /// SHA-256 of the table's values, hex: the same on both sides.
    pub checksum: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
    Flag(bool),
}

impl Value {
    /// Feeds the value to the checksum, unambiguously (typed, length-prefixed).
    fn hash(&self, h: &mut Sha256) {
        match self {
            Value::Int(None) | Value::Text(None) | Value::Bytes(None) => h.update(b"n"),
            Value::Int(Some(n)) => h.update(format!("i{n};")),
            Value::Text(Some(t)) => {
                h.update(format!("t{}:", t.len()));
                h.update(t.as_bytes());
            }
            Value::Bytes(Some(b)) => {
                h.update(format!("x{}:", b.len()));
                h.update(b);
            }
            Value::Flag(b) => h.update(if *b { "b1" } else { "b0" }),
        }
    }
}

/// Column `i` of a row from either side: both store the same kinds
/// (BIGINT/INTEGER, TEXT, BLOB/BYTEA, and flags sqlx reads as `bool` from
/// SQLite's 0/1 and PostgreSQL's boolean), so one reader serves the copy
/// and the check.
fn value<R>(row: &R, i: usize, kind: Kind) -> Result<Value, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    let err = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    Ok(match kind {
        Kind::Int => Value::Int(row.try_get(i).map_err(err)?),
        Kind::Text => Value::Text(row.try_get(i).map_err(err)?),
        Kind::Bytes => Value::Bytes(row.try_get(i).map_err(err)?),
        Kind::Flag => Value::Flag(row.try_get(i).map_err(err)?),
    })
}

fn select(table: &Table, collate: &str) -> String {
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let order: Vec<String> = table
        .order
        .split(", ")
        .map(|c| match table.columns.iter().find(|(n, _)| *n == c) {
            Some((_, Kind::Text)) => format!("{c}{collate}"),
            _ => c.to_string(),
        })
        .collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        columns.join(", "),
        table.name,
        order.join(", ")
    )
}

/// Copies every table of `from` into `to`, which must hold no queue yet.
pub async fn copy(from: &SqliteStore, to: &PgStore) -> Result<Vec<Copied>, StoreError> {
    let mut source = from.pool().begin().await.map_err(other)?;
    let mut target = to.pool().begin().await.map_err(other)?;
    refuse_unless_empty(&mut target).await?;
    let mut copied = Vec::new();
    for table in TABLES {
        let (rows, written) = copy_table(table, &mut source, &mut target).await?;
        let read_back = checksum_pg(table, &mut target).await?;
        if read_back != (rows, written.clone()) {
            return Err(StoreError::Other(format!(
                "{}: copied {rows} rows (SHA-256 {written}) but PostgreSQL holds {} (SHA-256 {}); \
                 nothing was written",
                table.name, read_back.0, read_back.1
            )));
        }
        if table.identity {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
                 COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
                table.name
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *target)
                .await
                .map_err(other)?;
        }
        copied.push(Copied {
            table: table.name,
            rows,
            checksum: written,
        });
    }
    target.commit().await.map_err(other)?;
    Ok(copied)
}

async fn copy_table(
    table: &Table,
    source: &mut sqlx::SqliteConnection,
    target: &mut sqlx::PgConnection,
) -> Result<(u64, String), StoreError> {
    let sql = select(table, "");
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut *source);
    let mut hash = Sha256::new();
    let (mut count, mut batch) = (0u64, Vec::with_capacity(BATCH));
    while let Some(row) = rows.try_next().await.map_err(other)? {
        let mut values = Vec::with_capacity(table.columns.len());
        for (i, (_, kind)) in table.columns.iter().enumerate() {
            let v = value(&row, i, *kind)?;
            v.hash(&mut hash);
            values.push(v);
        }
        count += 1;
        batch.push(values);
        if batch.len() == BATCH {
            insert(table, &batch, target).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        insert(table, &batch, target).await?;
    }
    Ok((count, hex::encode(hash.finalize())))
}

async fn insert(
    table: &Table,
    rows: &[Vec<Value>],
    target: &mut sqlx::PgConnection,
) -> Result<(), StoreError> {
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "INSERT INTO {} ({}) ",
        table.name,
        columns.join(", ")
    ));
    q.push_values(rows, |mut b, row| {
        for v in row {
            match v {
                Value::Int(n) => b.push_bind(*n),
                Value::Text(t) => b.push_bind(t.clone()),
                Value::Bytes(x) => b.push_bind(x.clone()),
                Value::Flag(f) => b.push_bind(*f),
            };
        }
    });
    q.build().execute(target).await.map_err(other)?;
    Ok(())
}

async fn checksum_pg(
    table: &Table,
    target: &mut sqlx::PgConnection,
) -> Result<(u64, String), StoreError> {
    // COLLATE "C": byte order, as SQLite's BINARY sorts text.
    let sql = select(table, " COLLATE \"C\"");
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut *target);
    let (mut hash, mut count) = (Sha256::new(), 0u64);
    while let Some(row) = rows.try_next().await.map_err(other)? {
        for (i, (_, kind)) in table.columns.iter().enumerate() {
            value(&row, i, *kind)?.hash(&mut hash);
        }
        count += 1;
    }
    Ok((count, hex::encode(hash.finalize())))
}

/// A database that already holds a queue, people or subscribers is not a
/// copy's target: merging two queues would break both.
async fn refuse_unless_empty(target: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    for table in TABLES {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", table.name);
        let any: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *target)
            .await
            .map_err(other)?;
        if any {
            return Err(StoreError::Exists(format!(
                "the PostgreSQL database already holds crier data (table {}); copy only into \
                 a new, empty database",
                table.name
            )));
        }
    }
    Ok(())
}

fn other(e: sqlx::Error) -> StoreError {
    super::postgres::db_error(e)
}

#[cfg(test)]
mod tests;
