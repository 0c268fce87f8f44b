//! `channels.toml`: the organisation, the daemon, and one table per channel.
//!
//! The file is parsed in two steps: the shape common to every channel here,
//! then each channel's own options by its module (see `crate::channels`), so
//! a new network never needs a change in this file.

mod auth;
mod store;

pub use auth::{Auth, Oidc, RoleRule};
pub use store::{StoreOptions, STORE_URL_ENV};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use crate::diagnostics::{Location, Report, SourceFile};

/// The default file name, looked up in the working directory.
pub const DEFAULT_PATH: &str = "channels.toml";

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from; content and templates live beside it.
    pub path: PathBuf,
    pub organisation: Organisation,
    pub daemon: Daemon,
    pub content: ContentDirs,
    pub lint: LintOptions,
    /// `[auth]`: sessions and the organisation's OpenID provider.
    pub auth: Auth,
    /// `[console]`: how saves through the API and console are recorded.
    pub console: ConsoleOptions,
    /// `[store]`: SQLite in `data_dir`, or PostgreSQL.
    pub store: StoreOptions,
    pub channels: Vec<ChannelSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub name: String,
    pub website: String,
    #[serde(default = "default_timezone", deserialize_with = "de_timezone")]
    pub timezone: Tz,
    /// BCP 47 language of the content unless an item says otherwise.
    #[serde(default = "default_language")]
    pub language: String,
    /// The console's header colour (`#rrggbb`); its text is black or white,
    /// whichever contrasts more.
    #[serde(default, deserialize_with = "de_colour")]
    pub colour: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Daemon {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Where the daemon is reachable from outside (feed self links, email
    /// links, Teams images); by default `http://` + `listen`.
    #[serde(default)]
    pub public_url: String,
    /// Whether `public_url` was written in the file: `check` warns about a
    /// channel sending links to the daemon when it is only the default.
    #[serde(skip)]
    pub public_url_given: bool,
    /// A delivery that fell due longer ago than this (the daemon was down)
    /// is held for a human instead of going out late.
    #[serde(default = "default_grace_minutes")]
    pub grace_minutes: u64,
    /// How long a dispatcher may hold a delivery before it counts as lost.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
    /// First retry delay; it doubles per attempt, with jitter, up to `retry_max_seconds`.
    #[serde(default = "default_retry_base")]
    pub retry_base_seconds: u64,
    #[serde(default = "default_retry_max")]
    pub retry_max_seconds: u64,
    /// After this many attempts a retryable error becomes a failure.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Sends in progress at once, across channels.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Forget the history (audit rows, per-recipient records) of deliveries
    /// sent or cancelled more than this many months ago; absent: keep
    /// everything. The deliveries themselves stay.
    #[serde(default, deserialize_with = "de_months")]
    pub keep_history_months: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentDirs {
    #[serde(default = "default_campaigns")]
    pub campaigns: PathBuf,
    #[serde(default = "default_templates")]
    pub templates: PathBuf,
}

impl Default for ContentDirs {
    fn default() -> Self {
        ContentDirs {
            campaigns: default_campaigns(),
            templates: default_templates(),
        }
    }
}

/// `[lint]`. Its `Default` must give the same values as the field defaults
/// below: it is what an absent table becomes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintOptions {
    /// Lower-case hashtags that are one word, so need no CamelCase.
    #[serde(default)]
    pub single_word_hashtags: Vec<String>,
    /// More emoji than this in one post is flagged (screen readers read each name).
    #[serde(default = "default_max_emoji")]
    pub max_emoji: usize,
}

/// `[console]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleOptions {
    /// Each save through the API is also a git commit of its file in
    /// `campaigns/`, authored by the person who saved it.
    #[serde(default)]
    pub git_commit: bool,
}

impl Default for LintOptions {
    fn default() -> Self {
        LintOptions {
            single_word_hashtags: Vec::new(),
            max_emoji: default_max_emoji(),
        }
    }
}

