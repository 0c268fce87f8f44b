//! X: 280 weighted characters (twitter-text v3), threads as reply chains.

use serde::Deserialize;

use super::registry::Kind;
use super::{options, Channel, Family, Findings, Rendered};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::render::post::{shape_post, PostRules};
use crate::render::Variant;
use crate::secret::SecretRef;

pub const KIND: Kind = Kind { name: "x", build };

/// OAuth 1.0a user context (four secrets) or an OAuth 2.0 user token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    consumer_key_env: Option<SecretRef>,
    consumer_secret_env: Option<SecretRef>,
    access_token_env: Option<SecretRef>,
    access_token_secret_env: Option<SecretRef>,
    client_id_env: Option<SecretRef>,
    #[serde(default = "default_api")]
    api: String,
}

fn default_api() -> String {
    "https://api.x.com".into()
}

struct X {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    let options: Options = options(spec)?;
    let oauth1 = [
        &options.consumer_key_env,
        &options.consumer_secret_env,
        &options.access_token_env,
        &options.access_token_secret_env,
    ];
    let set = oauth1.iter().filter(|s| s.is_some()).count();
    if set != 0 && set != 4 {
        return Err(format!(
            "channels.{}: OAuth 1.0a needs all four of consumer_key_env, consumer_secret_env, access_token_env and access_token_secret_env",
            spec.name
        ));
    }
    if set == 0 && options.client_id_env.is_none() {
        return Err(format!(
            "channels.{}: give OAuth 1.0a secrets (consumer_key_env, ...) or an OAuth 2.0 client_id_env",
            spec.name
        ));
    }
    super::https_option(spec, "api", &options.api)?;
    Ok(Box::new(X {
        name: spec.name.clone(),
        options,
    }))
}

impl Channel for X {
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
        let o = &self.options;
        [
            &o.consumer_key_env,
            &o.consumer_secret_env,
            &o.access_token_env,
            &o.access_token_secret_env,
            &o.client_id_env,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let counter = crier_text::x::XCounter;
        let rules = PostRules {
            counter: &counter,
            threads: true,
            max_images: 4,
        };
        shape_post(
            item,
            &self.name,
            KIND.name,
            rendered.text.unwrap_or_default(),
            rules,
            findings,
        )
    }
}
