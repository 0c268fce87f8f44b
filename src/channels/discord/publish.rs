//! Sending to a Discord webhook: `POST {url}?wait=true` per message, so
//! Discord answers with the message (and its id) instead of a bare 204.
//!
//! Images go with the first message as `multipart/form-data`: the message
//! as `payload_json`, each file as `files[i]`, and `attachments` in the
//! payload naming each file by `id` = i with its alt text as `description`.
//!
//! A thread is sent as consecutive messages. Discord has no idempotency key,
//! so each accepted message is recorded before the next is sent
//! (`channels/thread.rs`): a later attempt resumes with the first message
//! not yet recorded. A short rate-limit wait between parts is still waited
//! out in place (a 429 means Discord did not take the message, so sending
//! it again is safe), so most threads finish in one attempt.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use super::Discord;
use crate::channels::thread::Thread;
use crate::channels::{chat_webhook, http, media, Channel, Job, PublishError, Publisher, Services};
use crate::content::Image;
use crate::delivery::Receipt;

/// The longest wait between the parts of a thread crier sits out in place;
/// Discord's per-webhook windows are a few seconds.
const MAX_PART_WAIT: Duration = Duration::from_secs(10);

/// Discord's "Unknown Webhook": the webhook was deleted.
const UNKNOWN_WEBHOOK: i64 = 10015;

/// One message Discord accepted.
struct Posted {
    id: Option<String>,
    /// Discord's bucket is empty: wait this long before the next request.
    pause: Option<Duration>,
}

fn execute_url(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}wait=true")
}

/// The stored payload (username, allowed_mentions) with this part's text;
/// absent options are left out rather than sent as null.
fn message(payload: &Value, text: &str) -> Value {
    let mut map = payload.as_object().cloned().unwrap_or_default();
    map.retain(|_, v| !v.is_null());
    map.insert("content".into(), text.into());
    Value::Object(map)
}

/// Discord's bucket headers: when `X-RateLimit-Remaining` is 0, the next
/// request must wait `X-RateLimit-Reset-After` seconds.
fn pause(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name)?.to_str().ok()?.parse::<f64>().ok();
    if get("x-ratelimit-remaining")? > 0.0 {
        return None;
    }
    seconds(get("x-ratelimit-reset-after")?)
}

fn seconds(s: f64) -> Option<Duration> {
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s))
}

async fn read(response: Response, now: DateTime<Utc>) -> Result<Posted, PublishError> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = http::read_text(response).await;
    if status.is_success() {
        // Posted, whatever happens to the body: an unreadable one only
        // costs the id.
        let json: Value = serde_json::from_str(&body.unwrap_or_default()).unwrap_or_default();
        return Ok(Posted {
            id: json["id"].as_str().map(str::to_string),
            pause: pause(&headers),
        });
    }
    Err(error(status, &headers, &body.unwrap_or_default(), now))
}

/// Reads a refusal in Discord's terms, on top of `http::classify`.
fn error(status: StatusCode, headers: &HeaderMap, body: &str, now: DateTime<Utc>) -> PublishError {
    let json: Value = serde_json::from_str(body).unwrap_or_default();
    if status == StatusCode::TOO_MANY_REQUESTS {
        // The body's float is more precise than the whole-second header.
        if let Some(after) = json["retry_after"].as_f64().and_then(seconds) {
            let scope = if json["global"].as_bool() == Some(true) {
                "global"
            } else {
                "webhook"
            };
            return PublishError::Retry {
                message: format!("HTTP 429: rate limited by Discord ({scope} limit)"),
                status: Some(429),
                after: Some(after),
            };
        }
    }
    let classified = http::classify(status, headers, body, now).expect_err("not a success");
    match http::gateway_uncertain(classified, "the message") {
        PublishError::Permanent { message, status }
            if status == Some(404) || json["code"] == UNKNOWN_WEBHOOK =>
        {
            PublishError::Credentials {
                message: format!("{message} (the webhook was deleted)"),
                status,
            }
        }
        refused @ PublishError::Permanent { .. } => match field_errors(&json["errors"], "") {
            Some(detail) => refused.map_message(|m| format!("{m}: {detail}")),
            None => refused,
        },
        other => other,
    }
}

