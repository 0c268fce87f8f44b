//! LinkedIn: a post whose commentary is in the escaped "little" text format,
//! with an optional image (Images API) carrying its alt text.
//!
//! The Posts API has no idempotency key: as for X, an answer that never came
//! makes the delivery uncertain rather than a retry.

mod publish;

use serde::Deserialize;
use serde_json::json;

use super::registry::Kind;
use super::{https_option, options, Channel, Family, Findings, Publisher, Rendered};
use crate::channels::shape::{shape_post, PostRules};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::secret::SecretRef;
use crate::variant::Variant;

pub const KIND: Kind = Kind {
    name: "linkedin",
    family: Family::Social,
    build,
    hooks: &super::registry::NoHooks,
    example: Some(example),
};

/// `crier init`'s table (see [`Kind::example`]).
fn example(name: &str) -> String {
    let token = super::registry::env_var(name, "token");
    format!(
        r#"# A LinkedIn organisation page. CHANGE author to your page's URN.
[channels.{name}]
kind = "linkedin"
author = "urn:li:organization:10000000"
token_env = "{token}"
"#
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// `urn:li:organization:123` or `urn:li:person:abc`.
    author: String,
    token_env: SecretRef,
    /// The `LinkedIn-Version` header, YYYYMM.
    #[serde(default = "default_version")]
    version: String,
    #[serde(default = "default_api")]
    api: String,
}

fn default_version() -> String {
    "202511".into()
}
fn default_api() -> String {
    "https://api.linkedin.com".into()
}

struct LinkedIn {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    let options: Options = options(spec)?;
    https_option(spec, "api", &options.api)?;
    if !(options.author.starts_with("urn:li:organization:")
        || options.author.starts_with("urn:li:person:"))
    {
        return Err(format!(
            "channels.{}.author must be urn:li:organization:<id> or urn:li:person:<id>",
            spec.name
        ));
    }
    if options.version.len() != 6 || !options.version.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("channels.{}.version must be YYYYMM", spec.name));
    }
    let api = options.api.trim_end_matches('/').to_string();
    Ok(Box::new(LinkedIn {
        name: spec.name.clone(),
        options: Options { api, ..options },
    }))
}

impl Channel for LinkedIn {
    fn secrets(&self) -> Vec<&SecretRef> {
        vec![&self.options.token_env]
    }
    fn publisher(&self) -> &dyn Publisher {
        self
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let counter = crier_text::linkedin::LinkedInCounter;
        let rules = PostRules {
            counter: &counter,
            threads: false,
            max_images: 1,
        };
        let text = rendered.text.unwrap_or_default();
        let mut v = shape_post(item, &self.name, KIND.name, text, rules, findings);
        v.payload = Some(json!({
            "author": self.options.author,
            "commentary": crier_text::linkedin::to_little(&v.text),
        }));
        v
    }
}
