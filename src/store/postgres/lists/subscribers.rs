//! Subscribers and their consent: joining (the form, an import), the
//! double opt-in, choosing topics, leaving, and the team's listing.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::erasure::suppressed;
use super::{by_id, load, SUBSCRIBER_COLUMNS};
use crate::store::lists::{address_hash, Added, NewSubscriber, Status, Subscriber};
use crate::store::postgres::{db_error, settle, stamp, PgStore};
use crate::store::StoreError;

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
    conn: &mut PgConnection,
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

/// The subscriber on `channel` with `email`, if any. Not locked: an
/// import of people already on the list holds no rows for its length.
async fn look(
    tx: &mut PgConnection,
    channel: &str,
    email: &str,
) -> Result<Option<Subscriber>, StoreError> {
    let sql =
        format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE channel = $1 AND email = $2");
    match sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(channel)
        .bind(email)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
    {
        Some(row) => Ok(Some(load(tx, &row).await?)),
        None => Ok(None),
    }
}

async fn add_one(
    tx: &mut PgConnection,
    new: &NewSubscriber,
    now: DateTime<Utc>,
) -> Result<Added, StoreError> {
    if let Some(known) = look(tx, &new.channel, &new.email).await? {
        return add_known(tx, known, new, now).await;
    }
    if !new.override_suppression && suppressed(tx, &new.channel, &new.email).await? {
        return Ok(Added::Suppressed);
    }
    let at = stamp(now)?;
    // A stated time goes through the same guard as the clock's.
    let confirmed = new.confirmed_at.map(stamp).transpose()?;
    let status = if confirmed.is_some() {
        Status::Confirmed
    } else {
        Status::Pending
    };
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO subscribers (channel, email, email_hash, name, organisation, status, created_at, confirmed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (channel, email) DO NOTHING RETURNING id",
    )
    .bind(&new.channel)
    .bind(&new.email)
    .bind(address_hash(&new.email))
    .bind(&new.name)
    .bind(&new.organisation)
    .bind(status.as_str())
    .bind(at)
    .bind(confirmed)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)?;
    let Some(id) = id else {
        // Another process added them since the look above: theirs stands.
        let known = look(tx, &new.channel, &new.email)
            .await?
            .ok_or_else(|| StoreError::Other(format!("subscriber {} vanished", new.email)))?;
        return add_known(tx, known, new, now).await;
    };
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

/// Adding someone already on the list: known, unless they left.
async fn add_known(
    tx: &mut PgConnection,
    known: Subscriber,
    new: &NewSubscriber,
    now: DateTime<Utc>,
) -> Result<Added, StoreError> {
    if known.status != Status::Unsubscribed {
        return Ok(Added::Known(known));
    }
    // Someone who left may come back, through a fresh double opt-in. The
    // condition in the UPDATE: of two processes re-adding them at once,
    // the second waits for the first's row lock, then finds them pending.
    let at = stamp(now)?;
    let back: Option<i64> = sqlx::query_scalar(
        "UPDATE subscribers SET status = 'pending', confirmed_at = NULL
         WHERE id = $1 AND status = 'unsubscribed' RETURNING id",
    )
    .bind(known.id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)?;
    if back.is_none() {
        let now_known = by_id(tx, known.id)
            .await?
            .ok_or(StoreError::NotFound(known.id))?;
        return Ok(Added::Known(now_known));
    }
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
    Ok(Added::Pending(sub))
}

pub(super) async fn add_subscribers(
    store: &PgStore,
    new: &[NewSubscriber],
    now: DateTime<Utc>,
) -> Result<Vec<Added>, StoreError> {
    // Taken in one order by every import, whatever order they came in:
    // two imports of the same people lock their rows in the same sequence
    // and cannot deadlock. The answers keep the given order.
    let mut order: Vec<usize> = (0..new.len()).collect();
    order.sort_by_key(|&i| (&new[i].channel, &new[i].email));
    // One transaction for a whole import: one fsync, not one per row.
    let mut tx = store.write().await?;
    let done: Result<_, StoreError> = async {
        let mut out: Vec<Option<Added>> = vec![None; new.len()];
        for i in order {
            out[i] = Some(add_one(&mut tx, &new[i], now).await?);
        }
        Ok(out.into_iter().flatten().collect())
    }
    .await;
    settle(tx, done).await
}

pub(super) async fn confirm(
    store: &PgStore,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Subscriber>, StoreError> {
    let mut tx = store.write().await?;
    let done: Result<_, StoreError> = async {
        let at = stamp(now)?;
        // The condition in the UPDATE: of two clicks at once, the second waits
        // for the first's row lock, then finds them no longer pending.
        let confirmed = sqlx::query(
            "UPDATE subscribers SET status = 'confirmed', confirmed_at = $2
             WHERE id = $1 AND status = 'pending' RETURNING channel, email",
        )
        .bind(id)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        if let Some(row) = confirmed {
            let channel: String = row.try_get(0).map_err(db_error)?;
            let email: String = row.try_get(1).map_err(db_error)?;
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
                .bind(&channel)
                .bind(address_hash(&email))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        let sub = by_id(&mut tx, id).await?;
        Ok(sub)
    }
    .await;
    settle(tx, done).await
}

pub(super) async fn claim_resend(
    store: &PgStore,
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
    .bind(stamp(now)?)
    .execute(&store.pool)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn subscriber(
    store: &PgStore,
    channel: &str,
    email: &str,
) -> Result<Option<Subscriber>, StoreError> {
    let mut conn = store.pool.acquire().await.map_err(db_error)?;
    let sql =
        format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE channel = $1 AND email = $2");
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

pub(super) async fn subscriber_by_id(
    store: &PgStore,
    id: i64,
) -> Result<Option<Subscriber>, StoreError> {
    let mut conn = store.pool.acquire().await.map_err(db_error)?;
    by_id(&mut conn, id).await
}

pub(super) async fn set_topics(
    store: &PgStore,
    id: i64,
    topics: &[String],
    wording: &str,
    client_addr: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = store.write().await?;
    let done: Result<_, StoreError> = async {
        // Locked first: two choices at once would each add the topics the
        // other also adds.
        sqlx::query("SELECT 1 FROM subscribers WHERE id = $1 FOR UPDATE")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
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
        Ok(())
    }
    .await;
    settle(tx, done).await
}

pub(super) async fn unsubscribe(
    store: &PgStore,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = store.write().await?;
    let done: Result<_, StoreError> = async {
        let at = stamp(now)?;
        // The subscriber first: its row lock waits for a topic choice in
        // progress, whose new consents are then withdrawn too.
        sqlx::query("UPDATE subscribers SET status = 'unsubscribed' WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "UPDATE consents SET withdrawn_at = $2 WHERE subscriber_id = $1 AND withdrawn_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        Ok(())
    }
    .await;
    settle(tx, done).await
}

pub(super) async fn subscribers(
    store: &PgStore,
    channel: Option<&str>,
    topic: Option<&str>,
) -> Result<Vec<Subscriber>, StoreError> {
    let mut conn = store.pool.acquire().await.map_err(db_error)?;
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
