//! Mastodon: statuses, threads as reply chains. The limit is per instance.
//!
//! `publish.rs` posts (with one `Idempotency-Key` per part of a delivery, the
//! same on every attempt), `media.rs` uploads images with their alt text.
//! Limits: the daemon (at start) and `crier channels test` read the
//! instance's own from `GET /api/v2/instance` ([`Publisher::learn`]); once
//! saved in the data folder, `check`, `preview` and planning count with
//! them. Until then, the values in channels.toml (or Mastodon's defaults).

mod media;
mod publish;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::registry::Kind;
use super::{https_option, options, Channel, Family, Findings, Learned, Publisher, Rendered};
use crate::channels::shape::{shape_post, PostRules};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::secret::SecretRef;
use crate::variant::Variant;

pub const KIND: Kind = Kind {
    name: "mastodon",
    family: Family::Social,
    build,
    hooks: &super::registry::NoHooks,
    example: Some(example),
};

/// `crier init`'s table (see [`Kind::example`]).
fn example(name: &str) -> String {
    let token = super::registry::env_var(name, "token");
    format!(
        r#"# A Mastodon account. CHANGE the instance to your account's server.
[channels.{name}]
kind = "mastodon"
instance = "https://mastodon.example"
token_env = "{token}"
# Counted against until `crier channels test {name}` (or the daemon) has
# read the instance's own limits.
max_characters = 500
"#
    )
}

#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Visibility {
    #[default]
    Public,
    Unlisted,
    Private,
    Direct,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// Base URL of the instance, e.g. `https://mastodon.social`.
    instance: String,
    token_env: SecretRef,
    /// Fallbacks for the instance's own limits, used until they have been
    /// read from it (`configuration.statuses.*`).
    max_characters: Option<usize>,
    characters_reserved_per_url: Option<usize>,
    max_media_attachments: Option<usize>,
    #[serde(default)]
    visibility: Visibility,
}

/// Mastodon's defaults, for an instance not yet asked and not configured.
const DEFAULT_MAX_CHARACTERS: usize = 500;
const DEFAULT_URL_LENGTH: usize = 23;
const DEFAULT_MAX_MEDIA: usize = 4;

/// What `GET /api/v2/instance` says about posting, as saved in the data
/// folder (see `channels::learned`). Fields the instance did not give are
/// `None` and fall back to the configured values.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
struct InstanceLimits {
    /// The instance asked: limits read from another one are not used.
    instance: String,
    max_characters: Option<usize>,
    characters_reserved_per_url: Option<usize>,
    max_media_attachments: Option<usize>,
    /// `configuration.media_attachments.image_size_limit`, bytes.
    image_size_limit: Option<u64>,
}

impl InstanceLimits {
    fn read(instance: &str, answer: &serde_json::Value) -> InstanceLimits {
        let statuses = &answer["configuration"]["statuses"];
        let number = |v: &serde_json::Value| v.as_u64().map(|n| n as usize);
        InstanceLimits {
            instance: instance.to_string(),
            max_characters: number(&statuses["max_characters"]),
            characters_reserved_per_url: number(&statuses["characters_reserved_per_url"]),
            max_media_attachments: number(&statuses["max_media_attachments"]),
            image_size_limit: answer["configuration"]["media_attachments"]["image_size_limit"]
                .as_u64(),
        }
    }
}

/// The limits shaping counts with, and where they came from.
struct Limits {
    max_characters: usize,
    url_length: usize,
    max_media: usize,
}

struct Mastodon {
    name: String,
    options: Options,
    /// The instance's limits and when they were read, once adopted.
    learned: Option<(InstanceLimits, DateTime<Utc>)>,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    let options: Options = options(spec)?;
    https_option(spec, "instance", &options.instance)?;
    Ok(Box::new(Mastodon {
        name: spec.name.clone(),
        options,
        learned: None,
    }))
}

impl Mastodon {
    fn instance_url(&self) -> &str {
        self.options.instance.trim_end_matches('/')
    }