/// The first field error in Discord's nested `errors` object, e.g.
/// `{"content": {"_errors": [{"message": "Must be 2000 or fewer in length."}]}}`
/// → `content: Must be 2000 or fewer in length.`
fn field_errors(errors: &Value, path: &str) -> Option<String> {
    let map = errors.as_object()?;
    if let Some(message) = map.get("_errors").and_then(|e| e[0]["message"].as_str()) {
        return Some(format!("{path}: {message}"));
    }
    map.iter().find_map(|(key, value)| {
        let path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        field_errors(value, &path)
    })
}

/// One image file, read before anything is posted.
struct Upload {
    file_name: String,
    mime: &'static str,
    bytes: Vec<u8>,
    alt: String,
}

/// Reads every image of the variant. A missing, unsupported or oversized
/// file is a content problem that retrying will not fix (`check` reports
/// the same ones earlier).
fn read_images(
    images: &[Image],
    campaigns_dir: &Path,
    max_bytes: u64,
) -> Result<Vec<Upload>, PublishError> {
    images
        .iter()
        .map(|image| {
            let mime = media::content_type(&image.src).ok_or_else(|| {
                PublishError::permanent(format!(
                    "image {}: only PNG, JPEG, GIF and WebP files are sent to Discord",
                    image.src
                ))
            })?;
            let bytes = std::fs::read(campaigns_dir.join(&image.src)).map_err(|e| {
                PublishError::permanent(format!("cannot read image {}: {e}", image.src))
            })?;
            if bytes.len() as u64 > max_bytes {
                return Err(PublishError::permanent(format!(
                    "image {} is {} bytes, over Discord's upload limit of {max_bytes}",
                    image.src,
                    bytes.len()
                )));
            }
            let file_name = Path::new(&image.src)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "image".into());
            Ok(Upload {
                file_name,
                mime,
                bytes,
                alt: image.alt.clone(),
            })
        })
        .collect()
}

/// The multipart body: `payload_json` with `attachments` naming each file
/// by its index, then `files[i]`.
fn multipart(body: &Value, uploads: &[Upload]) -> Form {
    let mut payload = body.clone();
    payload["attachments"] = uploads
        .iter()
        .enumerate()
        .map(|(i, u)| json!({"id": i, "filename": u.file_name, "description": u.alt}))
        .collect();
    let json = Part::text(payload.to_string())
        .mime_str("application/json")
        .expect("a valid media type");
    let mut form = Form::new().part("payload_json", json);
    for (i, u) in uploads.iter().enumerate() {
        let file = Part::bytes(u.bytes.clone())
            .file_name(u.file_name.clone())
            .mime_str(u.mime)
            .expect("a valid media type");
        form = form.part(format!("files[{i}]"), file);
    }
    form
}

impl Discord {
    async fn post(
        &self,
        url: &str,
        body: &Value,
        uploads: &[Upload],
        services: &Services,
    ) -> Result<Posted, PublishError> {
        let request = services.http.post(execute_url(url));
        let request = if uploads.is_empty() {
            request.json(body)
        } else {
            request.multipart(multipart(body, uploads))
        };
        let response = request
            .send()
            .await
            .map_err(|e| http::transport_error(&e))?;
        read(response, services.clock.now()).await
    }

    /// A later part: a short 429 is waited out and the part sent again.
    async fn post_patiently(
        &self,
        url: &str,
        body: &Value,
        services: &Services,
    ) -> Result<Posted, PublishError> {
        match self.post(url, body, &[], services).await {
            Err(PublishError::Retry {
                after: Some(after), ..
            }) if after <= MAX_PART_WAIT => {
                tokio::time::sleep(after).await;
                self.post(url, body, &[], services).await
            }
            other => other,
        }
    }
}

