//! Digest choices: which topics a subscriber takes as a
//! daily or weekly digest. No row is every item.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::Row;

use crate::store::lists::EVERY_ITEM;
use crate::store::postgres::{db_error, settle, stamp, PgStore};
use crate::store::StoreError;

pub(super) async fn set_cadences(
    store: &PgStore,
    choices: &[(i64, String, String)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = stamp(now)?;
    let mut tx = store.write().await?;
    let done: Result<_, StoreError> = async {
        for (id, topic, cadence) in choices {
            let query = if cadence == EVERY_ITEM {
                sqlx::query("DELETE FROM digest_choices WHERE subscriber_id = $1 AND topic = $2")
                    .bind(*id)
                    .bind(topic)
            } else {
                // The subscriber's row locked (FOR KEY SHARE): an erasure in
                // progress is waited for, then there is no row to choose for.
                sqlx::query(
                    "INSERT INTO digest_choices (subscriber_id, topic, cadence, chosen_at)
                     SELECT $1, $2, $3, $4 FROM subscribers WHERE id = $1 FOR KEY SHARE
                     ON CONFLICT (subscriber_id, topic) DO UPDATE
                     SET cadence = excluded.cadence, chosen_at = excluded.chosen_at
                     WHERE digest_choices.cadence <> excluded.cadence",
                )
                .bind(*id)
                .bind(topic)
                .bind(cadence)
                .bind(at)
            };
            query.execute(&mut *tx).await.map_err(db_error)?;
        }
        Ok(())
    }
    .await;
    settle(tx, done).await
}

pub(super) async fn of_subscriber(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    sqlx::query("SELECT topic, cadence FROM digest_choices WHERE subscriber_id = $1 ORDER BY topic")
        .bind(id)
        .fetch_all(conn)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0).map_err(db_error)?,
                r.try_get(1).map_err(db_error)?,
            ))
        })
        .collect()
}