/// One `[channels.<name>]` table: the part every channel shares, plus the
/// rest of the table for the channel's own module to read.
#[derive(Debug, Clone)]
pub struct ChannelSpec {
    pub name: String,
    pub kind: String,
    pub require_approval: bool,
    /// Sends per minute at most (the network's or the partner's limit).
    pub max_per_minute: Option<u32>,
    /// Posting slots ("Mon-Fri 09:30") for items that ask for the next free slot.
    pub slots: Vec<String>,
    pub options: toml::Table,
    /// Where the table is, for error messages.
    pub location: Location,
    pub kind_location: Location,
}

impl Default for Daemon {
    fn default() -> Self {
        Daemon {
            listen: default_listen(),
            data_dir: default_data_dir(),
            public_url: String::new(),
            public_url_given: false,
            grace_minutes: default_grace_minutes(),
            lease_seconds: default_lease_seconds(),
            retry_base_seconds: default_retry_base(),
            retry_max_seconds: default_retry_max(),
            max_attempts: default_max_attempts(),
            concurrency: default_concurrency(),
            keep_history_months: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    organisation: Organisation,
    /// Optional: `check` and `preview` serve nothing, and the daemon has
    /// a default for everything.
    #[serde(default)]
    daemon: Daemon,
    #[serde(default)]
    content: ContentDirs,
    #[serde(default)]
    lint: LintOptions,
    #[serde(default)]
    auth: Auth,
    #[serde(default)]
    console: ConsoleOptions,
    #[serde(default)]
    store: StoreOptions,
    #[serde(default)]
    channels: BTreeMap<String, toml::Table>,
}

impl Config {
    /// Reads and parses the file, reporting every problem it can find.
    pub fn load(path: &Path, report: &mut Report) -> Option<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                report.error(
                    Location::Path {
                        path: path.to_path_buf(),
                    },
                    format!("cannot read the configuration: {e}"),
                );
                return None;
            }
        };
        Self::parse(SourceFile::new(path, text), report)
    }

    pub fn parse(source: SourceFile, report: &mut Report) -> Option<Config> {
        let raw: RawConfig = match toml::from_str(&source.text) {
            Ok(r) => r,
            Err(e) => {
                let (loc, msg) = source.toml_error(&e);
                report.error(loc, msg);
                return None;
            }
        };
        let mut daemon = raw.daemon;
        daemon.public_url_given = !daemon.public_url.is_empty();
        if !daemon.public_url_given {
            daemon.public_url = format!("http://{}", daemon.listen);
        }
        let spans = channel_spans(&source.text);
        let mut channels = Vec::new();
        for (name, table) in raw.channels {
            let (at, kind_at) = spans.get(&name).cloned().unwrap_or_default();
            let located = Located {
                table: source.span(&at),
                kind: kind_at.map_or_else(|| source.span(&at), |k| source.span(&k)),
            };
            if let Some(spec) = channel_spec(name, table, located, report) {
                channels.push(spec);
            }
        }
        Some(Config {
            path: source.path,
            organisation: raw.organisation,
            daemon,
            content: raw.content,
            lint: raw.lint,
            auth: raw.auth,
            console: raw.console,
            store: raw.store,
            channels,
        })
    }

    /// The folder that relative paths in the file are relative to.
    pub fn base_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) => p.to_path_buf(),
            None => PathBuf::new(),
        }
    }

    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir().join(p)
        }
    }

    pub fn campaigns_dir(&self) -> PathBuf {
        self.resolve(&self.content.campaigns)
    }

    pub fn templates_dir(&self) -> PathBuf {
        self.resolve(&self.content.templates)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.resolve(&self.daemon.data_dir)
    }

    pub fn spec(&self, channel: &str) -> Option<&ChannelSpec> {
        self.channels.iter().find(|c| c.name == channel)
    }
}

/// Where a channel's table and its `kind` value are in the file.
struct Located {
    table: Location,
    kind: Location,
}

type Span = std::ops::Range<usize>;

