//! The store: every delivery, its audit log, and the pause switches.
//!
//! Every SQL statement lives under this module, behind [`Store`] (the
//! queue: what the dispatcher, planner and CLI see) and [`ChannelStore`]
//! (what a channel module sees, with the mailing lists, [`lists::Lists`],
//! behind it) and [`people::People`] (accounts, sessions, API tokens), so a PostgreSQL backend drops in beside [`sqlite`] without
//! touching them.

/// The columns a backend's `delivery_from_row` reads, in a literal so statements can
/// be built with `concat!` and stay `&'static str`.
macro_rules! delivery_columns {
    () => {
        "id, item, channel, occasion, state, hold_reason, due_at, next_attempt_at, attempts, \
         lease_expires_at, request_started_at, last_error, remote_id, remote_url, sent_at, \
         requires_approval, approved, variant, fingerprint"
    };
}

pub mod calendar;
pub mod channel;
#[cfg(test)]
pub(crate) mod contract;
pub mod coordination;
pub mod copy;
pub mod lists;
pub mod people;
pub mod postgres;
pub mod renders;
pub mod reviews;
pub(crate) mod rows;
pub mod sqlite;
pub mod upkeep;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use calendar::{Calendar, Clash, Tally};
pub use channel::ChannelStore;
pub use coordination::Coordination;
pub use renders::{RenderRecord, Renders, StoredRender};
pub use reviews::Reviews;
pub use upkeep::Upkeep;

use crate::delivery::{
    Actor, Delivery, DeliverySummary, HoldReason, Planned, Receipt, State, Transition,
};

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("the database is locked by another process; try again, or stop the other crier")]
    Locked,
    #[error("the database is damaged or is not a crier database: {0}")]
    Corrupt(String),
    #[error("no delivery with id {0}")]
    NotFound(i64),
    #[error("delivery {id} is {actual}; this needs it to be {expected}")]
    WrongState {
        id: i64,
        actual: String,
        expected: String,
    },
    /// A time to record that no clock reads (e.g. a "take everything"
    /// sentinel such as `DateTime::MAX_UTC` passed as `now`): refused
    /// before anything is written.
    #[error(
        "refusing to record {at} as the time of a change: it is more than ten years ahead \
         of the clock, so it is no clock reading; this is a bug in the caller, nothing was \
         changed"
    )]
    BadTime { at: String },
    /// A name or address that must be unique is taken; the message says which.
    #[error("{0}")]
    Exists(String),
    #[error("database error: {0}")]
    Other(String),
}

#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub state: Option<State>,
    pub hold_reason: Option<HoldReason>,
    pub channel: Option<String>,
    pub item: Option<String>,
    pub limit: Option<usize>,
    /// Only deliveries after this (due time, id): the next page of a
    /// listing, found by index however deep the queue.
    pub after: Option<(DateTime<Utc>, i64)>,
    /// Only deliveries due at or after this time (a calendar's first day).
    pub due_from: Option<DateTime<Utc>>,
    /// Only deliveries due before this time (the day after its last).
    pub due_before: Option<DateTime<Utc>>,
    /// Only deliveries still waiting for someone to approve them (needing
    /// approval, not approved, and planned, retrying or held for approval).
    pub awaiting_approval: bool,
    /// Only deliveries of these items (the API's kind, campaign and topic
    /// filters, resolved against the content): applied in the query, so a
    /// limit counts only what matches.
    pub items: Option<Vec<String>>,
}

/// A change to content made through the API: who created, edited or
/// deleted which item, leaving which version, and the entry's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentChange {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub item: String,
    /// created, updated or deleted.
    pub action: String,
    /// The entry's version after the change (empty when deleted).
    pub version: String,
    /// The campaign file, relative to `campaigns/` (empty if not known).
    pub file: String,
    /// The entry's TOML text before and after (`None` when it did not
    /// exist, or for changes recorded before the text was kept).
    pub before: Option<String>,
    pub after: Option<String>,
    /// Why, as the person said.
    pub reason: Option<String>,
    /// Why git did not record the save (`[console] git_commit` on).
    pub not_in_git: Option<String>,
}

