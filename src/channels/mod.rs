//! Channels: one module per kind of destination, all behind [`Channel`].
//!
//! A module owns its configuration (the rest of its `[channels.<name>]`
//! table), how its variant is shaped (length rules, threads, payload), and —
//! for the daemon — how it publishes. What every channel shares (its name,
//! its kind, the family its templates fall back to) is held once, by
//! [`Configured`], which the rest of crier uses. Adding a network means one
//! module here and one line in [`registry`]; nothing else names a network.

mod configured;
pub mod http;
pub mod import;
pub mod learned;
pub mod media;
pub mod registry;
pub(crate) mod shape;
pub mod stopping;

pub use configured::Configured;
pub use learned::Learned;

mod bluesky;
mod chat_webhook;
mod discard;
mod discord;
pub mod email;
mod facebook;
pub mod feed;
mod linkedin;
mod mastodon;
mod slack;
mod teams;
mod thread;
mod webhook;
mod x;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use crier_schedule::Clock;
use serde::de::DeserializeOwned;

use crate::config::{ChannelSpec, Config};
use crate::content::Item;
use crate::credentials::Credentials;
use crate::delivery::{Delivery, Planned, Receipt};
use crate::diagnostics::Severity;
use crate::render::{Output, Rendered, Templates};
use crate::secret::SecretRef;
use crate::store::ChannelStore;
use crate::variant::Variant;

/// Where a channel's templates fall back to when its kind has none of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Short posts with a length limit.
    Social,
    /// Chat webhooks that take longer, lightly formatted messages.
    Chat,
    Email,
    Feed,
    /// Machine-readable documents for partners' systems.
    Document,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Social => "social",
            Family::Chat => "chat",
            Family::Email => "email",
            Family::Feed => "feed",
            Family::Document => "document",
        }
    }
}

/// Problems a channel finds while shaping a variant.
#[derive(Debug, Default)]
pub struct Findings(pub Vec<(Severity, String)>);

impl Findings {
    pub fn error(&mut self, msg: impl Into<String>) {
        self.0.push((Severity::Error, msg.into()));
    }
    pub fn warning(&mut self, msg: impl Into<String>) {
        self.0.push((Severity::Warning, msg.into()));
    }
}

/// What a channel module implements: only what differs by kind. The name,
/// kind and family are [`Configured`]'s; what a kind adds once, whatever
/// the channels, is its [`registry::KindHooks`].
#[async_trait]
pub trait Channel: Send + Sync {
    /// The template outputs this channel needs.
    fn outputs(&self) -> &'static [Output] {
        &[Output::Text]
    }
    /// Environment variables holding this channel's secrets.
    fn secrets(&self) -> Vec<&SecretRef> {
        Vec::new()
    }
    /// Turns template output into exactly what will be sent.
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant;
    /// How this channel sends (every kind sends; discard sends nowhere).
    fn publisher(&self) -> &dyn Publisher;
    /// Run once by the daemon at start, before anything is sent (a feed
    /// writes its files, empty but valid, so they match the store). An
    /// error stops the daemon, naming the channel.
    async fn start(&self, _services: &Services) -> Result<(), String> {
        Ok(())
    }
    /// HTTP routes this channel serves from the daemon (subscription
    /// pages under its own name, a feed's documents), mounted as they are
    /// at start; `None` for most. Two channels' routes must not share a
    /// path (axum panics on it): the kind refuses what would, at load
    /// ([`registry::KindHooks::check_channels`]).
    fn routes(&self, _services: &Services) -> Option<axum::Router> {
        None
    }
    /// Takes what [`Publisher::learn`] found earlier (saved in the data
    /// folder) into account when shaping, e.g. an instance's real limits.
    /// `Err` says why it was not used (learned from another server...).
    fn adopt(&mut self, _learned: &Learned) -> Result<(), String> {
        Ok(())
    }
    /// The limits shaping counts against and where they come from, for
    /// `check` and `preview` to show, e.g. "500 characters (instance,
    /// fetched 2026-11-26)"; `None` where the limits never vary.
    fn limits(&self) -> Option<String> {
        None
    }
    /// The largest image file this channel can send, in bytes: `check`
    /// refuses bigger ones (read from the campaigns folder) before any
    /// send is tried. `None`: no limit, or no images.
    fn max_image_bytes(&self) -> Option<u64> {
        None
    }
    /// What this channel sends with the daemon's `[daemon] public_url` in
    /// it (e.g. "the links in every message"), for `check` to warn when
    /// that is only the default; `None`: it sends no link to the daemon.
    fn uses_public_url(&self) -> Option<&'static str> {
        None
    }
    /// Problems with how this channel fits the rest of the configuration
    /// (the daemon's settings), for `check` to report against the channel.
    fn check_setup(&self, _config: &Config, _findings: &mut Findings) {}
    /// Given the workspace's templates once they are loaded, for a channel
    /// that renders more than items at send time (an email list's digests).
    fn attach_templates(&mut self, _templates: &Arc<Templates>) {}
    /// Deliveries of its own the channel adds to the plan, from the main
    /// occasions of its planned items (an email list's digests: one per
    /// topic and period, due when the period ends), each given with its
    /// item (the plan entry may not hold its variant). The planner sets
    /// their fingerprints; the store syncs them like any other.
    fn plan_own(&self, _items: &[(&Item, &Planned)], _tz: chrono_tz::Tz) -> Vec<Planned> {
        Vec::new()
    }
    /// For a channel that keeps a subscriber list: what it offers
    /// subscribers (an import form's choices); `None` for the rest.
    fn list_offer(&self) -> Option<ListOffer> {
        None
    }
}