#[async_trait]
impl Publisher for Discord {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        let url = chat_webhook::url(&self.options.webhook_url_env)?;
        let payload = chat_webhook::payload(job.variant)?;
        let mut thread = Thread::resume(job, services).await?;
        // Read before the first post, so a bad file never leaves half a
        // thread; once the first message is up they are not needed.
        let max = self.max_image_bytes().unwrap_or(u64::MAX);
        let uploads = match thread.next() {
            0 => read_images(&job.variant.images, &services.campaigns_dir, max)?,
            _ => Vec::new(),
        };
        let parts = &job.variant.parts;
        for (i, part) in parts.iter().enumerate().skip(thread.next()) {
            let body = message(payload, &part.text);
            let result = if i == 0 {
                // The images go with the first message, where they are seen.
                self.post(url.expose(), &body, &uploads, services).await
            } else {
                self.post_patiently(url.expose(), &body, services).await
            };
            match result {
                Ok(posted) => {
                    thread
                        .posted(Receipt {
                            remote_id: posted.id,
                            remote_url: None,
                        })
                        .await?;
                    if let (Some(wait), true) = (posted.pause, i + 1 < parts.len()) {
                        tokio::time::sleep(wait.min(MAX_PART_WAIT)).await;
                    }
                }
                Err(e) => return Err(thread.failed(e)),
            }
        }
        // Every message id, so a person can find (or delete) each part.
        let ids: Vec<&str> = thread
            .parts()
            .iter()
            .map(|r| r.remote_id.as_deref().unwrap_or("(id not returned)"))
            .collect();
        Ok(Receipt {
            remote_id: Some(ids.join(",")),
            remote_url: None,
        })
    }

    /// `GET` on a webhook URL returns the webhook itself (name, channel)
    /// without posting. Its answer also holds the token, which is never shown.
    async fn check(&self, services: &Services) -> Result<String, PublishError> {
        let url = chat_webhook::url(&self.options.webhook_url_env)?;
        let response = services
            .http
            .get(url.expose())
            .send()
            .await
            .map_err(|e| http::transport_error(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = http::read_text(response).await.unwrap_or_default();
        if !status.is_success() {
            return Err(error(status, &headers, &body, services.clock.now()));
        }
        let json: Value = serde_json::from_str(&body).unwrap_or_default();
        Ok(format!(
            "webhook \"{}\" posts to channel {} (server {})",
            json["name"].as_str().unwrap_or("?"),
            json["channel_id"].as_str().unwrap_or("?"),
            json["guild_id"].as_str().unwrap_or("?"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_true_is_added_to_any_url() {
        assert_eq!(
            execute_url("https://d/api/webhooks/1/t"),
            "https://d/api/webhooks/1/t?wait=true"
        );
        assert_eq!(
            execute_url("https://d/api/webhooks/1/t?thread_id=9"),
            "https://d/api/webhooks/1/t?thread_id=9&wait=true"
        );
    }

    #[test]
    fn nested_field_errors_are_found() {
        let errors = serde_json::json!({"embeds": {"0": {"title": {"_errors": [{"code": "X", "message": "Too long."}]}}}});
        assert_eq!(
            field_errors(&errors, "").as_deref(),
            Some("embeds.0.title: Too long.")
        );
    }

    #[test]
    fn refusals_are_read_from_the_status_and_code_not_the_words() {
        let now = Utc::now();
        let read = |code: u16, body: &str| {
            error(
                StatusCode::from_u16(code).unwrap(),
                &HeaderMap::new(),
                body,
                now,
            )
        };
        // A deleted webhook: 404, whatever the message says.
        let gone = read(404, r#"{"message": "HTTP 500 somewhere", "code": 0}"#);
        assert!(matches!(
            gone,
            PublishError::Credentials {
                status: Some(404),
                ..
            }
        ));
        // A 400 mentioning a 404 is a refused message, with the field error.
        let refused = read(
            400,
            r#"{"message": "HTTP 404?", "errors": {"content": {"_errors": [{"message": "Too long."}]}}}"#,
        );
        assert!(
            matches!(&refused, PublishError::Permanent { message, status: Some(400) }
                if message.ends_with("content: Too long.")),
            "{refused:?}"
        );
        let lost = read(502, "");
        assert!(matches!(
            lost,
            PublishError::Uncertain {
                status: Some(502),
                ..
            }
        ));
    }

    #[test]
    fn null_options_are_left_out() {
        let payload = serde_json::json!({"username": null, "allowed_mentions": {"parse": []}});
        assert_eq!(
            message(&payload, "hi"),
            serde_json::json!({"allowed_mentions": {"parse": []}, "content": "hi"})
        );
    }
}
