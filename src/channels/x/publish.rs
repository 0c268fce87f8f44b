//! Posting to X: images first (uploaded, then described), then the thread,
//! each post a reply to the one before. X has no idempotency key, so each
//! accepted post is recorded before the next (see `channels/thread.rs`).

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use super::{status_url, Effect, X};
use crate::channels::thread::Thread;
use crate::channels::{http, Job, PublishError, Services};
use crate::content::Image;
use crate::delivery::Receipt;

pub async fn thread(x: &X, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
    let mut thread = Thread::resume(job, services).await?;
    let parts = &job.variant.parts;
    // Images belong to the first post; once it is up they are not needed.
    let mut media_ids = Vec::new();
    if thread.next() == 0 {
        for image in &job.variant.images {
            media_ids.push(upload(x, services, image).await?);
        }
    }
    for (i, part) in parts.iter().enumerate().skip(thread.next()) {
        let mut body = json!({ "text": part.text });
        if i == 0 && !media_ids.is_empty() {
            body["media"] = json!({ "media_ids": media_ids });
        }
        if let Some(previous) = thread.previous_id() {
            body["reply"] = json!({ "in_reply_to_tweet_id": previous });
        }
        match create(x, services, &body, job.delivery.attempts).await {
            Ok(id) => {
                thread
                    .posted(Receipt {
                        remote_url: Some(status_url(&id)),
                        remote_id: Some(id),
                    })
                    .await?
            }
            Err(e) => return Err(thread.failed(e)),
        }
    }
    thread.finish()
}

/// One post; its id.
async fn create(
    x: &X,
    services: &Services,
    body: &Value,
    attempts: u32,
) -> Result<String, PublishError> {
    let response = x
        .call(
            services,
            Method::POST,
            "/2/tweets",
            Some(body),
            Effect::Posts,
        )
        .await
        .map_err(|e| duplicate(e, attempts))?;
    // 2xx: the post exists. An answer we cannot read must not turn that
    // into a failure someone retries, so it is uncertain, not permanent.
    let text = http::read_text(response).await.map_err(|e| {
        PublishError::uncertain(format!(
            "X accepted the post but its answer was cut off: {}",
            http::transport_error(&e)
        ))
    })?;
    let answer: Value = serde_json::from_str(&text).unwrap_or_default();
    match answer["data"]["id"].as_str() {
        Some(id) => Ok(id.to_string()),
        None => Err(PublishError::uncertain(
            "X accepted the post but its answer had no post id".into(),
        )),
    }
}

/// X answers an exact repeat of a recent post with 403 "duplicate content".
/// Said plainly, since it reads like a permissions problem otherwise.
fn duplicate(e: PublishError, attempts: u32) -> PublishError {
    match e {
        PublishError::Permanent {
            message,
            status: status @ Some(403),
        } if message.contains("duplicate") => {
            let earlier = if attempts > 1 {
                " (an earlier attempt of this delivery may be that post: check the account)"
            } else {
                ""
            };
            PublishError::Permanent {
                message: format!(
                    "X refused it as a duplicate of a recent post{earlier}: {message}"
                ),
                status,
            }
        }
        other => other,
    }
}

/// Uploads one image and attaches its alt text; the media id. Media that
/// is never used in a post expires unseen, so a lost answer here is worth a
/// retry rather than a person's attention.
async fn upload(x: &X, services: &Services, image: &Image) -> Result<String, PublishError> {
    let path = services.campaigns_dir.join(&image.src);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| PublishError::permanent(format!("cannot read image `{}`: {e}", image.src)))?;
    let body = json!({
        "media": base64::engine::general_purpose::STANDARD.encode(&bytes),
        "media_category": "tweet_image",
    });
    let response = x
        .call(
            services,
            Method::POST,
            "/2/media/upload",
            Some(&body),
            Effect::Harmless,
        )
        .await
        .map_err(harmless)?;
    let text = http::read_text(response)
        .await
        .map_err(|e| harmless(http::transport_error(&e)))?;
    let answer: Value = serde_json::from_str(&text).unwrap_or_default();
    let id = answer["data"]["id"]
        .as_str()
        .ok_or_else(|| {
            PublishError::retry(
                format!(
                    "X's media upload answered without a media id for `{}`",
                    image.src
                ),
                None,
            )
        })?
        .to_string();
    let metadata = json!({ "id": id, "metadata": { "alt_text": { "text": image.alt } } });
    x.call(
        services,
        Method::POST,
        "/2/media/metadata",
        Some(&metadata),
        Effect::Harmless,
    )
    .await
    .map_err(harmless)?;
    Ok(id)
}

fn harmless(e: PublishError) -> PublishError {
    match e {
        PublishError::Uncertain { message, status } => PublishError::Retry {
            message: format!("uploading an image: {message}"),
            status,
            after: None,
        },
        other => other,
    }
}
