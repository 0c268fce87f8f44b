//! Slack incoming webhooks: a message with a header and mrkdwn sections.

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
    name: "slack",
    build,
};

/// Slack truncates a message's text beyond this many characters.
const TEXT_LIMIT: usize = 40_000;
/// A section block's text may hold at most this many characters.
const SECTION_LIMIT: usize = 3_000;
const HEADER_LIMIT: usize = 150;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// The webhook URL is itself the secret.
    webhook_url_env: SecretRef,
}

struct Slack {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    Ok(Box::new(Slack {
        name: spec.name.clone(),
        options: options(spec)?,
    }))
}

/// Slack's mrkdwn reserves these three characters.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Channel for Slack {
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
        let counter = Chars::new(TEXT_LIMIT);
        let rules = PostRules {
            counter: &counter,
            threads: false,
            max_images: 0,
        };
        let text = rendered.text.unwrap_or_default();
        let mut v = shape_post(item, &self.name, KIND.name, text, rules, findings);
        let header: String = item.title.chars().take(HEADER_LIMIT).collect();
        let mut blocks = vec![json!({
            "type": "header",
            "text": { "type": "plain_text", "text": header },
        })];
        let sections = crier_text::thread::split(&escape(&v.text), &Chars::new(SECTION_LIMIT));
        blocks.extend(
            sections
                .into_iter()
                .map(|s| json!({ "type": "section", "text": { "type": "mrkdwn", "text": s } })),
        );
        v.payload = Some(json!({ "text": escape(&v.text), "blocks": blocks }));
        v
    }
}
