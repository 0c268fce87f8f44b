//! Subscribers' rows (`Lists`), with the topics their consents hold.

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, Executor, IntoArguments, Type};

use super::{corrupt, Columns};
use crate::store::lists::{Status, Subscriber};
use crate::store::StoreError;

/// What [`subscriber`] reads.
pub(crate) const SUBSCRIBER_COLUMNS: &str =
    "id, channel, email, name, organisation, status, created_at, confirmed_at, bounces";

pub(crate) fn ms_time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt(format!("time {ms} out of range")))
}

pub(crate) fn opt_ms(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(ms_time).transpose()
}

/// A row selected with [`SUBSCRIBER_COLUMNS`], with the topics of its
/// consents in force read on `conn` (the caller's transaction, when it
/// has one). `err` is the backend's mapping of a failed statement.
pub(crate) async fn subscriber<DB>(
    conn: &mut DB::Connection,
    row: &DB::Row,
    err: fn(sqlx::Error) -> StoreError,
) -> Result<Subscriber, StoreError>
where
    DB: Database,
    DB::Row: Columns,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    let id = row.int("id")?;
    let status = row.text("status")?;
    let topics = sqlx::query::<DB>(
        "SELECT DISTINCT topic FROM consents
         WHERE subscriber_id = $1 AND withdrawn_at IS NULL ORDER BY topic",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(err)?
    .iter()
    .map(|r| r.text("topic"))
    .collect::<Result<_, _>>()?;
    Ok(Subscriber {
        id,
        channel: row.text("channel")?,
        email: row.text("email")?,
        name: row.opt_text("name")?,
        organisation: row.opt_text("organisation")?,
        status: Status::parse(&status)
            .ok_or_else(|| corrupt(format!("subscriber {id} has status {status:?}")))?,
        created_at: ms_time(row.int("created_at")?)?,
        confirmed_at: opt_ms(row.opt_int("confirmed_at")?)?,
        bounces: row.int("bounces")?,
        topics,
    })
}
