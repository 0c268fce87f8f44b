//! Counting a calendar: how many deliveries each day holds, by state, and
//! where two items share a minute on a channel. Both are one query over
//! the due range however busy it is, so a month of 40,000 deliveries is
//! counted whole and the page lists only what fits (issue #11).
//!
//! Part of the queue's door ([`Store`](super::Store) requires it).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{QueueFilter, StoreError};
use crate::delivery::{HoldReason, State};

/// How many deliveries fall in one span of a calendar, in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Which span: `bounds[span]..bounds[span + 1]`.
    pub span: usize,
    pub state: State,
    pub hold_reason: Option<HoldReason>,
    /// Still waiting for someone to approve it (as
    /// [`QueueFilter::awaiting_approval`](super::QueueFilter) selects).
    pub awaiting_approval: bool,
    pub count: u64,
}

/// Two or more items due in the same minute on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clash {
    pub channel: String,
    /// The minute's start.
    pub at: DateTime<Utc>,
    pub items: Vec<String>,
}
#[async_trait]
pub trait Calendar: Send + Sync {
    /// How many deliveries `filter` matches in each span between
    /// neighbouring `bounds` (ascending), by state. `filter`'s due range,
    /// cursor and limit are ignored: the bounds are the range.
    async fn tally(
        &self,
        filter: &QueueFilter,
        bounds: &[DateTime<Utc>],
    ) -> Result<Vec<Tally>, StoreError>;

    /// The minutes in `filter`'s due range where two or more items are due
    /// on one channel (neither cancelled nor failed), earliest first, at
    /// most `limit`; `filter`'s cursor and limit are ignored.
    async fn clashes(&self, filter: &QueueFilter, limit: usize) -> Result<Vec<Clash>, StoreError>;
}
