//! Facebook Pages: a post on the page's feed with the item's link, or a
//! photo post (the image uploaded with its alt text, the text as caption).
//!
//! Graph has no idempotency key: as for X, an answer that never came makes
//! the delivery uncertain rather than a retry.

mod graph;
mod publish;

use serde::Deserialize;
use serde_json::json;

use super::registry::Kind;
use super::{https_option, options, Channel, Family, Findings, Publisher, Rendered};
use crate::channels::shape::{shape_post, Chars, PostRules};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::secret::SecretRef;
use crate::variant::Variant;

pub const KIND: Kind = Kind {
    name: "facebook",
    family: Family::Social,
    build,
    hooks: &super::registry::NoHooks,
    example: Some(example),
};

/// `crier init`'s table (see [`Kind::example`]).
fn example(name: &str) -> String {
    let token = super::registry::env_var(name, "page_token");
    format!(
        r#"# A Facebook Page. CHANGE page_id to your Page's id.
[channels.{name}]
kind = "facebook"
page_id = "100000000000000"
page_token_env = "{token}"
"#
    )
}

/// Graph API's documented maximum for a post's message.
const MESSAGE_LIMIT: usize = 63_206;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    page_id: String,
    page_token_env: SecretRef,
    #[serde(default = "default_api")]
    api: String,
}

fn default_api() -> String {
    "https://graph.facebook.com/v21.0".into()
}

struct Facebook {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    let options: Options = options(spec)?;
    https_option(spec, "api", &options.api)?;
    if options.page_id.is_empty() || !options.page_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "channels.{}.page_id must be the page's numeric id",
            spec.name
        ));
    }
    let api = options.api.trim_end_matches('/').to_string();
    Ok(Box::new(Facebook {
        name: spec.name.clone(),
        options: Options { api, ..options },
    }))
}

impl Channel for Facebook {
    fn secrets(&self) -> Vec<&SecretRef> {
        vec![&self.options.page_token_env]
    }
    fn publisher(&self) -> &dyn Publisher {
        self
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let counter = Chars::new(MESSAGE_LIMIT);
        let rules = PostRules {
            counter: &counter,
            threads: false,
            max_images: 1,
        };
        let text = rendered.text.unwrap_or_default();
        let mut v = shape_post(item, &self.name, KIND.name, text, rules, findings);
        v.payload = Some(json!({ "page_id": self.options.page_id, "link": item.link }));
        v
    }
}
