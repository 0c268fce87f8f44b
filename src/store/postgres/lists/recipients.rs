//! Per-recipient outcomes of a send to a list: who is still owed it, the
//! outcomes written in one statement a batch, hard bounces counted, and
//! the progress and counts `queue show` and `/metrics` read.

use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::opt_ms;
use crate::store::lists::{address_hash, Progress, Recipient, RecipientOutcome, RecipientState};
use crate::store::postgres::{db_error, settle, stamp, PgStore};
use crate::store::StoreError;

/// Who is owed delivery $2 on channel $1 for topics $3 (a text array)
/// at cadence $4: confirmed, consenting to one of the topics and taking
/// it at that cadence (no digest choice: every item), not suppressed,
/// and without a final outcome for it.
const OWED: &str = "s.channel = $1 AND s.status = 'confirmed'
    AND EXISTS (SELECT 1 FROM consents c WHERE c.subscriber_id = s.id
                AND c.withdrawn_at IS NULL AND c.confirmed_at IS NOT NULL
                AND c.topic IN (SELECT unnest($3::text[]))
                AND COALESCE((SELECT g.cadence FROM digest_choices g
                              WHERE g.subscriber_id = s.id AND g.topic = c.topic),
                             'item') = $4)
    AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.delivery_id = $2
                    AND r.subscriber_id = s.id AND r.state IN ('sent', 'bounced'))
    AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.channel = s.channel
                    AND x.email_hash = s.email_hash)";

pub(super) async fn pending_recipients(
    store: &PgStore,
    delivery_id: i64,
    channel: &str,
    topics: &[String],
    cadence: &str,
) -> Result<Vec<Recipient>, StoreError> {
    let sql = format!("SELECT s.id, s.email, s.name FROM subscribers s WHERE {OWED} ORDER BY s.id");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(channel)
        .bind(delivery_id)
        .bind(topics)
        .bind(cadence)
        .fetch_all(&store.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| {
            Ok(Recipient {
                subscriber_id: r.try_get(0).map_err(db_error)?,
                email: r.try_get(1).map_err(db_error)?,
                name: r.try_get(2).map_err(db_error)?,
            })
        })
        .collect()
}

pub(super) async fn still_owed(
    store: &PgStore,
    delivery_id: i64,
    channel: &str,
    topics: &[String],
    cadence: &str,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let sql = format!(
        "SELECT s.id FROM subscribers s
         WHERE s.id IN (SELECT unnest($5::bigint[])) AND {OWED} ORDER BY s.id"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(channel)
        .bind(delivery_id)
        .bind(topics)
        .bind(cadence)
        .bind(ids)
        .fetch_all(&store.pool)
        .await
        .map_err(db_error)
}

pub(super) async fn record_recipients(
    store: &PgStore,
    delivery_id: i64,
    channel: &str,
    outcomes: &[RecipientOutcome],
    bounce_limit: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let at = stamp(now)?;
    // One statement for the whole batch, its columns as arrays: one round
    // trip whatever the batch size. ON CONFLICT DO UPDATE may touch a row
    // once per statement, so a subscriber listed twice keeps its last
    // outcome (SQLite would also count the earlier one as an attempt).
    let mut batch: Vec<&RecipientOutcome> = Vec::with_capacity(outcomes.len());
    let mut place = std::collections::HashMap::with_capacity(outcomes.len());
    for o in outcomes {
        match place.entry(o.subscriber_id) {
            Entry::Occupied(i) => batch[*i.get()] = o,
            Entry::Vacant(v) => {
                v.insert(batch.len());
                batch.push(o);
            }
        }
    }
    let ids: Vec<i64> = batch.iter().map(|o| o.subscriber_id).collect();
    let emails: Vec<&str> = batch.iter().map(|o| o.email.as_str()).collect();
    let states: Vec<&str> = batch.iter().map(|o| o.state.as_str()).collect();
    let details: Vec<Option<&str>> = batch.iter().map(|o| o.detail.as_deref()).collect();
    let insert = sqlx::query(
        "INSERT INTO recipients (delivery_id, subscriber_id, channel, email, state, detail, at)
         SELECT $1, o.subscriber_id, $2, o.email, o.state, o.detail, $3
         FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[])
              AS o (subscriber_id, email, state, detail)
         -- Fenced: only the process holding the send's lease records its
         -- recipients. One whose lease lapsed and was taken over learns it
         -- here, at its next batch, and stops, instead of sending on beside
         -- the process that resumed the list.
         WHERE EXISTS (SELECT 1 FROM deliveries
                       WHERE id = $1 AND state = 'in_flight' AND leased_from = $8)
         ON CONFLICT (delivery_id, subscriber_id) DO UPDATE
         SET state = excluded.state, detail = excluded.detail, at = excluded.at,
             attempts = recipients.attempts + 1",
    )
    .bind(delivery_id)
    .bind(channel)
    .bind(at)
    .bind(&ids)
    .bind(&emails)
    .bind(&states)
    .bind(&details)
    .bind(&store.owner);
    let lost = || StoreError::WrongState {
        id: delivery_id,
        actual: "no longer leased by this process".into(),
        expected: "in flight, leased by this process".into(),
    };
    let mut bounced: Vec<&RecipientOutcome> = outcomes
        .iter()
        .filter(|o| o.state == RecipientState::Bounced)
        .collect();
    // Subscribers' rows locked in one order by every sender: two batches
    // bouncing the same people never wait on each other in a circle.
    bounced.sort_by_key(|o| o.subscriber_id);
    if bounced.is_empty() {
        // The usual batch: one statement is its own transaction.
        let written = insert.execute(&store.pool).await.map_err(db_error)?;
        return match written.rows_affected() {
            0 => Err(lost()),
            _ => Ok(()),
        };
    }
    let mut tx = store.write().await?;
    let done: Result<_, StoreError> = async {
        if insert
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected()
            == 0
        {
            return Err(lost());
        }
        for o in bounced {
            bounce(&mut tx, o, channel, bounce_limit, at).await?;
        }
        Ok(())
    }
    .await;
    settle(tx, done).await
}

