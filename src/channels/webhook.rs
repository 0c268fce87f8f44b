//! A generic webhook for partners' own systems: a JSON document describing
//! the item, signed with HMAC-SHA256 over the body.
//!
//! The signature scheme partners verify is documented in `docs/webhooks.md`;
//! change the two together.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use super::registry::Kind;
use super::{
    http, https_option, options, Channel, Family, Findings, Job, PublishError, Publisher,
    Reconciled, Rendered, Services,
};
use crate::config::{ChannelSpec, Organisation};
use crate::content::{Details, Item};
use crate::delivery::Receipt;
use crate::secret::{Secret, SecretRef};
use crate::variant::Variant;

pub const KIND: Kind = Kind {
    name: "webhook",
    family: Family::Document,
    build,
    hooks: &super::registry::NoHooks,
    example: Some(example),
};

/// `crier init`'s table (see [`Kind::example`]).
fn example(name: &str) -> String {
    let secret = super::registry::env_var(name, "signing_secret");
    format!(
        r#"# A partner's system: each item POSTed as signed JSON (HMAC-SHA256).
# CHANGE the url to the partner's endpoint.
[channels.{name}]
kind = "webhook"
url = "https://partners.example.org/hooks/crier"
signing_secret_env = "{secret}"
"#
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    url: String,
    /// Shared secret for the signature header.
    signing_secret_env: SecretRef,
    /// How long to wait for the partner's answer before the delivery
    /// becomes uncertain.
    #[serde(default = "default_timeout_seconds")]
    timeout_seconds: u64,
}

fn default_timeout_seconds() -> u64 {
    30
}

struct Webhook {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    let options: Options = options(spec)?;
    https_option(spec, "url", &options.url)?;
    if !(1..=300).contains(&options.timeout_seconds) {
        return Err(format!(
            "channels.{}.timeout_seconds must be between 1 and 300",
            spec.name
        ));
    }
    Ok(Box::new(Webhook {
        name: spec.name.clone(),
        options,
    }))
}

impl Channel for Webhook {
    fn secrets(&self) -> Vec<&SecretRef> {
        vec![&self.options.signing_secret_env]
    }
    fn publisher(&self) -> &dyn Publisher {
        self
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

/// Header names partners read; see `docs/webhooks.md`.
const DELIVERY_HEADER: &str = "X-Crier-Delivery";
const TIMESTAMP_HEADER: &str = "X-Crier-Timestamp";
const SIGNATURE_HEADER: &str = "X-Crier-Signature";

/// `sha256=<hex>` of HMAC-SHA256 over `"<timestamp>.<body>"`. The timestamp
/// is signed with the body so a captured request cannot be replayed later
/// with a fresh timestamp.
fn signature(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The request body: the stored payload plus the delivery's idempotency key,
/// which partners use to drop a repeat.
fn body(variant: &Variant, key: &str) -> Result<Vec<u8>, PublishError> {
    let mut payload = match &variant.payload {
        Some(serde_json::Value::Object(map)) => map.clone(),
        // Shaping always makes an object; anything else is a stored variant
        // this version cannot send, and sending again will not change that.
        _ => {
            return Err(PublishError::permanent(
                "the stored webhook variant has no JSON object payload".into(),
            ))
        }
    };
    payload.insert("delivery_id".into(), key.into());
    serde_json::to_vec(&payload)
        .map_err(|e| PublishError::permanent(format!("cannot encode the payload: {e}")))
}

/// An `id` and `url` the partner may return; both optional.
fn receipt(answer: &str, key: &str) -> Receipt {
    let json: serde_json::Value = serde_json::from_str(answer).unwrap_or_default();
    let remote_id = match json.get("id") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Receipt {
        remote_id: remote_id.or_else(|| Some(key.to_string())),
        remote_url: json.get("url").and_then(|u| u.as_str()).map(str::to_string),
    }
}

#[async_trait]
impl Publisher for Webhook {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        // The error names the variable, never a value.
        let secret = self
            .options
            .signing_secret_env
            .resolve()
            .map_err(|e| PublishError::credentials(e.to_string()))?;
        let key = job.delivery.idempotency_key();
        let body = body(job.variant, &key)?;
        let timestamp = services.clock.now().timestamp();
        let request = services
            .http
            .post(&self.options.url)
            .timeout(Duration::from_secs(self.options.timeout_seconds))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, &key)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(&secret, timestamp, &body))
            .body(body);
        let response = http::send(request, services.clock.as_ref()).await?;
        // A 2xx means the partner has it, whatever happens to the rest of
        // the answer: an unreadable body only costs the optional id.
        let answer = http::read_text(response).await.unwrap_or_default();
        Ok(receipt(&answer, &key))
    }

    /// A generic webhook offers no way to ask whether a delivery arrived, so
    /// an interrupted one is left for a person (who can ask the partner;
    /// partners drop repeats by `delivery_id` if it is resent).
    async fn reconcile(&self, _job: &Job<'_>, _services: &Services) -> Reconciled {
        Reconciled::Unknown
    }
}
