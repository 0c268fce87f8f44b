//! Discord webhooks: messages of at most 2,000 characters; a longer text is
//! sent as consecutive messages. Mentions are disabled so a post can never
//! ping @everyone.

use serde::Deserialize;
use serde_json::json;

use super::registry::Kind;
use super::{options, Channel, Family, Findings, Rendered};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::render::post::{shape_post, Chars, PostRules};
use crate::render::Variant;
use crate::secret::SecretRef;

pub const KIND: Kind = Kind {
    name: "discord",
    build,
};

const CONTENT_LIMIT: usize = 2_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// `https://discord.com/api/webhooks/{id}/{token}`: the URL is the secret.
    webhook_url_env: SecretRef,
    username: Option<String>,
}

struct Discord {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    Ok(Box::new(Discord {
        name: spec.name.clone(),
        options: options(spec)?,
    }))
}

impl Channel for Discord {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        KIND.name
    }
    fn family(&self) -> Family {
        Family::Chat
    }
    fn secrets(&self) -> Vec<&SecretRef> {
        vec![&self.options.webhook_url_env]
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let counter = Chars::new(CONTENT_LIMIT);
        let rules = PostRules {
            counter: &counter,
            threads: true,
            max_images: 10,
        };
        let text = rendered.text.unwrap_or_default();
        let mut v = shape_post(item, &self.name, KIND.name, text, rules, findings);
        v.payload = Some(json!({
            "username": self.options.username,
            "allowed_mentions": { "parse": [] },
        }));
        v
    }
}
