//! A person's rights: everything held about an address (access), erasure
//! down to a hash on the suppression list, and that list's check.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::{load, ms_time, opt_ms, SUBSCRIBER_COLUMNS};
use crate::store::lists::{address_hash, Consent};
use crate::store::postgres::{db_error, settle, stamp, PgStore};
use crate::store::StoreError;

pub(super) async fn suppressed(
    conn: &mut PgConnection,
    channel: &str,
    email: &str,
) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 FROM suppressions WHERE channel = $1 AND email_hash = $2")
        .bind(channel)
        .bind(address_hash(email))
        .fetch_optional(conn)
        .await
        .map_err(db_error)?;
    Ok(row.is_some())
}

pub(super) async fn export(store: &PgStore, email: &str) -> Result<serde_json::Value, StoreError> {
    let mut conn = store.pool.acquire().await.map_err(db_error)?;
    let sql = format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email = $1");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(email)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    let mut subscriptions = Vec::new();
    for row in &rows {
        let sub = load(&mut conn, row).await?;
        let consents = consents(&mut conn, sub.id).await?;
        let sent = sqlx::query(
            "SELECT r.delivery_id, d.item, r.state, r.detail, r.at FROM recipients r
             JOIN deliveries d ON d.id = r.delivery_id
             WHERE r.subscriber_id = $1 ORDER BY r.at",
        )
        .bind(sub.id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| {
            Ok(serde_json::json!({
                "delivery": r.try_get::<i64, _>(0).map_err(db_error)?,
                "item": r.try_get::<String, _>(1).map_err(db_error)?,
                "state": r.try_get::<String, _>(2).map_err(db_error)?,
                "detail": r.try_get::<Option<String>, _>(3).map_err(db_error)?,
                "at": ms_time(r.try_get(4).map_err(db_error)?)?,
            }))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let bounces = super::bounces::of_subscriber(&mut conn, sub.id).await?;
        let digests = super::digests::of_subscriber(&mut conn, sub.id).await?;
        subscriptions.push(serde_json::json!({
            "subscriber": sub,
            "digests": digests,
            "consents": consents,
            "messages": sent,
            "bounces": bounces,
        }));
    }
    Ok(serde_json::json!({ "email": email, "subscriptions": subscriptions }))
}

pub(super) async fn erase(
    store: &PgStore,
    email: &str,
    channels: &[String],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut tx = store.write().await?;
    let done: Result<_, StoreError> = async {
        // Locked: a confirmation or bounce at the same time waits, then finds
        // no row, rather than writing beside the erasure.
        let rows = sqlx::query("SELECT id, channel FROM subscribers WHERE email = $1 FOR UPDATE")
            .bind(email)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        let mut on: Vec<String> = channels.to_vec();
        for row in &rows {
            let id: i64 = row.try_get(0).map_err(db_error)?;
            let channel: String = row.try_get(1).map_err(db_error)?;
            for sql in [
                "DELETE FROM consents WHERE subscriber_id = $1",
                "DELETE FROM recipients WHERE subscriber_id = $1",
                "DELETE FROM bounce_events WHERE subscriber_id = $1",
                "DELETE FROM digest_choices WHERE subscriber_id = $1",
                "DELETE FROM subscribers WHERE id = $1",
            ] {
                sqlx::query(sql)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            if !on.contains(&channel) {
                on.push(channel);
            }
        }
        for channel in &on {
            sqlx::query(
                "INSERT INTO suppressions (channel, email_hash, reason, at) VALUES ($1, $2, 'erased', $3)
                 ON CONFLICT (channel, email_hash) DO UPDATE SET reason = 'erased', at = excluded.at",
            )
            .bind(channel)
            .bind(address_hash(email))
            .bind(stamp(now)?)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        Ok(rows.len())
    }
    .await;
    settle(tx, done).await
}

pub(super) async fn is_suppressed(
    store: &PgStore,
    channel: &str,
    email: &str,
) -> Result<bool, StoreError> {
    let mut conn = store.pool.acquire().await.map_err(db_error)?;
    suppressed(&mut conn, channel, email).await
}

async fn consents(conn: &mut PgConnection, id: i64) -> Result<Vec<Consent>, StoreError> {
    let rows = sqlx::query(
        "SELECT topic, method, given_at, wording, client_addr, confirmed_at, withdrawn_at, imported_at
         FROM consents WHERE subscriber_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(conn)
    .await
    .map_err(db_error)?;
    rows.iter()
        .map(|r| {
            Ok(Consent {
                topic: r.try_get(0).map_err(db_error)?,
                method: r.try_get(1).map_err(db_error)?,
                given_at: ms_time(r.try_get(2).map_err(db_error)?)?,
                wording: r.try_get(3).map_err(db_error)?,
                client_addr: r.try_get(4).map_err(db_error)?,
                confirmed_at: opt_ms(r.try_get(5).map_err(db_error)?)?,
                withdrawn_at: opt_ms(r.try_get(6).map_err(db_error)?)?,
                imported_at: opt_ms(r.try_get(7).map_err(db_error)?)?,
            })
        })
        .collect()
}
