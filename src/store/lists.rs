//! Mailing lists in the store: subscribers, their consent records, the
//! hashed suppression list, and per-recipient outcomes of fan-out
//! deliveries (one delivery, many recipients).
//!
//! Its own door, apart from the queue's [`Store`](super::Store): the email
//! channel reaches it through its [`ChannelStore`](super::ChannelStore)
//! view; the SQL is in `sqlite/lists/`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use crate::delivery::Progress;

use super::StoreError;

/// Where a subscriber stands. Only `confirmed` ones receive anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Asked to join; waiting for the double opt-in click.
    Pending,
    Confirmed,
    /// Left (or bounced too often): kept only until erased.
    Unsubscribed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Confirmed => "confirmed",
            Status::Unsubscribed => "unsubscribed",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        [Status::Pending, Status::Confirmed, Status::Unsubscribed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Subscriber {
    pub id: i64,
    pub channel: String,
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Hard bounces counted so far.
    pub bounces: i64,
    /// Topics with a consent in force.
    pub topics: Vec<String>,
}

/// Proof of consent for one topic (UK GDPR / PECR): how, when, what the
/// person was shown, from where, and when they confirmed or withdrew.
#[derive(Debug, Clone, Serialize)]
pub struct Consent {
    pub topic: String,
    /// `form`, `import` or `api`.
    pub method: String,
    pub given_at: DateTime<Utc>,
    /// The consent wording or notice version shown.
    pub wording: String,
    pub client_addr: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// When `crier subscribers import` recorded this consent (an import is
    /// not consent: `given_at` and `confirmed_at` are the evidence's own
    /// time). `None` for consents given through the pages.
    pub imported_at: Option<DateTime<Utc>>,
}

/// How many confirmed subscribers a topic of a list had at each of the
/// times asked about (`counts[i]` at the i-th).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicCounts {
    pub channel: String,
    pub topic: String,
    pub counts: Vec<u64>,
}

/// A request to add someone.
#[derive(Debug, Clone)]
pub struct NewSubscriber {
    pub channel: String,
    /// Already validated and lower-cased by the caller.
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub topics: Vec<String>,
    pub method: String,
    pub wording: String,
    pub client_addr: Option<String>,
    /// Consent evidence came with the request (an import with a consent
    /// date): given and confirmed at that time, and so confirmed at once.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Whether a suppressed (erased, bounced) address may come back: only
    /// through the form's double opt-in, which is new consent.
    pub override_suppression: bool,
}

#[derive(Debug, Clone)]
pub enum Added {
    /// New and pending: send the confirmation.
    Pending(Subscriber),
    /// New and confirmed (consent evidence given).
    Confirmed(Subscriber),
    /// Already on the list, in this state; nothing changed.
    Known(Subscriber),
    /// On the suppression list: refused.
    Suppressed,
}

/// A confirmed subscriber a fan-out delivery still has to reach.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub subscriber_id: i64,
    pub email: String,
    pub name: Option<String>,
}

/// What happened to one recipient of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientState {
    /// Accepted by the SMTP server: final.
    Sent,
    /// Refused for good (5xx): final, counted as a hard bounce.
    Bounced,
    /// Refused for now (4xx): tried again on the delivery's next attempt.
    Deferred,
}

impl RecipientState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Sent => "sent",
            RecipientState::Bounced => "bounced",
            RecipientState::Deferred => "deferred",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RecipientOutcome {
    pub subscriber_id: i64,
    pub email: String,
    pub state: RecipientState,
    /// The server's reply, e.g. `550 5.1.1 no such user`.
    pub detail: Option<String>,
}

/// What came back after a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceKind {
    /// Permanent failure (5.x.x): the address is suppressed at once.
    Hard,
    /// Temporary failure (4.x.x, delayed): suppressed after a number of
    /// them within a window.
    Soft,
    /// The person marked it as spam (an ARF report, a provider's event):
    /// unsubscribed from every topic and suppressed.
    Complaint,
}

impl BounceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceKind::Hard => "hard",
            BounceKind::Soft => "soft",
            BounceKind::Complaint => "complaint",
        }
    }
}

/// A bounce or complaint attributed to one (delivery, subscriber).
#[derive(Debug, Clone)]
pub struct BounceEvent {
    /// Unique per event within the channel, so applying it twice is a
    /// no-op: the bounce message's Message-ID, a provider's event id.
    pub key: String,
    pub channel: String,
    pub delivery_id: i64,
    pub subscriber_id: i64,
    pub kind: BounceKind,
    /// Where it came from, as the channel names it (its mailbox, a relay).
    pub source: String,
    /// The enhanced status code, e.g. `5.1.1`.
    pub status: Option<String>,
    /// The remote server's words.
    pub detail: Option<String>,
}

/// When soft bounces add up to a suppression.
#[derive(Debug, Clone, Copy)]
pub struct SoftBounces {
    pub limit: u32,
    pub window: chrono::TimeDelta,
}

/// What recording a bounce did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceApplied {
    /// Already recorded (the same event seen again): nothing changed.
    Duplicate,
    /// Recorded; the address still receives.
    Counted,
    /// Recorded, and the address no longer receives (suppressed; a
    /// complaint also withdrew every consent).
    Suppressed,
}

/// The cadence of a topic taken item by item (no digest): the default.
pub const EVERY_ITEM: &str = "item";

/// The suppression list keeps only this: a hash of the normalised address,
/// so an erased person is not re-added and yet is no longer on file.
pub fn address_hash(email: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"crier-suppression-v1:");
    h.update(email.trim().to_lowercase().as_bytes());
    hex::encode(h.finalize())
}

