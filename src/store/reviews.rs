//! Review links: a signed-out, read-only preview of one item's variants
//! for someone outside the team (issue #11, item 8), and each view of it.
//!
//! Part of the queue's door ([`Store`](super::Store) requires it), since
//! the API that makes and lists them holds that door. The link's secret is
//! never stored: only its SHA-256 ([`people::digest`](super::people::digest)),
//! as for sessions and API tokens, so a copy of the database opens no
//! preview. A view keeps its time and a short client label (the browser's
//! User-Agent, cut to [`CLIENT_CHARS`]); no address, because the audit log
//! records who acted, never from where, and an outsider's address would be
//! personal data kept for no purpose.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;
use crate::delivery::Actor;

/// How much of a viewer's User-Agent a view keeps: enough to tell a
/// browser from a mail scanner that opened the link, no more.
pub const CLIENT_CHARS: usize = 120;

#[derive(Debug, Clone)]
pub struct NewReviewLink {
    pub item: String,
    /// The [`digest`](super::people::digest) of the link's secret.
    pub token_hash: String,
    /// Who it is for (the recipient, in the maker's words).
    pub label: String,
    pub created_by: Actor,
    pub expires_at: DateTime<Utc>,
}

/// A review link as listed: who made it, until when, and its views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewLink {
    pub id: i64,
    pub item: String,
    pub label: String,
    pub created_by: Actor,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Actor>,
    pub views: u64,
    pub last_viewed_at: Option<DateTime<Utc>>,
}

impl ReviewLink {
    /// Whether it still opens the preview at `now`.
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[async_trait]
pub trait Reviews: Send + Sync {
    /// Records a new link; [`StoreError::Exists`] if the hash is taken.
    async fn create_review_link(
        &self,
        link: &NewReviewLink,
        now: DateTime<Utc>,
    ) -> Result<ReviewLink, StoreError>;

    /// An item's links, revoked and expired ones included, newest first.
    async fn review_links(&self, item: &str) -> Result<Vec<ReviewLink>, StoreError>;

    async fn review_link(&self, id: i64) -> Result<Option<ReviewLink>, StoreError>;

    /// Revokes a link (once: a second revocation keeps the first's time
    /// and actor) and returns it; `None` if there is no such link.
    async fn revoke_review_link(
        &self,
        id: i64,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<ReviewLink>, StoreError>;

    /// The link whose secret hashes to `token_hash`, if it is neither
    /// revoked nor expired at `now`, with this view recorded (`client` cut
    /// to [`CLIENT_CHARS`]) in the same transaction; `None` records nothing.
    async fn view_review_link(
        &self,
        token_hash: &str,
        client: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ReviewLink>, StoreError>;
}
