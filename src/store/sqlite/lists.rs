//! [`Lists`] for SQLite: subscribers, consents, suppressions, recipients.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::Row;

use super::{corrupt, db_error, stamp, SqliteStore};
use crate::store::lists::{
    address_hash, Added, Consent, Lists, NewSubscriber, Progress, Recipient, RecipientOutcome,
    RecipientState, Status, Subscriber,
};
use crate::store::StoreError;

/// Who is owed delivery $2 on channel $1 for topics $3 (a JSON array):
/// confirmed, consenting to one of the topics, not suppressed, and without
/// a final outcome for it.
const OWED: &str = "s.channel = $1 AND s.status = 'confirmed'
    AND EXISTS (SELECT 1 FROM consents c WHERE c.subscriber_id = s.id
                AND c.withdrawn_at IS NULL AND c.confirmed_at IS NOT NULL
                AND c.topic IN (SELECT value FROM json_each($3)))
    AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.delivery_id = $2
                    AND r.subscriber_id = s.id AND r.state IN ('sent', 'bounced'))
    AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.channel = s.channel
                    AND x.email_hash = s.email_hash)";

const SUBSCRIBER_COLUMNS: &str =
    "id, channel, email, name, organisation, status, created_at, confirmed_at, bounces";

fn ms_time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt(format!("time {ms} out of range")))
}

fn opt_ms(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(ms_time).transpose()
}