#[async_trait]
pub trait Lists: Send + Sync {
    /// Adds a subscriber with a pending (or, with evidence, confirmed)
    /// consent per topic. An address already on the list is left as it is.
    async fn add_subscribers(
        &self,
        new: &[NewSubscriber],
        now: DateTime<Utc>,
    ) -> Result<Vec<Added>, StoreError>;

    async fn add_subscriber(
        &self,
        new: &NewSubscriber,
        now: DateTime<Utc>,
    ) -> Result<Added, StoreError> {
        let mut added = self.add_subscribers(std::slice::from_ref(new), now).await?;
        added
            .pop()
            .ok_or_else(|| StoreError::Other("nothing added".into()))
    }

    /// The double opt-in click: confirms a pending subscriber and their
    /// pending consents, and lifts a suppression (this is new consent).
    /// `None` if there is no such subscriber (erased since).
    async fn confirm(&self, id: i64, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError>;

    /// A pending subscriber asked again (a lost or expired link): whether
    /// to send them a fresh confirmation now. Yes, and recorded as resent
    /// at `now`, unless one was already resent after `not_since` (the rate
    /// limit: the first confirmation does not count) or the subscriber is
    /// not pending. Atomic, so two requests at once send one.
    async fn claim_resend(
        &self,
        id: i64,
        not_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    async fn subscriber(
        &self,
        channel: &str,
        email: &str,
    ) -> Result<Option<Subscriber>, StoreError>;

    async fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>, StoreError>;

    /// Preferences: consents for topics added (confirmed at once, the
    /// address being proven), withdrawn for topics removed.
    async fn set_topics(
        &self,
        id: i64,
        topics: &[String],
        wording: &str,
        client_addr: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Withdraws every consent; nothing more is sent. Idempotent.
    async fn unsubscribe(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Subscribers of a channel (optionally of one topic), by address.
    async fn subscribers(
        &self,
        channel: Option<&str>,
        topic: Option<&str>,
    ) -> Result<Vec<Subscriber>, StoreError>;

    /// Confirmed subscribers of each (channel, topic) just before each of
    /// `at`, from the consent history: a consent counts from its
    /// confirmation (an imported one from its import, however old its
    /// evidence) until its withdrawal, and not once the address is
    /// suppressed. The erased are gone from the past as well. Only pairs
    /// with someone at some time are listed.
    async fn confirmed_counts(&self, at: &[DateTime<Utc>]) -> Result<Vec<TopicCounts>, StoreError>;

    /// Everything held about an address: subscriptions, consents and what
    /// was sent to it, on every channel.
    async fn export(&self, email: &str) -> Result<serde_json::Value, StoreError>;

    /// Deletes everything held about an address and suppresses its hash on
    /// every channel it was on (or `channels` if it was on none). Returns
    /// how many subscriptions were removed.
    async fn erase(
        &self,
        email: &str,
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError>;

    async fn is_suppressed(&self, channel: &str, email: &str) -> Result<bool, StoreError>;

    /// Confirmed subscribers with a consent in force for one of `topics`
    /// which they take at `cadence` ([`EVERY_ITEM`] for an item's send,
    /// `daily` or `weekly` for a digest's), not suppressed, without a final
    /// outcome for `delivery_id`: exactly who is still owed this delivery.
    async fn pending_recipients(
        &self,
        delivery_id: i64,
        channel: &str,
        topics: &[String],
        cadence: &str,
    ) -> Result<Vec<Recipient>, StoreError>;

    /// Of `ids`, those still owed `delivery_id` now, by the same rule as
    /// [`pending_recipients`](Lists::pending_recipients). A long send asks
    /// again for each batch just before sending it, so whoever leaves
    /// meanwhile is not sent to.
    async fn still_owed(
        &self,
        delivery_id: i64,
        channel: &str,
        topics: &[String],
        cadence: &str,
        ids: &[i64],
    ) -> Result<Vec<i64>, StoreError>;

    /// Digest choices, in one transaction: each (subscriber id, topic,
    /// cadence) replaces the one held; [`EVERY_ITEM`] removes it. Topics
    /// not given keep theirs; an unknown subscriber is skipped.
    async fn set_cadences(
        &self,
        choices: &[(i64, String, String)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// A subscriber's digest choices, (topic, cadence) by topic; a topic
    /// not listed is taken item by item.
    async fn cadences(&self, id: i64) -> Result<Vec<(String, String)>, StoreError>;

    /// Records outcomes in one transaction. A bounce counts towards
    /// `bounce_limit`; reaching it unsubscribes and suppresses the address.
    async fn record_recipients(
        &self,
        delivery_id: i64,
        channel: &str,
        outcomes: &[RecipientOutcome],
        bounce_limit: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn progress(&self, delivery_id: i64) -> Result<Progress, StoreError>;

    /// Recipients accepted on a channel since `since`, and the earliest of
    /// them (for a per-hour cap).
    async fn sent_since(
        &self,
        channel: &str,
        since: DateTime<Utc>,
    ) -> Result<(u64, Option<DateTime<Utc>>), StoreError>;

    /// Records a bounce or complaint once (by its key) and applies it in
    /// the same transaction: a hard bounce suppresses the address, soft
    /// ones after `soft.limit` within `soft.window`, a complaint withdraws
    /// every consent and suppresses.
    async fn record_bounce(
        &self,
        event: &BounceEvent,
        soft: SoftBounces,
        now: DateTime<Utc>,
    ) -> Result<BounceApplied, StoreError>;

    /// Recipient outcomes by (channel, state), for `/metrics`.
    async fn recipient_counts(&self) -> Result<Vec<(String, String, u64)>, StoreError>;
}
