//! What each (item, channel) variant was rendered from, kept so a start
//! with unchanged content renders nothing (`crate::variants`).
//!
//! Part of the queue's door ([`Store`](super::Store) requires it). Only a
//! fingerprint is kept per pair, never a second copy of the variant: the
//! variant is the one its `at` delivery stores, and a record counts only
//! while that delivery still has the fingerprint it was recorded with (an
//! edit, a move or a later render replaces it), so a record can never
//! give back a variant other than the one rendered from its source.

use async_trait::async_trait;

use super::StoreError;
use crate::variant::Variant;

/// One (item, channel) as a check rendered it and the plan planned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderRecord {
    pub item: String,
    pub channel: String,
    /// What the variant was rendered from (`variants::Source`, in hex).
    pub source: String,
    /// The fingerprint its `at` delivery was planned with.
    pub fingerprint: String,
}

/// A recorded pair whose `at` delivery still holds the variant it recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRender {
    pub item: String,
    pub channel: String,
    pub source: String,
    pub variant: Variant,
    /// The variant as stored (its canonical JSON when it was planned):
    /// what plan fingerprints hashed.
    pub json: String,
}

#[async_trait]
pub trait Renders: Send + Sync {
    /// Keeps each record, replacing an earlier one of the same pair.
    async fn record_renders(&self, records: &[RenderRecord]) -> Result<(), StoreError>;

    /// Up to `limit` pairs after `after` (item, channel order) whose `at`
    /// delivery, in any state, still has the recorded fingerprint, with
    /// that delivery's variant; one this version cannot read is left out
    /// (rendered again). Read page by page, so no queue-sized result is
    /// held at once.
    async fn stored_renders(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<StoredRender>, StoreError>;
}
