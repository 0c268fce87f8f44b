//! What each (item, channel) variant was rendered from, kept so a start
//! with unchanged content renders nothing (`crate::variants`).
//!
//! Part of the queue's door ([`Store`](super::Store) requires it). Only a
//! fingerprint and a hash state are kept per pair, never a second copy of
//! the variant: the variant is the one its deliveries store, and a record
//! counts only while its `at` delivery still has the fingerprint it was
//! recorded with (an edit, a move or a later render replaces it), so a
//! record can never stand for a variant other than the one rendered from
//! its source.

use async_trait::async_trait;

use super::StoreError;

/// One (item, channel) as a check rendered it and the plan planned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderRecord {
    pub item: String,
    pub channel: String,
    /// What the variant was rendered from (`variants::Source`, in hex).
    pub source: String,
    /// The fingerprint its `at` delivery was planned with.
    pub fingerprint: String,
    /// The SHA-256 state after the variant's canonical JSON
    /// (`variants::Render::saved_state`): every delivery's fingerprint of
    /// the pair continues from it, so a start plans without reading the
    /// variant back.
    pub state: Vec<u8>,
}

/// A recorded pair whose `at` delivery still holds the variant it recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRender {
    pub item: String,
    pub channel: String,
    pub source: String,
    /// [`RenderRecord::state`].
    pub state: Vec<u8>,
}

#[async_trait]
pub trait Renders: Send + Sync {
    /// Keeps each record, replacing an earlier one of the same pair.
    async fn record_renders(&self, records: &[RenderRecord]) -> Result<(), StoreError>;

    /// Up to `limit` pairs after `after` (item, channel order) whose `at`
    /// delivery, in any state, still has the recorded fingerprint, with
    /// the recorded hash state; one recorded without a state (by an older
    /// version) is left out (rendered again). Read page by page, so no
    /// queue-sized result is held at once.
    async fn stored_renders(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<StoredRender>, StoreError>;
}

/// A `stored_renders` row (item, channel, source, state), as either
/// backend returns it; `err` is the backend's mapping of sqlx errors.
pub(crate) fn stored_render<R>(
    row: &R,
    err: fn(sqlx::Error) -> StoreError,
) -> Result<StoredRender, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredRender {
        item: row.try_get(0).map_err(err)?,
        channel: row.try_get(1).map_err(err)?,
        source: row.try_get(2).map_err(err)?,
        state: row.try_get(3).map_err(err)?,
    })
}
