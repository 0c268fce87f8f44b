//! Discord webhooks: messages of at most 2,000 characters; a longer text is
//! sent as consecutive messages. Mentions are disabled so a post can never
//! ping @everyone. Images go with the first message as file uploads, each
//! described by its alt text; their size is checked by `check`.
//!
//! Sending is in `discord/publish.rs`.

mod publish;

use serde::Deserialize;
use serde_json::json;

use super::registry::Kind;
use super::shape::{shape_post, Chars, PostRules};
use super::{options, Channel, Family, Findings, Publisher, Rendered};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::secret::SecretRef;
use crate::variant::Variant;

pub const KIND: Kind = Kind {
    name: "discord",
    family: Family::Chat,
    build,
    hooks: &super::registry::NoHooks,
    example: Some(example),
};

/// `crier init`'s table (see [`Kind::example`]).
fn example(name: &str) -> String {
    let url = super::registry::env_var(name, "webhook_url");
    format!(
        r#"# A Discord channel, through a webhook (the URL is the secret).
[channels.{name}]
kind = "discord"
webhook_url_env = "{url}"
"#
    )
}

const CONTENT_LIMIT: usize = 2_000;
/// Discord takes at most 10 attachments per message.
const MAX_FILES: usize = 10;
/// An attachment's `description` (its alt text) is at most 1,024 characters.
const DESCRIPTION_LIMIT: usize = 1_024;
/// Discord's default upload limit per file (10 MiB); servers with boosts
/// allow more, set with `max_upload_mib`.
const DEFAULT_UPLOAD_MIB: u64 = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// `https://discord.com/api/webhooks/{id}/{token}`: the URL is the secret.
    webhook_url_env: SecretRef,
    username: Option<String>,
    /// The server's upload limit per file, in MiB (10 unless boosted).
    max_upload_mib: Option<u64>,
}

struct Discord {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    let options: Options = options(spec)?;
    if let Some(name) = &options.username {
        check_username(name).map_err(|e| format!("channels.{}.username {e}", spec.name))?;
    }
    Ok(Box::new(Discord {
        name: spec.name.clone(),
        options,
    }))
}

/// Discord refuses every message from a webhook whose username breaks these
/// rules, so they are checked with the configuration, not at send time.
fn check_username(name: &str) -> Result<(), String> {
    let lower = name.to_lowercase();
    if !(1..=80).contains(&name.chars().count()) {
        Err("must be 1 to 80 characters".into())
    } else if lower.contains("discord") || lower.contains("clyde") {
        Err("must not contain \"discord\" or \"clyde\" (Discord refuses those)".into())
    } else {
        Ok(())
    }
}

impl Channel for Discord {
    fn secrets(&self) -> Vec<&SecretRef> {
        vec![&self.options.webhook_url_env]
    }
    fn publisher(&self) -> &dyn Publisher {
        self
    }
    fn max_image_bytes(&self) -> Option<u64> {
        Some(self.options.max_upload_mib.unwrap_or(DEFAULT_UPLOAD_MIB) * 1024 * 1024)
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let counter = Chars::new(CONTENT_LIMIT);
        let rules = PostRules {
            counter: &counter,
            threads: true,
            max_images: MAX_FILES,
        };
        let text = rendered.text.unwrap_or_default();
        let mut v = shape_post(item, &self.name, KIND.name, text, rules, findings);
        for image in &item.images {
            let alt = image.alt.chars().count();
            if alt > DESCRIPTION_LIMIT {
                findings.error(format!(
                    "the alt text of image `{}` is {alt} characters; Discord takes at most {DESCRIPTION_LIMIT}",
                    image.src
                ));
            }
            if super::media::content_type(&image.src).is_none() {
                findings.error(format!(
                    "image `{}`: only PNG, JPEG, GIF and WebP files are sent to Discord",
                    image.src
                ));
            }
        }
        v.payload = Some(json!({
            "username": self.options.username,
            "allowed_mentions": { "parse": [] },
        }));
        v
    }
}
