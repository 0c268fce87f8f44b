//! The store as a channel module sees it: only what publishing needs —
//! the posted parts of a thread, a long send's lease, the sent deliveries
//! a document (a feed) is rebuilt from, and the mailing lists. Planning,
//! leasing and human decisions stay behind [`Store`](super::Store), out
//! of a channel's reach.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lists::Lists;
use super::StoreError;
use crate::delivery::{Delivery, Receipt};

#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Records, durably, that part `part` (from 0) of a thread is posted,
    /// before the next part is sent (see `Store::record_part`).
    async fn record_part(
        &self,
        delivery_id: i64,
        part: usize,
        receipt: &Receipt,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The parts of a thread already posted, in order from part 0.
    async fn posted_parts(&self, delivery_id: i64) -> Result<Vec<Receipt>, StoreError>;

    /// Extends the lease of a delivery still being sent (see
    /// `Store::renew_lease`): an error means the sender must stop.
    async fn renew_lease(
        &self,
        id: i64,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The newest `limit` `sent` deliveries of `channel`, newest `sent_at`
    /// first (ties: the higher id first): what a document channel (a feed)
    /// is rebuilt from. A partial index on (channel, sent_at, id) of sent
    /// rows answers it without reading the channel's older history.
    async fn sent_latest(&self, channel: &str, limit: usize) -> Result<Vec<Delivery>, StoreError>;

    /// How many deliveries of `channel` at an item's main occasion (`at`),
    /// due in `[from, until)`, are still to be sent (planned, in flight or
    /// retrying): a digest of that period waits for them.
    async fn unsettled(
        &self,
        channel: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Subscribers, consents and per-recipient records: the email
    /// channel's lists.
    fn lists(&self) -> &dyn Lists;
}