/// Spans of each `[channels.<name>]` key and its `kind` value. Parsing the
/// document a second time with toml's span-keeping tree is cheaper to read
/// than threading spans through the typed configuration.
fn channel_spans(text: &str) -> BTreeMap<String, (Span, Option<Span>)> {
    use toml::de::{DeTable, DeValue};
    let mut out = BTreeMap::new();
    let Ok(doc) = DeTable::parse(text) else {
        return out;
    };
    let doc = doc.into_inner();
    let Some(channels) = doc.get("channels") else {
        return out;
    };
    if let DeValue::Table(channels) = channels.get_ref() {
        for (name, table) in channels {
            let kind = match table.get_ref() {
                DeValue::Table(t) => t.get("kind").map(|k| k.span()),
                _ => None,
            };
            out.insert(name.get_ref().to_string(), (name.span(), kind));
        }
    }
    out
}

fn channel_spec(
    name: String,
    mut options: toml::Table,
    at: Located,
    report: &mut Report,
) -> Option<ChannelSpec> {
    let location = at.table;
    if !valid_channel_name(&name) {
        report.error(
            location,
            format!("channel name `{name}` may use only a-z, 0-9, '-' and '_'"),
        );
        return None;
    }
    let kind = match options.remove("kind") {
        Some(toml::Value::String(k)) => k,
        Some(_) => {
            report.error(at.kind, format!("channels.{name}.kind must be a string"));
            return None;
        }
        None => {
            report.error(
                location,
                format!("channels.{name} has no `kind` (e.g. kind = \"feed\")"),
            );
            return None;
        }
    };
    let require_approval = match options.remove("require_approval") {
        None => false,
        Some(toml::Value::Boolean(b)) => b,
        Some(_) => {
            report.error(
                location,
                format!("channels.{name}.require_approval must be true or false"),
            );
            return None;
        }
    };
    let max_per_minute = match options.remove("max_per_minute") {
        None => None,
        Some(toml::Value::Integer(n)) if n > 0 && n <= i64::from(u32::MAX) => Some(n as u32),
        Some(_) => {
            report.error(
                location,
                format!("channels.{name}.max_per_minute must be a positive whole number"),
            );
            return None;
        }
    };
    let slots = match options.remove("slots") {
        None => Vec::new(),
        Some(toml::Value::Array(a)) if a.iter().all(|v| v.is_str()) => a
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(_) => {
            report.error(
                location,
                format!("channels.{name}.slots must be a list like [\"Mon-Fri 09:30\"]"),
            );
            return None;
        }
    };
    if let Err(e) = (!slots.is_empty())
        .then(|| crier_schedule::Slots::parse(&slots))
        .transpose()
    {
        report.error(location, format!("channels.{name}.slots: {e}"));
        return None;
    }
    Some(ChannelSpec {
        name,
        kind,
        require_approval,
        max_per_minute,
        slots,
        options,
        location,
        kind_location: at.kind,
    })
}

fn valid_channel_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn de_timezone<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<Tz>().map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown timezone `{s}` (use an IANA name such as Europe/London)"
        ))
    })
}

fn de_colour<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    let hex = s.strip_prefix('#').unwrap_or("");
    if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(Some(s.to_ascii_lowercase()))
    } else {
        Err(serde::de::Error::custom(format!(
            "colour `{s}` is not a colour like #1d70b8"
        )))
    }
}

fn default_timezone() -> Tz {
    chrono_tz::Europe::London
}
fn default_language() -> String {
    "en-GB".into()
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_grace_minutes() -> u64 {
    60
}
fn default_lease_seconds() -> u64 {
    300
}
fn default_retry_base() -> u64 {
    30
}
fn default_retry_max() -> u64 {
    3600
}
fn default_max_attempts() -> u32 {
    8
}
fn de_months<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match u32::deserialize(d)? {
        0 => Err(serde::de::Error::custom(
            "keep_history_months must be at least 1 (leave it out to keep everything)",
        )),
        n => Ok(Some(n)),
    }
}

fn default_concurrency() -> usize {
    8
}
fn default_campaigns() -> PathBuf {
    PathBuf::from("campaigns")
}
fn default_templates() -> PathBuf {
    PathBuf::from("templates")
}
fn default_max_emoji() -> usize {
    3
}

#[cfg(test)]
mod tests;
