//! [`ChannelStore`] for SQLite: the channel's view, on the same pool.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::delivery::{Delivery, Receipt};
use crate::store::channel::{ChannelStore, SENT_IN_PERIOD, SENT_LATEST};
use crate::store::lists::Lists;
use crate::store::{Store, StoreError};

#[async_trait]
impl ChannelStore for SqliteStore {
    async fn record_part(
        &self,
        delivery_id: i64,
        part: usize,
        receipt: &Receipt,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Store::record_part(self, delivery_id, part, receipt, now).await
    }

    async fn posted_parts(&self, delivery_id: i64) -> Result<Vec<Receipt>, StoreError> {
        Store::posted_parts(self, delivery_id).await
    }

    async fn renew_lease(
        &self,
        id: i64,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Store::renew_lease(self, id, until, now).await
    }

    async fn sent_latest(&self, channel: &str, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        sqlx::query(SENT_LATEST)
            .bind(channel)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(super::db_error)?
            .iter()
            .map(super::delivery_from_row)
            .collect()
    }

    async fn sent_in_period(
        &self,
        channel: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, StoreError> {
        sqlx::query(SENT_IN_PERIOD)
            .bind(channel)
            .bind(from.timestamp_millis())
            .bind(until.timestamp_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(super::db_error)?
            .iter()
            .map(super::delivery_from_row)
            .collect()
    }

    async fn unsettled(
        &self,
        channel: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries
             WHERE channel = $1 AND occasion = 'at' AND due_at >= $2 AND due_at < $3
               AND state IN ('planned', 'in_flight', 'retrying')",
        )
        .bind(channel)
        .bind(from.timestamp_millis())
        .bind(until.timestamp_millis())
        .fetch_one(&self.pool)
        .await
        .map_err(super::db_error)?;
        Ok(n as u64)
    }

    fn lists(&self) -> &dyn Lists {
        self
    }
}
