//! Every channel kind crier knows, one line each, and what a kind adds to
//! the daemon and the command line beyond its channels ([`KindHooks`]).

use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;

use super::import::{ImportRefused, ImportRequest, Imported};
use super::{Channel, Family, Services};
use crate::config::{ChannelSpec, Config, Organisation};
use crate::delivery::{Delivery, Progress};
use crate::diagnostics::Report;
use crate::store::{ChannelStore, StoreError};

/// Builds a channel from its table; the organisation gives defaults
/// (website, name, language) a channel may need.
pub type Build = fn(&ChannelSpec, &Organisation) -> Result<Box<dyn Channel>, String>;

/// A channel kind: its name in `channels.toml`, the family its templates
/// fall back to, how to build one, and what the kind as a whole adds.
pub struct Kind {
    pub name: &'static str,
    pub family: Family,
    pub build: Build,
    pub hooks: &'static dyn KindHooks,
    /// A commented `[channels.<name>]` table for a channel of this kind,
    /// written by `crier init`: placeholders that pass `check`, secrets
    /// only as environment variable names ([`env_var`]). `None`: the kind
    /// needs no options (its table is just `kind = ...`).
    pub example: Option<Example>,
}

/// See [`Kind::example`]: the channel's name gives the table's.
pub type Example = fn(name: &str) -> String;

/// The environment variable a channel's example names for one secret:
/// `CRIER_<CHANNEL>_<WHAT>`, e.g. `CRIER_NEWS_EMAIL_PASSWORD`.
pub fn env_var(channel: &str, what: &str) -> String {
    let upper = |s: &str| s.to_uppercase().replace(['-', '.', ' '], "_");
    format!("CRIER_{}_{}", upper(channel), upper(what))
}

/// What a kind contributes once, however many channels of it are
/// configured (none included), so a URL or a command never depends on
/// how many there are. Per-channel hooks are [`Channel`]'s.
#[async_trait]
pub trait KindHooks: Sync {
    /// Routes the daemon serves for the kind as a whole (the feeds'
    /// `/feeds/{file}`, for the files no feed's own route names), mounted
    /// once, before the channels' ([`Channel::routes`]).
    fn routes(&self, _services: &Services) -> Option<axum::Router> {
        None
    }

    /// Errors in how the kind's channels fit together (two feeds with one
    /// path), reported when the configuration is loaded: `crier check`
    /// shows them, and a start or a reload is refused on them before
    /// anything is mounted.
    fn check_channels(&self, _config: &Config, _report: &mut Report) {}

    /// Lines the kind adds to `/metrics` (Prometheus text, with their own
    /// HELP and TYPE).
    async fn metrics(&self, _store: &dyn ChannelStore) -> Result<String, StoreError> {
        Ok(String::new())
    }

    /// For a kind that sends one delivery to many recipients, how far
    /// `delivery` got (`crier queue show`), and with `pending` how many are
    /// still owed it (`--follow`); `None`: not such a delivery of this kind.
    async fn recipients(
        &self,
        _delivery: &Delivery,
        _store: &dyn ChannelStore,
        _pending: bool,
    ) -> Result<Option<(Progress, Option<u64>)>, StoreError> {
        Ok(None)
    }

    /// Whether the kind's channels keep subscriber lists (personal data
    /// that an erasure must reach).
    fn keeps_lists(&self) -> bool {
        false
    }

    /// Adds the subscribers of a CSV file to the list of `request.channel`
    /// (a channel of this kind in `config`), with the kind's checks and
    /// consent rules; for a kind that [`keeps_lists`](Self::keeps_lists).
    /// The CLI and the API both call it.
    async fn import(
        &self,
        _config: &Config,
        _store: &dyn ChannelStore,
        _request: ImportRequest,
    ) -> Result<Imported, ImportRefused> {
        Err(ImportRefused::Unavailable(
            "this channel keeps no list".into(),
        ))
    }

    /// A `crier` subcommand the kind adds (built with clap's builder API).
    fn command(&self) -> Option<clap::Command> {
        None
    }

    /// Runs that subcommand: `matches` are its own; the store is opened
    /// from `config` (content may be mid-edit, so only the configuration
    /// is read), and the daemon is woken afterwards by the caller.
    async fn run(
        &self,
        _matches: &clap::ArgMatches,
        _config: Config,
        _store: Arc<dyn ChannelStore>,
    ) -> anyhow::Result<ExitCode> {
        anyhow::bail!("this channel kind has no command")
    }
}

/// A kind that adds nothing beyond its channels.
pub struct NoHooks;

impl KindHooks for NoHooks {}

pub const KINDS: &[Kind] = &[
    super::email::KIND,
    super::feed::KIND,
    super::mastodon::KIND,
    super::bluesky::KIND,
    super::x::KIND,
    super::facebook::KIND,
    super::linkedin::KIND,
    super::slack::KIND,
    super::teams::KIND,
    super::discord::KIND,
    super::webhook::KIND,
    super::discard::KIND,
];

pub fn find(kind: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == kind)
}

pub fn names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}

/// The subcommands the kinds add, for `crier`'s parser.
pub fn commands() -> Vec<clap::Command> {
    KINDS.iter().filter_map(|k| k.hooks.command()).collect()
}

/// The kind whose subcommand `name` is.
pub fn command_of(name: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .find(|k| k.hooks.command().is_some_and(|c| c.get_name() == name))
}

/// Every kind's routes (see [`KindHooks::routes`]).
pub fn routes(services: &Services) -> Vec<axum::Router> {
    KINDS
        .iter()
        .filter_map(|k| k.hooks.routes(services))
        .collect()
}

/// Every kind's [`KindHooks::check_channels`].
pub fn check_channels(config: &Config, report: &mut Report) {
    for kind in KINDS {
        kind.hooks.check_channels(config, report);
    }
}

/// Every kind's `/metrics` lines, in registry order.
pub async fn metrics(store: &dyn ChannelStore) -> Result<String, StoreError> {
    let mut out = String::new();
    for kind in KINDS {
        out += &kind.hooks.metrics(store).await?;
    }
    Ok(out)
}

/// The first kind's answer to [`KindHooks::recipients`].
pub async fn recipients(
    delivery: &Delivery,
    store: &dyn ChannelStore,
    pending: bool,
) -> Result<Option<(Progress, Option<u64>)>, StoreError> {
    for kind in KINDS {
        if let Some(found) = kind.hooks.recipients(delivery, store, pending).await? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    /// Each kind's example is a table of its own kind whose secrets are
    /// environment variable names derived from the channel's name.
    #[test]
    fn examples_are_tables_of_their_kind_naming_env_vars() {
        for kind in super::KINDS {
            let Some(example) = kind.example else {
                continue;
            };
            let table: toml::Table = example("my-chan").parse().expect(kind.name);
            let options = table["channels"]["my-chan"].as_table().expect(kind.name);
            assert_eq!(options["kind"].as_str(), Some(kind.name));
            for (key, value) in options.iter().filter(|(k, _)| k.ends_with("_env")) {
                let var = value.as_str().expect(key);
                assert!(var.starts_with("CRIER_MY_CHAN_"), "{}: {var}", kind.name);
            }
        }
    }
}