async fn load(conn: &mut SqliteConnection, row: &SqliteRow) -> Result<Subscriber, StoreError> {
    let id: i64 = row.try_get("id").map_err(db_error)?;
    let status: String = row.try_get("status").map_err(db_error)?;
    let topics = sqlx::query(
        "SELECT DISTINCT topic FROM consents
         WHERE subscriber_id = $1 AND withdrawn_at IS NULL ORDER BY topic",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?
    .iter()
    .map(|r| r.try_get::<String, _>(0).map_err(db_error))
    .collect::<Result<_, _>>()?;
    Ok(Subscriber {
        id,
        channel: row.try_get("channel").map_err(db_error)?,
        email: row.try_get("email").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        organisation: row.try_get("organisation").map_err(db_error)?,
        status: Status::parse(&status)
            .ok_or_else(|| corrupt(format!("subscriber {id} has status {status:?}")))?,
        created_at: ms_time(row.try_get("created_at").map_err(db_error)?)?,
        confirmed_at: opt_ms(row.try_get("confirmed_at").map_err(db_error)?)?,
        bounces: row.try_get("bounces").map_err(db_error)?,
        topics,
    })
}

async fn by_id(conn: &mut SqliteConnection, id: i64) -> Result<Option<Subscriber>, StoreError> {
    let sql = format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    match row {
        Some(row) => Ok(Some(load(conn, &row).await?)),
        None => Ok(None),
    }
}

async fn suppressed(
    conn: &mut SqliteConnection,
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

/// The times of a consent row, unix milliseconds.
#[derive(Clone, Copy)]
struct Times {
    /// When the person gave consent.
    given: i64,
    /// When they confirmed it (the double opt-in click, or the time the
    /// evidence states).
    confirmed: Option<i64>,
    /// When an import recorded it: an event of its own, never the consent.
    imported: Option<i64>,
}

impl Times {
    /// A request made now (the form, preferences): given now, confirmed
    /// at `confirmed` if at all.
    fn now(at: i64, confirmed: Option<i64>) -> Times {
        Times {
            given: at,
            confirmed,
            imported: None,
        }
    }

    /// A new subscriber's consent: with evidence (an import's `consent_at`)
    /// it was given and confirmed at the stated time; an import is
    /// recorded as happening now, separately.
    fn of(new: &NewSubscriber, at: i64) -> Times {
        let stated = new.confirmed_at.map(|t| t.timestamp_millis());
        Times {
            given: stated.unwrap_or(at),
            confirmed: stated,
            imported: (new.method == "import").then_some(at),
        }
    }
}

// One argument per column of the consent row.
async fn add_consent(
    conn: &mut SqliteConnection,
    id: i64,
    topic: &str,
    method: &str,
    wording: &str,
    client: Option<&str>,
    times: Times,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO consents (subscriber_id, topic, method, given_at, wording, client_addr, confirmed_at, imported_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(topic)
    .bind(method)
    .bind(times.given)
    .bind(wording)
    .bind(client)
    .bind(times.confirmed)
    .bind(times.imported)
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn add_one(
    tx: &mut SqliteConnection,
    new: &NewSubscriber,
    now: DateTime<Utc>,
) -> Result<Added, StoreError> {
    let sql =
        format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE channel = $1 AND email = $2");
    if let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&new.channel)
        .bind(&new.email)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
    {
        let known = load(tx, &row).await?;
        if known.status != Status::Unsubscribed {
            return Ok(Added::Known(known));
        }
        // Someone who left may come back, through a fresh double opt-in.
        let at = stamp(now)?;
        sqlx::query("UPDATE subscribers SET status = 'pending', confirmed_at = NULL WHERE id = $1")
            .bind(known.id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        for topic in &new.topics {
            let client = new.client_addr.as_deref();
            // A fresh double opt-in: no evidence counts until the click.
            let times = Times {
                given: at,
                confirmed: None,
                imported: (new.method == "import").then_some(at),
            };
            add_consent(
                tx,
                known.id,
                topic,
                &new.method,
                &new.wording,
                client,
                times,
            )
            .await?;
        }
        let sub = by_id(tx, known.id)
            .await?
            .ok_or(StoreError::NotFound(known.id))?;
        return Ok(Added::Pending(sub));
    }
    if !new.override_suppression && suppressed(tx, &new.channel, &new.email).await? {
        return Ok(Added::Suppressed);
    }
    let at = stamp(now)?;
    let confirmed = new.confirmed_at.map(|t| t.timestamp_millis());
    let status = if confirmed.is_some() {
        Status::Confirmed
    } else {
        Status::Pending
    };
    let id: i64 = sqlx::query(
        "INSERT INTO subscribers (channel, email, email_hash, name, organisation, status, created_at, confirmed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&new.channel)
    .bind(&new.email)
    .bind(address_hash(&new.email))
    .bind(&new.name)
    .bind(&new.organisation)
    .bind(status.as_str())
    .bind(at)
    .bind(confirmed)
    .fetch_one(&mut *tx)
    .await
    .and_then(|r| r.try_get(0))
    .map_err(db_error)?;
    for topic in &new.topics {
        let client = new.client_addr.as_deref();
        let times = Times::of(new, at);
        add_consent(tx, id, topic, &new.method, &new.wording, client, times).await?;
    }
    let sub = by_id(tx, id).await?.ok_or(StoreError::NotFound(id))?;
    Ok(match status {
        Status::Confirmed => Added::Confirmed(sub),
        _ => Added::Pending(sub),
    })
}

#[async_trait]
impl Lists for SqliteStore {
    async fn add_subscribers(
        &self,
        new: &[NewSubscriber],
        now: DateTime<Utc>,
    ) -> Result<Vec<Added>, StoreError> {
        // One transaction for a whole import: one fsync, not one per row.
        let mut tx = self.write().await?;
        let mut out = Vec::with_capacity(new.len());
        for n in new {
            out.push(add_one(&mut tx, n, now).await?);
        }
        tx.commit().await.map_err(db_error)?;
        Ok(out)
    }

    async fn confirm(&self, id: i64, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        let mut tx = self.write().await?;
        let Some(sub) = by_id(&mut tx, id).await? else {
            return Ok(None);
        };
        if sub.status == Status::Pending {
            let at = stamp(now)?;
            sqlx::query(
                "UPDATE subscribers SET status = 'confirmed', confirmed_at = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            sqlx::query(
                "UPDATE consents SET confirmed_at = $2
                 WHERE subscriber_id = $1 AND confirmed_at IS NULL AND withdrawn_at IS NULL",
            )
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            sqlx::query("DELETE FROM suppressions WHERE channel = $1 AND email_hash = $2")
                .bind(&sub.channel)
                .bind(address_hash(&sub.email))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        let sub = by_id(&mut tx, id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(sub)
    }

    async fn claim_resend(
        &self,
        id: i64,
        not_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE subscribers SET confirm_resent_at = $3
             WHERE id = $1 AND status = 'pending'
               AND (confirm_resent_at IS NULL OR confirm_resent_at <= $2)",
        )
        .bind(id)
        .bind(not_since.timestamp_millis())
        .bind(now.timestamp_millis())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn subscriber(
        &self,
        channel: &str,
        email: &str,
    ) -> Result<Option<Subscriber>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let sql = format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE channel = $1 AND email = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(channel)
            .bind(email)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
        match row {
            Some(row) => Ok(Some(load(&mut conn, &row).await?)),
            None => Ok(None),
        }
    }

    async fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        by_id(&mut conn, id).await
    }

    async fn set_topics(
        &self,
        id: i64,
        topics: &[String],
        wording: &str,
        client_addr: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let Some(sub) = by_id(&mut tx, id).await? else {
            return Err(StoreError::Other("no such subscriber".into()));
        };
        let at = stamp(now)?;
        for old in sub.topics.iter().filter(|t| !topics.contains(t)) {
            sqlx::query(
                "UPDATE consents SET withdrawn_at = $3
                 WHERE subscriber_id = $1 AND topic = $2 AND withdrawn_at IS NULL",
            )
            .bind(id)
            .bind(old)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        for new in topics.iter().filter(|t| !sub.topics.contains(t)) {
            let times = Times::now(at, Some(at));
            add_consent(&mut tx, id, new, "form", wording, client_addr, times).await?;
        }
        // Choosing topics on the preferences page (reached through a signed
        // link) is itself confirmation; choosing none is leaving.
        let status = if topics.is_empty() {
            "unsubscribed"
        } else {
            "confirmed"
        };
        sqlx::query(
            "UPDATE subscribers SET status = $2, confirmed_at = COALESCE(confirmed_at, $3) WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn unsubscribe(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let at = stamp(now)?;
        sqlx::query(
            "UPDATE consents SET withdrawn_at = $2 WHERE subscriber_id = $1 AND withdrawn_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("UPDATE subscribers SET status = 'unsubscribed' WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn subscribers(
        &self,
        channel: Option<&str>,
        topic: Option<&str>,
    ) -> Result<Vec<Subscriber>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let sql = format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers s
             WHERE ($1 IS NULL OR channel = $1)
               AND ($2 IS NULL OR EXISTS (SELECT 1 FROM consents c WHERE c.subscriber_id = s.id
                                          AND c.topic = $2 AND c.withdrawn_at IS NULL))
             ORDER BY email, channel"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(channel)
            .bind(topic)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(load(&mut conn, row).await?);
        }
        Ok(out)
    }

    async fn export(&self, email: &str) -> Result<serde_json::Value, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
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
            subscriptions.push(serde_json::json!({
                "subscriber": sub,
                "consents": consents,
                "messages": sent,
            }));
        }
        Ok(serde_json::json!({ "email": email, "subscriptions": subscriptions }))
    }

    async fn erase(
        &self,
        email: &str,
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut tx = self.write().await?;
        let rows = sqlx::query("SELECT id, channel FROM subscribers WHERE email = $1")
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
        tx.commit().await.map_err(db_error)?;
        Ok(rows.len())
    }

    async fn is_suppressed(&self, channel: &str, email: &str) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        suppressed(&mut conn, channel, email).await
    }

    async fn pending_recipients(
        &self,
        delivery_id: i64,
        channel: &str,
        topics: &[String],
    ) -> Result<Vec<Recipient>, StoreError> {
        let topics = serde_json::to_string(topics).map_err(|e| StoreError::Other(e.to_string()))?;
        let sql =
            format!("SELECT s.id, s.email, s.name FROM subscribers s WHERE {OWED} ORDER BY s.id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(channel)
            .bind(delivery_id)
            .bind(topics)
            .fetch_all(&self.pool)
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

    async fn still_owed(
        &self,
        delivery_id: i64,
        channel: &str,
        topics: &[String],
        ids: &[i64],
    ) -> Result<Vec<i64>, StoreError> {
        let topics = serde_json::to_string(topics).map_err(|e| StoreError::Other(e.to_string()))?;
        let ids = serde_json::to_string(ids).map_err(|e| StoreError::Other(e.to_string()))?;
        let sql = format!(
            "SELECT s.id FROM subscribers s
             WHERE s.id IN (SELECT value FROM json_each($4)) AND {OWED} ORDER BY s.id"
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(channel)
            .bind(delivery_id)
            .bind(topics)
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)
    }

    async fn record_recipients(
        &self,
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
        // One statement for the whole batch: each statement is a round trip
        // to sqlx's SQLite thread (two thread wake-ups), which per row cost
        // more than the commit itself at thousands of outcomes a second.
        let rows: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|o| serde_json::json!([o.subscriber_id, o.email, o.state.as_str(), o.detail]))
            .collect();
        let insert = sqlx::query(
            "INSERT INTO recipients (delivery_id, subscriber_id, channel, email, state, detail, at)
             SELECT $1, json_extract(value, '$[0]'), $2, json_extract(value, '$[1]'),
                    json_extract(value, '$[2]'), json_extract(value, '$[3]'), $3
             FROM json_each($4) WHERE true
             ON CONFLICT (delivery_id, subscriber_id) DO UPDATE
             SET state = excluded.state, detail = excluded.detail, at = excluded.at,
                 attempts = recipients.attempts + 1",
        )
        .bind(delivery_id)
        .bind(channel)
        .bind(at)
        .bind(serde_json::Value::Array(rows).to_string());
        let bounced: Vec<&RecipientOutcome> = outcomes
            .iter()
            .filter(|o| o.state == RecipientState::Bounced)
            .collect();
        if bounced.is_empty() {
            // The usual batch: one statement is its own atomic, durable
            // transaction (it takes the write lock first, waiting on the
            // busy timeout), so BEGIN and COMMIT would only add two round
            // trips to SQLite's thread to every commit the senders wait on.
            insert.execute(&self.pool).await.map_err(db_error)?;
            return Ok(());
        }
        let mut tx = self.write().await?;
        insert.execute(&mut *tx).await.map_err(db_error)?;
        for o in bounced {
            bounce(&mut tx, o, channel, bounce_limit, at).await?;
        }
        tx.commit().await.map_err(db_error)
    }

    async fn progress(&self, delivery_id: i64) -> Result<Progress, StoreError> {
        let mut p = Progress::default();
        let rows = sqlx::query(
            "SELECT state, COUNT(*) FROM recipients WHERE delivery_id = $1 GROUP BY state",
        )
        .bind(delivery_id)
        .fetch_all(&self.pool)
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
        .fetch_all(&self.pool)
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

    async fn sent_since(
        &self,
        channel: &str,
        since: DateTime<Utc>,
    ) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*), MIN(at) FROM recipients
             WHERE channel = $1 AND state = 'sent' AND at >= $2",
        )
        .bind(channel)
        .bind(since.timestamp_millis())
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        let n: i64 = row.try_get(0).map_err(db_error)?;
        Ok((n as u64, opt_ms(row.try_get(1).map_err(db_error)?)?))
    }

    async fn recipient_counts(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        sqlx::query(
            "SELECT channel, state, COUNT(*) FROM recipients GROUP BY channel, state ORDER BY 1, 2",
        )
        .fetch_all(&self.pool)
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
}

async fn consents(conn: &mut SqliteConnection, id: i64) -> Result<Vec<Consent>, StoreError> {
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

/// Counts a hard bounce; at the limit the address stops receiving and is
/// suppressed, so a later import cannot bring it back.
async fn bounce(
    conn: &mut SqliteConnection,
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
