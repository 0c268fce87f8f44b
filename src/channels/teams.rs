//! Microsoft Teams through a Workflows webhook: an Adaptive Card.

use serde::Deserialize;
use serde_json::json;

use super::registry::Kind;
use super::{options, Channel, Family, Findings, Rendered};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::render::post::{shape_post, PostRules};
use crate::render::Variant;
use crate::secret::SecretRef;

pub const KIND: Kind = Kind {
    name: "teams",
    build,
};

/// Teams refuses messages over about 28 KB; keep the text well inside it
/// so the card's own JSON fits too.
const TEXT_BYTES: usize = 24_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    webhook_url_env: SecretRef,
}

struct Teams {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    Ok(Box::new(Teams {
        name: spec.name.clone(),
        options: options(spec)?,
    }))
}

struct Bytes;

impl crier_text::Counter for Bytes {
    fn count(&self, text: &str) -> usize {
        text.len()
    }
    fn limit(&self) -> usize {
        TEXT_BYTES
    }
    fn unit(&self) -> &'static str {
        "bytes"
    }
}

impl Channel for Teams {
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
        let rules = PostRules {
            counter: &Bytes,
            threads: false,
            max_images: 1,
        };
        let text = rendered.text.unwrap_or_default();
        let mut v = shape_post(item, &self.name, KIND.name, text, rules, findings);
        let body = vec![
            json!({ "type": "TextBlock", "text": item.title, "weight": "Bolder", "size": "Medium", "wrap": true }),
            json!({ "type": "TextBlock", "text": v.text, "wrap": true }),
        ];
        let actions: Vec<_> = item
            .link
            .iter()
            .map(|url| json!({ "type": "Action.OpenUrl", "title": "Read more", "url": url }))
            .collect();
        v.payload = Some(json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": actions,
                }
            }]
        }));
        v
    }
}