    /// The instance's own limits where known, else channels.toml's, else
    /// Mastodon's defaults.
    fn effective(&self) -> Limits {
        let l = self.learned.as_ref().map(|(l, _)| l);
        let o = &self.options;
        Limits {
            max_characters: l
                .and_then(|l| l.max_characters)
                .or(o.max_characters)
                .unwrap_or(DEFAULT_MAX_CHARACTERS),
            url_length: l
                .and_then(|l| l.characters_reserved_per_url)
                .or(o.characters_reserved_per_url)
                .unwrap_or(DEFAULT_URL_LENGTH),
            max_media: l
                .and_then(|l| l.max_media_attachments)
                .or(o.max_media_attachments)
                .unwrap_or(DEFAULT_MAX_MEDIA),
        }
    }

    /// Where the limits come from, in words for check/preview and findings.
    fn source(&self) -> String {
        match &self.learned {
            Some((_, at)) => format!("the instance's own, fetched {}", at.format("%Y-%m-%d")),
            None => {
                let o = &self.options;
                let configured = o.max_characters.is_some()
                    || o.characters_reserved_per_url.is_some()
                    || o.max_media_attachments.is_some();
                format!(
                    "{}; `crier channels test {}` reads the instance's own",
                    if configured {
                        "from channels.toml"
                    } else {
                        "Mastodon's defaults"
                    },
                    self.name
                )
            }
        }
    }
}

impl Channel for Mastodon {
    fn secrets(&self) -> Vec<&SecretRef> {
        vec![&self.options.token_env]
    }
    fn publisher(&self) -> &dyn Publisher {
        self
    }
    fn adopt(&mut self, learned: &Learned) -> Result<(), String> {
        let limits: InstanceLimits =
            serde_json::from_value(learned.facts.clone()).map_err(|e| {
                format!("the saved instance limits are unreadable ({e}); ignoring them")
            })?;
        if limits.instance.trim_end_matches('/') != self.instance_url() {
            return Err(format!(
                "the saved limits were read from {}, not {}: run `crier channels test {}`",
                limits.instance,
                self.instance_url(),
                self.name
            ));
        }
        self.learned = Some((limits, learned.fetched_at));
        Ok(())
    }
    fn limits(&self) -> Option<String> {
        let l = self.effective();
        let mut out = format!(
            "{} characters per status (URLs count {}), {} images ({})",
            l.max_characters,
            l.url_length,
            l.max_media,
            self.source()
        );
        // A value set in channels.toml that the instance contradicts is
        // not used: say so, or the reader would believe it.
        if let Some((learned, _)) = &self.learned {
            let o = &self.options;
            let ignored: Vec<String> = [
                ("max_characters", o.max_characters, learned.max_characters),
                (
                    "characters_reserved_per_url",
                    o.characters_reserved_per_url,
                    learned.characters_reserved_per_url,
                ),
                (
                    "max_media_attachments",
                    o.max_media_attachments,
                    learned.max_media_attachments,
                ),
            ]
            .into_iter()
            .filter_map(|(field, set, real)| match (set, real) {
                (Some(set), Some(real)) if set != real => Some(format!("{field} = {set}")),
                _ => None,
            })
            .collect();
            if !ignored.is_empty() {
                out += &format!("; channels.toml's {} not used", ignored.join(", "));
            }
        }
        Some(out)
    }
    fn max_image_bytes(&self) -> Option<u64> {
        self.learned.as_ref().and_then(|(l, _)| l.image_size_limit)
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let limits = self.effective();
        let counter = crier_text::mastodon::MastodonCounter {
            limit: limits.max_characters,
            url_length: limits.url_length,
        };
        let rules = PostRules {
            counter: &counter,
            threads: true,
            max_images: limits.max_media,
        };
        let text = rendered.text.unwrap_or_default();
        let before = findings.0.len();
        let mut v = shape_post(item, &self.name, KIND.name, text, rules, findings);
        // Shaping's refusals are about limits: name whose they are.
        let source = self.source();
        for (_, message) in &mut findings.0[before..] {
            *message = format!("{message} (limits: {source})");
        }
        v.payload = Some(json!({
            "visibility": self.options.visibility,
            "language": primary_language(&item.language),
        }));
        v
    }
}

/// Mastodon takes ISO 639 codes: `en-GB` is sent as `en`.
fn primary_language(tag: &str) -> String {
    tag.split('-').next().unwrap_or(tag).to_ascii_lowercase()
}
