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

/// `sent_latest`'s statement, the same on every backend. It repeats
/// `state = 'sent'` literally, as the partial index
/// `deliveries_sent_latest` (channel, sent_at, id) requires: the planner
/// then walks that channel's end of the index backwards and stops after
/// `limit` rows, with no sort.
pub(crate) const SENT_LATEST: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM deliveries WHERE channel = $1 AND state = 'sent'
     ORDER BY sent_at DESC, id DESC LIMIT $2"
);

/// `sent_in_period`'s statement, the same on every backend: a range of an
/// index on due time (SQLite takes `deliveries_channel_due`, PostgreSQL's
/// planner that or `deliveries_calendar`), so a digest reads its period's
/// rows and not the channel's whole history; a period's rows are few, so
/// sorting them by id within a due time costs nothing.
pub(crate) const SENT_IN_PERIOD: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM deliveries
     WHERE channel = $1 AND due_at >= $2 AND due_at < $3 AND occasion = 'at' AND state = 'sent'
     ORDER BY due_at, id"
);

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

    /// The `sent` deliveries of `channel` at an item's main occasion
    /// (`at`) due in `[from, until)`, in due order (ties: the lower id
    /// first): what a digest of that period is built from, reading only
    /// the period's rows (an index range on due time).
    async fn sent_in_period(
        &self,
        channel: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, StoreError>;

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
