//! Bluesky: 300-grapheme posts with rich-text facets at UTF-8 byte offsets,
//! threads as reply chains, and a link card built from the item itself.
//!
//! Publishing: `session.rs` (one session per channel, refreshed, its refresh
//! token kept across restarts), `publish.rs` (create-only writes at keys
//! derived from the delivery, `tid.rs`), `record.rs` (facets, embeds,
//! replies), `xrpc.rs` (calls and Bluesky's named errors).

mod publish;
mod record;
mod session;
mod tid;
mod xrpc;

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
    name: "bluesky",
    family: Family::Social,
    build,
    hooks: &super::registry::NoHooks,
    example: Some(example),
};

/// `crier init`'s table (see [`Kind::example`]).
fn example(name: &str) -> String {
    let password = super::registry::env_var(name, "app_password");
    format!(
        r#"# A Bluesky account. CHANGE the identifier to your handle; use an
# app password, never the account's own.
[channels.{name}]
kind = "bluesky"
service = "https://bsky.social"
identifier = "example.bsky.social"
app_password_env = "{password}"
"#
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// The PDS, e.g. `https://bsky.social`.
    #[serde(default = "default_service")]
    service: String,
    /// Handle or DID of the account.
    identifier: String,
    app_password_env: SecretRef,
}

fn default_service() -> String {
    "https://bsky.social".into()
}

struct Bluesky {
    name: String,
    options: Options,
    /// The signed-in session, shared by every post of this channel.
    session: tokio::sync::Mutex<Option<session::Session>>,
}

impl Bluesky {
    fn xrpc(&self, method: &str) -> String {
        format!(
            "{}/xrpc/{method}",
            self.options.service.trim_end_matches('/')
        )
    }

    /// A query call's URL (reqwest's `query` feature is not enabled).
    fn xrpc_query(&self, method: &str, params: &[(&str, &str)]) -> reqwest::Url {
        reqwest::Url::parse_with_params(&self.xrpc(method), params)
            .expect("the service URL was checked when the channel was built")
    }
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    let options: Options = options(spec)?;
    https_option(spec, "service", &options.service)?;
    reqwest::Url::parse(&options.service).map_err(|e| {
        format!(
            "channels.{}.service `{}` is not a URL: {e}",
            spec.name, options.service
        )
    })?;
    Ok(Box::new(Bluesky {
        name: spec.name.clone(),
        options,
        session: tokio::sync::Mutex::new(None),
    }))
}

impl Channel for Bluesky {
    fn secrets(&self) -> Vec<&SecretRef> {
        vec![&self.options.app_password_env]
    }
    fn publisher(&self) -> &dyn Publisher {
        self
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let counter = crier_text::bluesky::BlueskyCounter;
        let rules = PostRules {
            counter: &counter,
            threads: true,
            max_images: 4,
        };
        let text = rendered.text.unwrap_or_default();
        let mut v = shape_post(item, &self.name, KIND.name, text, rules, findings);
        for part in &mut v.parts {
            let facets: Vec<_> = crier_text::bluesky::facets(&part.text)
                .iter()
                .map(record_facet)
                .collect();
            if !facets.is_empty() {
                part.annotations = Some(json!({ "facets": facets }));
            }
        }
        // A card from the item's own title and summary: never fetch remote pages.
        let card = item
            .link
            .as_ref()
            .filter(|_| item.images.is_empty())
            .map(|uri| {
                json!({
                    "uri": uri,
                    "title": item.title,
                    "description": item.summary.clone().unwrap_or_default(),
                })
            });
        v.payload = Some(json!({ "langs": [item.language], "external": card }));
        v
    }
}

/// A facet as `app.bsky.richtext.facet` records it. Mentions carry the
/// handle until the publisher resolves it to a DID.
fn record_facet(f: &crier_text::bluesky::Facet) -> serde_json::Value {
    use crier_text::bluesky::Feature;
    let feature = match &f.feature {
        Feature::Link { uri } => json!({ "$type": "app.bsky.richtext.facet#link", "uri": uri }),
        Feature::Tag { tag } => json!({ "$type": "app.bsky.richtext.facet#tag", "tag": tag }),
        Feature::Mention { handle, did } => json!({
            "$type": "app.bsky.richtext.facet#mention",
            "did": did,
            "handle": handle,
        }),
    };
    json!({
        "index": { "byteStart": f.byte_start, "byteEnd": f.byte_end },
        "features": [feature],
    })
}