/// One line of the audit log: a delivery's transition, or a content change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub item: String,
    /// For a delivery's transition: its channel, id and states.
    pub channel: Option<String>,
    pub delivery: Option<i64>,
    pub from: Option<State>,
    pub to: Option<State>,
    /// The transition's reason, or the content change (`updated to <version>`).
    pub what: String,
    /// For a content change git did not record: why (the save stands).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_in_git: Option<String>,
}

/// What a channel did lately, for its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelActivity {
    pub channel: String,
    pub last_sent: Option<DateTime<Utc>>,
    /// The latest delivery now failed or waiting to retry, and why.
    pub last_failed: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Which audit entries to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub item: Option<String>,
    /// Only deliveries' transitions on this channel.
    pub channel: Option<String>,
    /// The stored form (`person:ann@example.org`).
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    /// Only content changes (who wrote the item), no transitions.
    pub content_only: bool,
    pub offset: usize,
    pub limit: usize,
}

/// What [`Store::sync_plan`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncSummary {
    pub added: usize,
    pub updated: usize,
    pub cancelled: usize,
    pub unchanged: usize,
    /// Plan entries without their variant (`Planned::variant` is `None`)
    /// that had to be added or updated: left as they were, by their index
    /// in the plan, for the planner to render and sync again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unrendered: Vec<usize>,
}

