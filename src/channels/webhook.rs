//! A generic webhook for partners' own systems: a JSON document describing
//! the item, signed with HMAC-SHA256 over the body.

use serde::Deserialize;
use serde_json::json;

use super::registry::Kind;
use super::{https_option, options, Channel, Family, Findings, Rendered};
use crate::config::ChannelSpec;
use crate::content::{Details, Item};
use crate::render::Variant;
use crate::secret::SecretRef;

pub const KIND: Kind = Kind {
    name: "webhook",
    build,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    url: String,
    /// Shared secret for the signature header.
    signing_secret_env: SecretRef,
}

struct Webhook {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec) -> Result<Box<dyn Channel>, String> {
    let options: Options = options(spec)?;
    https_option(spec, "url", &options.url)?;
    Ok(Box::new(Webhook {
        name: spec.name.clone(),
        options,
    }))
}

impl Channel for Webhook {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        KIND.name
    }
    fn family(&self) -> Family {
        Family::Document
    }
    fn secrets(&self) -> Vec<&SecretRef> {
        vec![&self.options.signing_secret_env]
    }
    fn shape(&self, item: &Item, rendered: Rendered, _findings: &mut Findings) -> Variant {
        let text = rendered.text.unwrap_or_default();
        let mut v = Variant::document(&item.id, &self.name, KIND.name, text.clone());
        let event = match &item.details {
            Details::Event(e) => serde_json::to_value(e).ok(),
            _ => None,
        };
        v.payload = Some(json!({
            "id": item.id,
            "kind": item.kind,
            "title": item.title,
            "summary": item.summary,
            "text": text,
            "body_markdown": item.body,
            "link": item.link,
            "published_at": item.at,
            "hashtags": item.hashtags,
            "topics": item.topics,
            "event": event,
        }));
        v
    }
}
