//! [`Lists`] for PostgreSQL, by behaviour: `subscribers.rs` (joining,
//! consent, topics, leaving), `erasure.rs` (access, erasure, the
//! suppression list), `recipients.rs` (per-recipient outcomes of a send),
//! `bounces.rs` (bounces and complaints after the send),
//! `counts.rs` (confirmed subscribers by topic at past times).
//! Here: the trait, each method handed to its file, and reading a
//! subscriber row.

mod bounces;
mod counts;
mod digests;
mod erasure;
mod recipients;
mod subscribers;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgRow};

use super::{db_error, PgStore};
use crate::store::lists::{
    Added, BounceApplied, BounceEvent, Lists, NewSubscriber, Progress, Recipient, RecipientOutcome,
    SoftBounces, Subscriber, TopicCounts,
};
use crate::store::rows::{self, ms_time, opt_ms, SUBSCRIBER_COLUMNS};
use crate::store::StoreError;

/// A subscriber row with its topics ([`rows::subscriber`]).
async fn load(conn: &mut PgConnection, row: &PgRow) -> Result<Subscriber, StoreError> {
    rows::subscriber::<sqlx::Postgres>(conn, row, db_error).await
}

async fn by_id(conn: &mut PgConnection, id: i64) -> Result<Option<Subscriber>, StoreError> {
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

#[async_trait]
impl Lists for PgStore {
    async fn add_subscribers(
        &self,
        new: &[NewSubscriber],
        now: DateTime<Utc>,
    ) -> Result<Vec<Added>, StoreError> {
        subscribers::add_subscribers(self, new, now).await
    }

    async fn confirm(&self, id: i64, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        subscribers::confirm(self, id, now).await
    }

    async fn claim_resend(
        &self,
        id: i64,
        not_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        subscribers::claim_resend(self, id, not_since, now).await
    }

    async fn subscriber(
        &self,
        channel: &str,
        email: &str,
    ) -> Result<Option<Subscriber>, StoreError> {
        subscribers::subscriber(self, channel, email).await
    }

    async fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>, StoreError> {
        subscribers::subscriber_by_id(self, id).await
    }

    async fn set_topics(
        &self,
        id: i64,
        topics: &[String],
        wording: &str,
        client_addr: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        subscribers::set_topics(self, id, topics, wording, client_addr, now).await
    }

    async fn unsubscribe(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        subscribers::unsubscribe(self, id, now).await
    }

    async fn subscribers(
        &self,
        channel: Option<&str>,
        topic: Option<&str>,
    ) -> Result<Vec<Subscriber>, StoreError> {
        subscribers::subscribers(self, channel, topic).await
    }

    async fn confirmed_counts(&self, at: &[DateTime<Utc>]) -> Result<Vec<TopicCounts>, StoreError> {
        counts::confirmed_counts(self, at).await
    }

    async fn export(&self, email: &str) -> Result<serde_json::Value, StoreError> {
        erasure::export(self, email).await
    }

    async fn erase(
        &self,
        email: &str,
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        erasure::erase(self, email, channels, now).await
    }

    async fn is_suppressed(&self, channel: &str, email: &str) -> Result<bool, StoreError> {
        erasure::is_suppressed(self, channel, email).await
    }

    async fn pending_recipients(
        &self,
        delivery_id: i64,
        channel: &str,
        topics: &[String],
        cadence: &str,
    ) -> Result<Vec<Recipient>, StoreError> {
        recipients::pending_recipients(self, delivery_id, channel, topics, cadence).await
    }

    async fn still_owed(
        &self,
        delivery_id: i64,
        channel: &str,
        topics: &[String],
        cadence: &str,
        ids: &[i64],
    ) -> Result<Vec<i64>, StoreError> {
        recipients::still_owed(self, delivery_id, channel, topics, cadence, ids).await
    }

    async fn set_cadences(
        &self,
        choices: &[(i64, String, String)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        digests::set_cadences(self, choices, now).await
    }

    async fn cadences(&self, id: i64) -> Result<Vec<(String, String)>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        digests::of_subscriber(&mut conn, id).await
    }

    async fn record_recipients(
        &self,
        delivery_id: i64,
        channel: &str,
        outcomes: &[RecipientOutcome],
        bounce_limit: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        recipients::record_recipients(self, delivery_id, channel, outcomes, bounce_limit, now).await
    }

    async fn progress(&self, delivery_id: i64) -> Result<Progress, StoreError> {
        recipients::progress(self, delivery_id).await
    }

    async fn sent_since(
        &self,
        channel: &str,
        since: DateTime<Utc>,
    ) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        recipients::sent_since(self, channel, since).await
    }

    async fn record_bounce(
        &self,
        event: &BounceEvent,
        soft: SoftBounces,
        now: DateTime<Utc>,
    ) -> Result<BounceApplied, StoreError> {
        bounces::record_bounce(self, event, soft, now).await
    }

    async fn recipient_counts(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        recipients::recipient_counts(self).await
    }
}