/// The JSON a delivery stores of a plan entry's variant; an entry without
/// one is never written (the syncs report it as `unrendered` instead).
pub(crate) fn planned_json(p: &Planned) -> Result<String, StoreError> {
    let variant = p.variant.as_ref().ok_or_else(|| {
        StoreError::Other(format!(
            "sync: the plan entry for item {:?} on {:?} has no variant to write",
            p.item, p.channel
        ))
    })?;
    Ok(variant.canonical_json())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paused {
    pub all: bool,
    pub channels: Vec<String>,
    /// When everything was paused, and by whom (the actor as stored), for
    /// the banner people see while it lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl Paused {
    pub fn covers(&self, channel: &str) -> bool {
        self.all || self.channels.iter().any(|c| c == channel)
    }
}

/// One human or daemon decision about a delivery, checked against its
/// current state inside the store's transaction.
#[derive(Debug, Clone)]
pub struct Change {
    /// The delivery must be in one of these states.
    pub from: Vec<State>,
    pub to: State,
    pub hold_reason: Option<HoldReason>,
    /// Move the due time (send now, next slot).
    pub due_at: Option<DateTime<Utc>>,
    /// Set the approval flag.
    pub approve: bool,
    pub actor: Actor,
    pub reason: String,
}

/// Every time a backend records (a change's `now`, due, retry and lease
/// times) is a clock reading: one more than ten years ahead of the wall
/// clock is refused with [`StoreError::BadTime`] before anything is written. Reads may take any
/// time (`expired_leases(DateTime::MAX_UTC)` lists every lease).
/// The review links of items ([`Reviews`]), the render records
/// ([`Renders`]) and what processes sharing the store agree on
/// ([`Coordination`]) come through this door too.
#[async_trait]
pub trait Store: Reviews + Calendar + Renders + Upkeep + Coordination + Send + Sync {
    /// Makes pending deliveries match the plan: adds new ones, updates
    /// pending ones whose fingerprint changed, cancels pending ones no
    /// longer planned (each logged). A backend may apply a large difference
    /// in several transactions so other writers are not held up: each change
    /// is atomic with its audit row and checks the delivery is still pending
    /// when written (one leased meanwhile is left alone), and a sync cut
    /// short is completed by the next, which starts from what is stored.
    /// Content that did not change writes nothing. Deliveries that are sent,
    /// failed, cancelled or in flight are never changed: editing an item
    /// after it was sent never re-sends it, and content that comes back
    /// after its delivery was cancelled does not revive it (a person does,
    /// with [`Store::change`]).
    ///
    /// `plan` is the whole plan: a pending delivery whose (item, channel,
    /// occasion) is missing is cancelled, so never sync a plan built from
    /// content that failed to load. An update (fingerprint or approval
    /// requirement changed) clears an approval given for the old content and
    /// keeps a retry from going out before the new due time. An update that
    /// gives a delivery held because its time passed (`paused`, `missed`) a
    /// due time after `now` makes it `planned` again at that time (logged
    /// with the reason): it is no longer overdue, so nobody has to decide
    /// about it, and `crier resume --all send-now` does not send it early.
    /// Other holds (approval, uncertain, credentials) stay. The same key
    /// twice in `plan` is an [`StoreError::Other`] and changes nothing.
    async fn sync_plan(
        &self,
        plan: &[Planned],
        now: DateTime<Utc>,
    ) -> Result<SyncSummary, StoreError>;

    /// [`Store::sync_plan`] for part of the content: `plan` is the whole
    /// plan of `items` and names no other item. A pending delivery of one
    /// of `items` that `plan` does not name is cancelled; deliveries of
    /// other items are left alone. A reload of a few edited items syncs
    /// those, without staging the keys of everything that did not change.
    async fn sync_items(
        &self,
        items: &[String],
        plan: &[Planned],
        now: DateTime<Utc>,
    ) -> Result<SyncSummary, StoreError>;

    /// The earliest time something needs the dispatcher: a planned due
    /// time, a retry time, or an in-flight lease expiry.
    async fn next_wakeup(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Atomically leases up to `limit` deliveries due at `now` (planned
    /// with `due_at <= now`, or retrying with `next_attempt_at <= now`),
    /// earliest first: state `in_flight`, lease until `now + lease`,
    /// attempts + 1, `request_started_at` cleared. Concurrent callers get
    /// disjoint sets. Pauses and approvals are not checked here: the
    /// dispatcher checks them on what it leased, and holds or releases.
    /// Each lease is logged (actor daemon).
    async fn lease_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.lease_due_by(now, now, limit, lease).await
    }

    /// [`Store::lease_due`], also taking what falls due by `due_by` (a
    /// moment after `now`): the dispatcher leases a burst before it is due,
    /// in one statement with its audit rows, and sends each at its time.
    /// The lease, its log and its expiry are at `now`; a `due_by` before
    /// `now` counts as `now`.
    async fn lease_due_by(
        &self,
        now: DateTime<Utc>,
        due_by: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Records, before the request is made, that it may reach the network.
    /// The delivery must be in flight with a lease that has not expired at
    /// `now` (else [`StoreError::WrongState`]): a worker presumed dead must
    /// not send. Logged as an in_flight → in_flight transition.
    async fn mark_request_started(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// [`Store::mark_request_started`] for a burst, in one commit: marks
    /// each delivery of `ids` that is in flight with a lease live at `now`
    /// and returns those ids, in the order given; the others are left
    /// unchanged and must not be sent. Each mark is logged.
    async fn mark_requests_started(
        &self,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError>;

    /// In flight → sent, keeping the receipt; `last_error` is cleared (the
    /// errors of earlier attempts stay in the history). Also accepted from
    /// held (uncertain): reconciliation found the post, and marking it sent
    /// stops anyone resuming it into a second post.
    async fn record_sent(
        &self,
        id: i64,
        receipt: &Receipt,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError>;

    /// In flight → retrying, due again at `next_attempt_at`; `error` is kept
    /// and logged.
    async fn record_retry(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// In flight → failed for good; `error` is kept and logged.
    async fn record_failed(
        &self,
        id: i64,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Holds a delivery for a human; `note` says why in words and is kept
    /// as the delivery's `last_error`, shown by `crier queue`. Allowed from
    /// planned, retrying, in flight (the lease is dropped) and held (the
    /// reason is replaced).
    async fn hold(
        &self,
        id: i64,
        reason: HoldReason,
        note: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Gives an in-flight lease back (the request never left): planned again,
    /// and the attempt is not counted. Refused with
    /// [`StoreError::WrongState`] once `mark_request_started` was called.
    async fn release(&self, id: i64, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// In-flight deliveries whose lease expired: their process died.
    async fn expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError>;

    async fn get(&self, id: i64) -> Result<Option<Delivery>, StoreError>;

    /// Deliveries matching `filter`, by due time.
    async fn list(&self, filter: &QueueFilter) -> Result<Vec<Delivery>, StoreError>;

    /// [`Store::list`]'s deliveries as a listing shows them, without
    /// reading their variants: for the queue and the calendar.
    async fn list_summaries(
        &self,
        filter: &QueueFilter,
    ) -> Result<Vec<DeliverySummary>, StoreError>;

    /// The audit log of one delivery in the order it was written (not by
    /// `at`, which comes from callers' clocks); [`StoreError::NotFound`] if
    /// there is no such delivery.
    async fn history(&self, id: i64) -> Result<Vec<Transition>, StoreError>;

    /// Applies a checked change (cancel, retry, approve, resume) and logs it;
    /// returns the delivery as it now is. `to: InFlight` is refused (only a
    /// lease may do that). `to: Retrying` is due again at `due_at`, or now.
    async fn change(
        &self,
        id: i64,
        change: &Change,
        now: DateTime<Utc>,
    ) -> Result<Delivery, StoreError>;

    /// Sets the pause switch for one channel, or for everything.
    async fn set_paused(
        &self,
        channel: Option<&str>,
        paused: bool,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn paused(&self) -> Result<Paused, StoreError>;

    /// Delivery counts by (channel, state), for metrics.
    async fn counts(&self) -> Result<Vec<(String, State, u64)>, StoreError>;

    /// A channel's health note (e.g. "needs new credentials"), or none.
    async fn set_channel_status(
        &self,
        channel: &str,
        status: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn channel_statuses(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Extends the lease of a delivery still being sent (a long fan-out),
    /// so it is not presumed dead. [`StoreError::WrongState`] if it is no
    /// longer in flight or its lease already ran out: the sender must stop.
    async fn renew_lease(
        &self,
        id: i64,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// In flight with its request started → retrying, due `now`: for a
    /// channel whose reconciliation proved that resuming cannot repeat
    /// anything (per-recipient records). Logged.
    async fn release_reconciled(
        &self,
        id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// In flight → retrying, due `now`: the daemon is stopping and the
    /// publisher stopped at a safe boundary, with everything it sent
    /// recorded (recipients, parts), so resuming repeats nothing. The
    /// attempt is not counted (towards `max_attempts` or backoff); `note`
    /// is kept as `last_error` (shown by `crier queue`) and logged.
    async fn record_stopped(
        &self,
        id: i64,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records, durably, that part `part` (from 0) of a thread is posted,
    /// before the next part is sent: a later attempt resumes after it
    /// instead of posting the start of the thread again. Recording a part
    /// twice is an error (it would mean two senders).
    async fn record_part(
        &self,
        delivery_id: i64,
        part: usize,
        receipt: &Receipt,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The parts of a thread already posted, in order from part 0 (stopping
    /// at the first gap).
    async fn posted_parts(&self, delivery_id: i64) -> Result<Vec<Receipt>, StoreError>;

    /// Records who changed which item's content (the deliveries that
    /// follow are logged by the plan sync).
    async fn record_content_change(&self, change: &ContentChange) -> Result<(), StoreError>;

    /// The content changes of one item, oldest first: its versions when
    /// the campaign files are not kept in git.
    async fn content_changes(&self, item: &str) -> Result<Vec<ContentChange>, StoreError>;

    /// The audit log: transitions and content changes, newest first.
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;

    /// Per channel that has any: its latest send, and its latest delivery
    /// now failed or retrying with that delivery's error.
    async fn channel_activity(&self) -> Result<Vec<ChannelActivity>, StoreError>;
}

/// One opened store through its three doors: the queue, for the
/// dispatcher, the daemon and the CLI; the channel view, for channel
/// modules; people, for sign-in and the commands that manage accounts.
#[derive(Clone)]
pub struct Opened {
    pub queue: Arc<dyn Store>,
    pub channels: Arc<dyn ChannelStore>,
    pub people: Arc<dyn people::People>,
}

/// Opens the store the configuration names: PostgreSQL when `[store] url`
/// or `CRIER_STORE_URL` gives one, else SQLite in `data_dir`.
pub async fn open(config: &crate::config::Config) -> Result<Opened, StoreError> {
    let url = config.store.url().map_err(|reason| StoreError::Open {
        path: crate::config::STORE_URL_ENV.into(),
        reason,
    })?;
    if let Some(url) = url {
        let store = Arc::new(postgres::PgStore::connect(url.expose()).await?);
        return Ok(Opened {
            queue: store.clone(),
            channels: store.clone(),
            people: store,
        });
    }
    let path = config.data_dir().join("crier.db");
    let store = Arc::new(sqlite::SqliteStore::open(&path).await?);
    Ok(Opened {
        queue: store.clone(),
        channels: store.clone(),
        people: store,
    })
}