pub(super) async fn progress(store: &PgStore, delivery_id: i64) -> Result<Progress, StoreError> {
    let mut p = Progress::default();
    let rows =
        sqlx::query("SELECT state, COUNT(*) FROM recipients WHERE delivery_id = $1 GROUP BY state")
            .bind(delivery_id)
            .fetch_all(&store.pool)
            .await
            .map_err(db_error)?;
    for r in &rows {
        let state: String = r.try_get(0).map_err(db_error)?;
        let n = r.try_get::<i64, _>(1).map_err(db_error)? as u64;
        match state.as_str() {
            "sent" => p.sent = n,
            "bounced" => p.bounced = n,
            _ => p.deferred = n,
        }
    }
    p.problems = sqlx::query(
        "SELECT email, COALESCE(detail, state) FROM recipients
         WHERE delivery_id = $1 AND state <> 'sent' ORDER BY at, email LIMIT 50",
    )
    .bind(delivery_id)
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?
    .iter()
    .map(|r| {
        Ok((
            r.try_get(0).map_err(db_error)?,
            r.try_get(1).map_err(db_error)?,
        ))
    })
    .collect::<Result<_, StoreError>>()?;
    Ok(p)
}

pub(super) async fn sent_since(
    store: &PgStore,
    channel: &str,
    since: DateTime<Utc>,
) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*), MIN(at) FROM recipients
         WHERE channel = $1 AND state = 'sent' AND at >= $2",
    )
    .bind(channel)
    .bind(since.timestamp_millis())
    .fetch_one(&store.pool)
    .await
    .map_err(db_error)?;
    let n: i64 = row.try_get(0).map_err(db_error)?;
    Ok((n as u64, opt_ms(row.try_get(1).map_err(db_error)?)?))
}

pub(super) async fn recipient_counts(
    store: &PgStore,
) -> Result<Vec<(String, String, u64)>, StoreError> {
    sqlx::query(
        "SELECT channel, state, COUNT(*) FROM recipients GROUP BY channel, state ORDER BY 1, 2",
    )
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?
    .iter()
    .map(|r| {
        Ok((
            r.try_get(0).map_err(db_error)?,
            r.try_get(1).map_err(db_error)?,
            r.try_get::<i64, _>(2).map_err(db_error)? as u64,
        ))
    })
    .collect()
}

/// Counts a hard bounce; at the limit the address stops receiving and is
/// suppressed, so a later import cannot bring it back.
async fn bounce(
    conn: &mut PgConnection,
    o: &RecipientOutcome,
    channel: &str,
    limit: i64,
    at: i64,
) -> Result<(), StoreError> {
    let n: i64 =
        sqlx::query("UPDATE subscribers SET bounces = bounces + 1 WHERE id = $1 RETURNING bounces")
            .bind(o.subscriber_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(db_error)?
            .unwrap_or(0);
    if n >= limit.max(1) {
        sqlx::query("UPDATE subscribers SET status = 'unsubscribed' WHERE id = $1")
            .bind(o.subscriber_id)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO suppressions (channel, email_hash, reason, at) VALUES ($1, $2, 'bounced', $3)
             ON CONFLICT (channel, email_hash) DO NOTHING",
        )
        .bind(channel)
        .bind(address_hash(&o.email))
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}
