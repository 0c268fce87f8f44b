//! Microsoft Teams through a Workflows webhook: an Adaptive Card.
//!
//! The Workflows (Power Automate) trigger answers 202 Accepted with no body
//! once it has queued the run, so there is no message id to keep. Its URL
//! carries a `sig` signature: the URL is the credential. Errors come as
//! `{"error": {"code", "message"}}`; a deleted or disabled workflow is 404.
//!
//! A card takes an image only by URL, so an item's image is served by the
//! daemon (`/media/<src>`, see `channels::media`) and the card's `Image`
//! element points there, with the alt text as `altText`. The URL is added
//! when sending, from the daemon's `public_url` at that time.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::registry::Kind;
use super::shape::{shape_post, PostRules};
use super::{
    chat_webhook, media, options, Channel, Family, Findings, Job, PublishError, Publisher,
    Rendered, Services,
};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::delivery::Receipt;
use crate::secret::SecretRef;
use crate::variant::Variant;

pub const KIND: Kind = Kind {
    name: "teams",
    family: Family::Chat,
    build,
    hooks: &super::registry::NoHooks,
    example: Some(example),
};

/// `crier init`'s table (see [`Kind::example`]).
fn example(name: &str) -> String {
    let url = super::registry::env_var(name, "webhook_url");
    format!(
        r#"# A Microsoft Teams channel, through a workflow webhook (the URL is
# the secret).
[channels.{name}]
kind = "teams"
webhook_url_env = "{url}"
"#
    )
}

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
    fn secrets(&self) -> Vec<&SecretRef> {
        vec![&self.options.webhook_url_env]
    }
    fn publisher(&self) -> &dyn Publisher {
        self
    }
    fn uses_public_url(&self) -> Option<&'static str> {
        Some("the URLs of item images in cards (Teams fetches them from the daemon)")
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let rules = PostRules {
            counter: &Bytes,
            threads: false,
            max_images: 1,
        };
        let text = rendered.text.unwrap_or_default();
        let mut v = shape_post(item, &self.name, KIND.name, text, rules, findings);
        for image in &item.images {
            if !media::servable(&image.src) {
                findings.error(format!(
                    "image `{}` cannot be shown in a Teams card: the daemon serves PNG, JPEG, \
                     GIF and WebP files whose path under the campaigns folder has only letters, \
                     digits, `-`, `_` and `.`",
                    image.src
                ));
            }
        }
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

/// A 404 from the trigger means the workflow was deleted or turned off: the
/// URL is dead and a person must make a new one, as with expired tokens.
fn reclassify(e: PublishError) -> PublishError {
    match e {
        PublishError::Permanent {
            message,
            status: status @ Some(404),
        } => PublishError::Credentials {
            message: format!(
                "{message} (the workflow behind the webhook URL is gone or turned off)"
            ),
            status,
        },
        other => other,
    }
}

/// The stored card with the item's image (if any) under the title, by its
/// URL on the daemon. A file gone since planning would show as a broken
/// image: refused instead, as retrying will not bring it back.
fn with_image(variant: &Variant, services: &Services) -> Result<Variant, PublishError> {
    let mut variant = variant.clone();
    let Some(image) = variant.images.first() else {
        return Ok(variant);
    };
    if !media::servable(&image.src) || !services.campaigns_dir.join(&image.src).is_file() {
        return Err(PublishError::permanent(format!(
            "image {} cannot be served to Teams (missing, or not a plain image path)",
            image.src
        )));
    }
    let element = json!({
        "type": "Image",
        "url": media::url(&services.public_url, &image.src),
        "altText": image.alt,
        "size": "Stretch",
    });
    let body = variant
        .payload
        .as_mut()
        .and_then(|p| p["attachments"][0]["content"]["body"].as_array_mut())
        .ok_or_else(|| {
            PublishError::permanent("the stored Teams variant has no card body".into())
        })?;
    body.insert(1.min(body.len()), element);
    Ok(variant)
}

#[async_trait]
impl Publisher for Teams {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        let variant = with_image(job.variant, services)?;
        let job = Job {
            delivery: job.delivery,
            variant: &variant,
        };
        chat_webhook::post_accepted(&self.options.webhook_url_env, &job, services, reclassify)
            .await?;
        // A 2xx means posted; the answer carries nothing worth keeping.
        Ok(Receipt::default())
    }

    async fn check(&self, _services: &Services) -> Result<String, PublishError> {
        chat_webhook::unverifiable(&self.options.webhook_url_env, "Teams Workflows")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::http;

    fn refused(code: u16, body: &str) -> PublishError {
        let status = reqwest::StatusCode::from_u16(code).unwrap();
        http::classify(status, &Default::default(), body, chrono::Utc::now()).unwrap_err()
    }

    #[test]
    fn a_404_means_the_workflow_is_gone_whatever_the_body_says() {
        let e = reclassify(refused(404, "HTTP 500 Internal Server Error"));
        assert!(matches!(
            e,
            PublishError::Credentials {
                status: Some(404),
                ..
            }
        ));
        // A 400 whose words mention a 404 is still an ordinary refusal.
        let e = reclassify(refused(400, "HTTP 404 Not Found"));
        assert!(matches!(
            e,
            PublishError::Permanent {
                status: Some(400),
                ..
            }
        ));
    }
}
