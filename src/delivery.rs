//! A [`Delivery`] is one variant going to one channel at one time: the unit
//! the daemon schedules, leases, sends and records.
//!
//! Lifecycle: `planned` → (due) → `in_flight` (leased; `request_started`
//! once the request may have left) → `sent` | `retrying` | `failed` |
//! `held` | `cancelled`. "Due" is a planned delivery whose time has come;
//! it is shown, not stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::variant::Variant;

/// Stored state of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Planned,
    InFlight,
    Sent,
    Retrying,
    Failed,
    Held,
    Cancelled,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Planned,
        State::InFlight,
        State::Sent,
        State::Retrying,
        State::Failed,
        State::Held,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Planned => "planned",
            State::InFlight => "in_flight",
            State::Sent => "sent",
            State::Retrying => "retrying",
            State::Failed => "failed",
            State::Held => "held",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Not yet sent and not given up on: content edits still apply.
    pub fn is_pending(self) -> bool {
        matches!(self, State::Planned | State::Retrying | State::Held)
    }
}

/// Why a delivery is held for a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The channel or everything is paused.
    Paused,
    /// The item or channel requires approval and has none.
    Approval,
    /// A request may have reached the network before a crash or timeout.
    Uncertain,
    /// It fell due longer ago than the grace window (the daemon was down).
    Missed,
    /// The channel's credentials are missing, expired or refused.
    Credentials,
    /// Nothing can publish it: its channel is no longer in channels.toml.
    /// (Stored as `unsupported`, from when some kinds could not publish.)
    Unsupported,
}

impl HoldReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldReason::Paused => "paused",
            HoldReason::Approval => "approval",
            HoldReason::Uncertain => "uncertain",
            HoldReason::Missed => "missed",
            HoldReason::Credentials => "credentials",
            HoldReason::Unsupported => "unsupported",
        }
    }

    pub fn parse(s: &str) -> Option<HoldReason> {
        [
            HoldReason::Paused,
            HoldReason::Approval,
            HoldReason::Uncertain,
            HoldReason::Missed,
            HoldReason::Credentials,
            HoldReason::Unsupported,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Who caused a transition, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    Cli,
    Api,
    Daemon,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Cli => "cli",
            Actor::Api => "api",
            Actor::Daemon => "daemon",
        }
    }

    pub fn parse(s: &str) -> Option<Actor> {
        [Actor::Cli, Actor::Api, Actor::Daemon]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A delivery as planned from content: what the store must hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    pub item: String,
    pub channel: String,
    /// Which of the item's publish times this is (`at`, or a reminder's
    /// schedule): with item and channel, the delivery's identity.
    pub occasion: String,
    pub due_at: DateTime<Utc>,
    /// The rendered variant: exactly what will be sent.
    pub variant: Variant,
    /// Hash of `variant` and `due_at`: a change means the content was edited.
    pub fingerprint: String,
    pub requires_approval: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub item: String,
    pub channel: String,
    pub occasion: String,
    pub state: State,
    pub hold_reason: Option<HoldReason>,
    pub due_at: DateTime<Utc>,
    /// When a `retrying` delivery may be tried again.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Set once the request may have left: after a crash, only these are uncertain.
    pub request_started_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub requires_approval: bool,
    pub approved: bool,
    /// As planned; the store read it back (one it cannot read never gets here).
    pub variant: Variant,
    pub fingerprint: String,
}

impl Delivery {
    /// The same for every attempt of this delivery, so networks that honour
    /// an idempotency key can drop a repeat.
    pub fn idempotency_key(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            self.id, self.item, self.channel, self.occasion
        ));
        format!("crier-{}", &hex::encode(digest)[..32])
    }

    /// The state as a person reads it: a planned delivery whose time has come is "due".
    pub fn display_state(&self, now: DateTime<Utc>) -> String {
        match (self.state, self.hold_reason) {
            (State::Planned, _) if self.due_at <= now => "due".into(),
            (State::Held, Some(r)) => format!("held:{}", r.as_str()),
            (s, _) => s.as_str().into(),
        }
    }
}

/// One entry of a delivery's audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub delivery: i64,
    pub from: Option<State>,
    pub to: State,
    pub actor: Actor,
    pub reason: String,
}

/// What a network answered when a post went out.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Receipt {
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
}

/// How far a delivery to many recipients (an email list's send) got: its
/// per-recipient records by outcome, and its refusals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Progress {
    pub sent: u64,
    pub bounced: u64,
    pub deferred: u64,
    /// (address, reply) of refused or deferred recipients, first 50.
    pub problems: Vec<(String, String)>,
}

impl Progress {
    pub fn is_empty(&self) -> bool {
        self.sent + self.bounced + self.deferred == 0
    }
}