/// What a list offers its subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffer {
    /// Its topics: (id, name).
    pub topics: Vec<(String, String)>,
    /// The digests a topic may be taken as instead of every item
    /// (`daily`, `weekly`); empty when it offers none.
    pub digests: Vec<String>,
}

/// One delivery to send, with the variant stored when it was planned.
pub struct Job<'a> {
    pub delivery: &'a Delivery,
    pub variant: &'a Variant,
}

/// What publishers may use: shared, long-lived, built once by the daemon.
#[derive(Clone)]
pub struct Services {
    pub http: reqwest::Client,
    /// Where feed files are written (served at /feeds/).
    pub publish_dir: PathBuf,
    /// The daemon's public base URL, without a trailing slash.
    pub public_url: String,
    /// The store as channels see it: thread parts, a send's lease, the
    /// sent deliveries, the mailing lists.
    pub store: Arc<dyn ChannelStore>,
    pub clock: Arc<dyn Clock>,
    /// Rotating credentials kept apart from the queue.
    pub credentials: Credentials,
    /// The campaigns folder: item images (`Image.src`) are relative to it.
    pub campaigns_dir: PathBuf,
    /// Set when the daemon stops: long sends end at a safe boundary.
    pub stopping: stopping::Stopping,
}

impl Services {
    /// The services for a configuration and its store's channel view.
    pub fn new(
        config: &crate::config::Config,
        store: Arc<dyn ChannelStore>,
        stopping: stopping::Stopping,
    ) -> Services {
        let data_dir = config.data_dir();
        Services {
            http: http::client(),
            publish_dir: data_dir.join("public"),
            public_url: config.daemon.public_url.trim_end_matches('/').to_string(),
            store,
            clock: Arc::new(crier_schedule::SystemClock),
            credentials: crate::credentials::Credentials::new(&data_dir),
            campaigns_dir: config.campaigns_dir(),
            stopping,
        }
    }
}

/// How a send failed; the dispatcher acts on the kind, never on the text.
///
/// `status` is the HTTP status of the answer that decided the kind, when
/// there was one: code that reads an error (a network's own refinements,
/// the gateway rule) matches on it, never on the message, which is for
/// people.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PublishError {
    /// Worth trying again: 429, 5xx, or no connection before sending.
    #[error("{message}")]
    Retry {
        message: String,
        status: Option<u16>,
        /// What the network asked for (Retry-After, rate-limit reset).
        after: Option<Duration>,
    },
    /// Refused for good (validation, duplicate): the network's own words.
    #[error("{message}")]
    Permanent {
        message: String,
        status: Option<u16>,
    },
    /// The request may have been received (timeout, dropped connection
    /// after sending): never retried blindly.
    #[error("{message}")]
    Uncertain {
        message: String,
        status: Option<u16>,
    },
    /// Credentials missing, expired or refused.
    #[error("{message}")]
    Credentials {
        message: String,
        status: Option<u16>,
    },
    /// The daemon is stopping ([`Services::stopping`]) and the publisher
    /// stopped at a safe boundary, everything it sent recorded: the rest
    /// goes on the next start. Not a failed attempt.
    #[error("{0}")]
    Stopped(String),
}

