//! Bounces and complaints after the send: each event is
//! recorded once, by its key, and applied in the same transaction, so a
//! crash between this commit and marking the bounce message as done
//! repeats nothing when the message is read again.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::ms_time;
use crate::store::lists::{address_hash, BounceApplied, BounceEvent, BounceKind, SoftBounces};
use crate::store::postgres::{db_error, settle, stamp, PgStore};
use crate::store::StoreError;

pub(super) async fn record_bounce(
    store: &PgStore,
    e: &BounceEvent,
    soft: SoftBounces,
    now: DateTime<Utc>,
) -> Result<BounceApplied, StoreError> {
    let at = stamp(now)?;
    let mut tx = store.write().await?;
    let done: Result<_, StoreError> = async {
        let inserted = sqlx::query(
            "INSERT INTO bounce_events (channel, event_key, delivery_id, subscriber_id, kind, source,
                                        status, detail, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (channel, event_key) DO NOTHING",
        )
        .bind(&e.channel)
        .bind(&e.key)
        .bind(e.delivery_id)
        .bind(e.subscriber_id)
        .bind(e.kind.as_str())
        .bind(&e.source)
        .bind(&e.status)
        .bind(&e.detail)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if inserted == 0 {
            // The same event from another process waited for that one's
            // commit and found its row: applied there, once.
            return Ok(BounceApplied::Duplicate);
        }
        // Events for one subscriber apply one at a time across processes:
        // two soft bounces at once would each count without the other's row.
        sqlx::query("SELECT 1 FROM subscribers WHERE id = $1 FOR UPDATE")
            .bind(e.subscriber_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let suppress = match e.kind {
            BounceKind::Hard => Some("bounced"),
            BounceKind::Complaint => Some("complaint"),
            BounceKind::Soft => {
                let since = stamp(now - soft.window)?;
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM bounce_events
                     WHERE subscriber_id = $1 AND kind = 'soft' AND at >= $2",
                )
                .bind(e.subscriber_id)
                .bind(since)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
                (n >= i64::from(soft.limit.max(1))).then_some("soft bounces")
            }
        };
        let applied = match suppress {
            Some(reason) => {
                stop_sending(&mut tx, e, reason, at).await?;
                BounceApplied::Suppressed
            }
            None => BounceApplied::Counted,
        };
        Ok(applied)
    }
    .await;
    settle(tx, done).await
}

/// The address receives nothing more on this channel: unsubscribed and
/// its hash suppressed (so no import brings it back); a complaint also
/// withdraws every consent, as leaving does.
async fn stop_sending(
    conn: &mut PgConnection,
    e: &BounceEvent,
    reason: &str,
    at: i64,
) -> Result<(), StoreError> {
    let email: Option<String> =
        sqlx::query_scalar("SELECT email FROM subscribers WHERE id = $1 AND channel = $2")
            .bind(e.subscriber_id)
            .bind(&e.channel)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
    // Erased since the send: only the hash was kept, and it already is.
    let Some(email) = email else {
        return Ok(());
    };
    if e.kind == BounceKind::Complaint {
        sqlx::query(
            "UPDATE consents SET withdrawn_at = $2 WHERE subscriber_id = $1 AND withdrawn_at IS NULL",
        )
        .bind(e.subscriber_id)
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    let bump = i64::from(e.kind == BounceKind::Hard);
    sqlx::query(
        "UPDATE subscribers SET status = 'unsubscribed', bounces = bounces + $2 WHERE id = $1",
    )
    .bind(e.subscriber_id)
    .bind(bump)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    sqlx::query(
        "INSERT INTO suppressions (channel, email_hash, reason, at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (channel, email_hash) DO NOTHING",
    )
    .bind(&e.channel)
    .bind(address_hash(&email))
    .bind(reason)
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// One subscriber's bounces and complaints, for their export.
pub(super) async fn of_subscriber(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Vec<serde_json::Value>, StoreError> {
    sqlx::query(
        "SELECT b.delivery_id, d.item, b.kind, b.source, b.status, b.detail, b.at
         FROM bounce_events b LEFT JOIN deliveries d ON d.id = b.delivery_id
         WHERE b.subscriber_id = $1 ORDER BY b.at, b.event_key",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?
    .iter()
    .map(|r| {
        Ok(serde_json::json!({
            "delivery": r.try_get::<i64, _>(0).map_err(db_error)?,
            "item": r.try_get::<Option<String>, _>(1).map_err(db_error)?,
            "kind": r.try_get::<String, _>(2).map_err(db_error)?,
            "source": r.try_get::<String, _>(3).map_err(db_error)?,
            "status": r.try_get::<Option<String>, _>(4).map_err(db_error)?,
            "detail": r.try_get::<Option<String>, _>(5).map_err(db_error)?,
            "at": ms_time(r.try_get(6).map_err(db_error)?)?,
        }))
    })
    .collect()
}
