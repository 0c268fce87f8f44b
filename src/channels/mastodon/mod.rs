//! Mastodon: statuses, threads as reply chains. The limit is per instance.
//!
//! `publish.rs` posts (with one `Idempotency-Key` per part of a delivery, the
//! same on every attempt), `media.rs` uploads images with their alt text.
//! The limit counted by `check`/`preview` is `max_characters` from
//! channels.toml; `crier channels test` reads the instance's real limits and
//! says when the configured one differs.

mod media;
mod publish;

use serde::Deserialize;
use serde_json::json;

use super::registry::Kind;
use super::{https_option, options, Channel, Family, Findings, Publisher, Rendered};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::render::post::{shape_post, PostRules};
use crate::render::Variant;
use crate::secret::SecretRef;

pub const KIND: Kind = Kind {
    name: "mastodon",
    build,
};

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
    /// The instance's `configuration.statuses.max_characters`.
    #[serde(default = "default_max_characters")]
    max_characters: usize,
    #[serde(default = "default_url_length")]
    characters_reserved_per_url: usize,
    #[serde(default = "default_max_media")]
    max_media_attachments: usize,
    #[serde(default)]
    visibility: Visibility,
}

fn default_max_characters() -> usize {
    500
}
fn default_url_length() -> usize {
    23
}
fn default_max_media() -> usize {
    4
}

struct Mastodon {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    let options: Options = options(spec)?;
    https_option(spec, "instance", &options.instance)?;
    Ok(Box::new(Mastodon {
        name: spec.name.clone(),
        options,
    }))
}

impl Channel for Mastodon {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        KIND.name
    }
    fn family(&self) -> Family {
        Family::Social
    }
    fn secrets(&self) -> Vec<&SecretRef> {
        vec![&self.options.token_env]
    }
    fn publisher(&self) -> Option<&dyn Publisher> {
        Some(self)
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let counter = crier_text::mastodon::MastodonCounter {
            limit: self.options.max_characters,
            url_length: self.options.characters_reserved_per_url,
        };
        let rules = PostRules {
            counter: &counter,
            threads: true,
            max_images: self.options.max_media_attachments,
        };
        let text = rendered.text.unwrap_or_default();
        let mut v = shape_post(item, &self.name, KIND.name, text, rules, findings);
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