impl PublishError {
    /// A retry with no HTTP answer behind it.
    pub fn retry(message: String, after: Option<Duration>) -> PublishError {
        PublishError::Retry {
            message,
            status: None,
            after,
        }
    }

    /// A refusal found without asking the network (bad option, unreadable
    /// image, a stored variant this version cannot send).
    pub fn permanent(message: String) -> PublishError {
        PublishError::Permanent {
            message,
            status: None,
        }
    }

    pub fn uncertain(message: String) -> PublishError {
        PublishError::Uncertain {
            message,
            status: None,
        }
    }

    pub fn credentials(message: String) -> PublishError {
        PublishError::Credentials {
            message,
            status: None,
        }
    }

    /// The HTTP status of the answer, if the failure came from one.
    pub fn status(&self) -> Option<u16> {
        match self {
            PublishError::Retry { status, .. }
            | PublishError::Permanent { status, .. }
            | PublishError::Uncertain { status, .. }
            | PublishError::Credentials { status, .. } => *status,
            PublishError::Stopped(_) => None,
        }
    }

    /// The same failure, told differently (context added, a network's
    /// own words put first); kind, status and wait are kept.
    pub fn map_message(mut self, f: impl FnOnce(String) -> String) -> PublishError {
        let (PublishError::Retry { message, .. }
        | PublishError::Permanent { message, .. }
        | PublishError::Uncertain { message, .. }
        | PublishError::Credentials { message, .. }
        | PublishError::Stopped(message)) = &mut self;
        *message = f(std::mem::take(message));
        self
    }
}

/// What a channel found out about a request interrupted by a crash.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconciled {
    /// The post exists.
    Sent(Receipt),
    /// The network never got it: safe to send.
    NotSent,
    /// No way to tell: a human decides.
    Unknown,
}

#[async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError>;

    /// Called for a delivery whose request may have left before a crash.
    /// Channels with an idempotency mechanism look the post up.
    async fn reconcile(&self, _job: &Job<'_>, _services: &Services) -> Reconciled {
        Reconciled::Unknown
    }

    /// `crier channels test`: checks credentials and limits without
    /// posting; says what it found.
    async fn check(&self, _services: &Services) -> Result<String, PublishError> {
        Ok("nothing to check for this channel kind".into())
    }

    /// Reads what the network says about itself that shaping depends on
    /// (limits), as the channel's own JSON for [`Channel::adopt`]; saved in
    /// the data folder by the caller. `None`: nothing to learn. Never posts.
    async fn learn(&self, _services: &Services) -> Result<Option<serde_json::Value>, PublishError> {
        Ok(None)
    }
    /// `crier send-test`: sends `variant`, marked as a test, to the given
    /// addresses only (the comms team's own), through the channel's real
    /// settings, recording nothing in the queue or the lists.
    async fn send_test(
        &self,
        _variant: &Variant,
        _to: &[String],
        _services: &Services,
    ) -> Result<TestSent, PublishError> {
        Err(PublishError::permanent(
            "channels of this kind have no test send (it is for email lists)".into(),
        ))
    }
}

/// What a test send did, per address, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TestSent {
    pub accepted: Vec<String>,
    /// Each address the server refused, with its words.
    pub refused: Vec<(String, String)>,
}

impl TestSent {
    pub fn summary(&self) -> String {
        let mut s = match self.accepted.as_slice() {
            [] => "the test message was accepted for no one".to_string(),
            a => format!("the test message was accepted for {}", a.join(", ")),
        };
        for (who, why) in &self.refused {
            s += &format!("; refused for {who}: {why}");
        }
        s
    }
}

/// Reads a module's own options from its table; the error names the field.
pub fn options<T: DeserializeOwned>(spec: &ChannelSpec) -> Result<T, String> {
    T::deserialize(toml::Value::Table(spec.options.clone()))
        .map_err(|e| format!("channels.{}: {}", spec.name, e.message().trim()))
}

/// Requires an https URL in a channel option.
pub fn https_option(spec: &ChannelSpec, field: &str, value: &str) -> Result<(), String> {
    if http::https_or_loopback(value) {
        Ok(())
    } else {
        Err(format!(
            "channels.{}.{field} must be an https:// URL, not `{value}`",
            spec.name
        ))
    }
}
