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

/// Who caused a change, for the audit log: the daemon, someone at the
/// server's shell (their Unix user), a signed-in person (their e-mail), or
/// a system using an API token (the token's name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    Daemon,
    Cli(String),
    Person(String),
    Token(String),
}

impl Actor {
    /// The person at this shell, as the operating system names them.
    pub fn cli() -> Actor {
        let user = ["USER", "LOGNAME"]
            .into_iter()
            .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()));
        Actor::Cli(user.unwrap_or_default())
    }

    /// The stored form: `daemon`, `cli:USER`, `person:EMAIL`, `token:NAME`.
    pub fn to_stored(&self) -> String {
        match self {
            Actor::Daemon => "daemon".into(),
            Actor::Cli(user) if user.is_empty() => "cli".into(),
            Actor::Cli(user) => format!("cli:{user}"),
            Actor::Person(email) => format!("person:{email}"),
            Actor::Token(name) => format!("token:{name}"),
        }
    }

    /// Reads the stored form back; `api` is what rows written before
    /// people had names hold.
    pub fn parse(s: &str) -> Option<Actor> {
        let (kind, name) = s.split_once(':').unwrap_or((s, ""));
        let name = name.to_string();
        match kind {
            "daemon" if name.is_empty() => Some(Actor::Daemon),
            "cli" => Some(Actor::Cli(name)),
            "person" if !name.is_empty() => Some(Actor::Person(name)),
            "token" if !name.is_empty() => Some(Actor::Token(name)),
            "api" if name.is_empty() => Some(Actor::Token("api".into())),
            _ => None,
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_stored())
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_stored())
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Actor::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown actor {text:?}")))
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
    /// The rendered variant: exactly what will be sent. Shared with the
    /// check that rendered it and with the item's other occasions, never
    /// copied (a plan can hold a million).
    /// `None` when the store already holds it (`variants::Render`): the
    /// store then writes the entry only if it matches what is stored, and
    /// reports it otherwise (`SyncSummary::unrendered`).
    pub variant: Option<std::sync::Arc<Variant>>,
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
        display_state(self.state, self.hold_reason, self.due_at, now)
    }

    /// What a listing shows of it.
    pub fn summary(&self) -> DeliverySummary {
        DeliverySummary {
            id: self.id,
            item: self.item.clone(),
            channel: self.channel.clone(),
            occasion: self.occasion.clone(),
            state: self.state,
            hold_reason: self.hold_reason,
            due_at: self.due_at,
            attempts: self.attempts,
            last_error: self.last_error.clone(),
            remote_url: self.remote_url.clone(),
            sent_at: self.sent_at,
            requires_approval: self.requires_approval,
            approved: self.approved,
        }
    }
}

/// A delivery as a listing shows it: all but what it sends (the variant,
/// kilobytes of JSON a row, most of what there is to read and parse) and
/// the bookkeeping only dispatch uses. `Store::list_summaries` reads these.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySummary {
    pub id: i64,
    pub item: String,
    pub channel: String,
    pub occasion: String,
    pub state: State,
    pub hold_reason: Option<HoldReason>,
    pub due_at: DateTime<Utc>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub remote_url: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub requires_approval: bool,
    pub approved: bool,
}

impl DeliverySummary {
    /// As [`Delivery::display_state`].
    pub fn display_state(&self, now: DateTime<Utc>) -> String {
        display_state(self.state, self.hold_reason, self.due_at, now)
    }
}

fn display_state(
    state: State,
    hold_reason: Option<HoldReason>,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> String {
    match (state, hold_reason) {
        (State::Planned, _) if due_at <= now => "due".into(),
        (State::Held, Some(r)) => format!("held:{}", r.as_str()),
        (s, _) => s.as_str().into(),
    }
}

/// One entry of a delivery's audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[cfg(test)]
mod actor_tests {
    use super::Actor;

    #[test]
    fn actors_round_trip_through_their_stored_form() {
        for actor in [
            Actor::Daemon,
            Actor::Cli("ann".into()),
            Actor::Cli(String::new()),
            Actor::Person("ada@example.org".into()),
            Actor::Token("website".into()),
        ] {
            assert_eq!(Actor::parse(&actor.to_stored()), Some(actor));
        }
        assert_eq!(Actor::parse("api"), Some(Actor::Token("api".into())));
        assert_eq!(Actor::parse("person:"), None);
        assert_eq!(Actor::parse("someone"), None);
    }
}
