//! Slack incoming webhooks: a message with a header and mrkdwn sections.
//!
//! Slack answers a webhook with a bare word: `ok`, or an error code such as
//! `invalid_blocks` (400), `invalid_token` (403), `no_service` (404),
//! `channel_is_archived` (410). It gives no message id, so the receipt is
//! empty, and there is no idempotency key and no read-only check.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::registry::Kind;
use super::shape::{shape_post, Chars, PostRules};
use super::{
    chat_webhook, options, Channel, Family, Findings, Job, PublishError, Publisher, Rendered,
    Services,
};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::delivery::Receipt;
use crate::secret::SecretRef;
use crate::variant::Variant;

pub const KIND: Kind = Kind {
    name: "slack",
    family: Family::Chat,
    build,
    hooks: &super::registry::NoHooks,
    example: Some(example),
};

/// `crier init`'s table (see [`Kind::example`]).
fn example(name: &str) -> String {
    let url = super::registry::env_var(name, "webhook_url");
    format!(
        r#"# A Slack channel, through an incoming webhook (the URL is the secret).
[channels.{name}]
kind = "slack"
webhook_url_env = "{url}"
"#
    )
}

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
    fn secrets(&self) -> Vec<&SecretRef> {
        vec![&self.options.webhook_url_env]
    }
    fn publisher(&self) -> &dyn Publisher {
        self
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

/// Slack's codes that mean the webhook URL itself is dead (revoked, or its
/// app or workspace removed): a person must set a new URL, so the channel is
/// held for credentials rather than each delivery failing one by one.
const DEAD_HOOK: &[&str] = &["invalid_token", "no_service", "no_team", "team_disabled"];

/// `http::classify` reads most answers right; Slack's dead-hook codes come
/// with 404/410 too, which would otherwise read as a refused post.
fn reclassify(e: PublishError) -> PublishError {
    match e {
        // The code is Slack's whole answer, so it ends the message.
        PublishError::Permanent { message, status }
            if DEAD_HOOK.iter().any(|code| message.ends_with(code)) =>
        {
            PublishError::Credentials {
                message: format!("{message} (the webhook URL no longer works)"),
                status,
            }
        }
        other => other,
    }
}

#[async_trait]
impl Publisher for Slack {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        chat_webhook::post_accepted(&self.options.webhook_url_env, job, services, reclassify)
            .await?;
        // A 2xx means posted; the answer carries nothing worth keeping.
        Ok(Receipt::default())
    }

    async fn check(&self, _services: &Services) -> Result<String, PublishError> {
        chat_webhook::unverifiable(&self.options.webhook_url_env, "Slack")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::http;

    #[test]
    fn dead_hook_codes_are_credentials_and_refusals_stay_permanent() {
        let refused = |code: u16, body: &str| {
            let status = reqwest::StatusCode::from_u16(code).unwrap();
            let now = chrono::Utc::now();
            http::classify(status, &Default::default(), body, now).unwrap_err()
        };
        let e = reclassify(refused(404, "no_service"));
        assert!(matches!(
            e,
            PublishError::Credentials {
                status: Some(404),
                ..
            }
        ));
        let e = reclassify(refused(410, "channel_is_archived"));
        assert!(matches!(
            e,
            PublishError::Permanent {
                status: Some(410),
                ..
            }
        ));
    }
}
