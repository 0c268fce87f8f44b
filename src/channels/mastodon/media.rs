//! Image uploads: `POST /api/v2/media` with the alt text as `description`.
//!
//! The instance may answer 202 with `url: null` while it processes the
//! file; a status can only attach it once processed, so we poll
//! `GET /api/v1/media/:id` (206 while processing, 200 when done) with a
//! deadline — the protocol offers no notification.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::publish::read_json;
use super::Mastodon;
use crate::channels::{http, media, PublishError, Services};
use crate::content::Image;
use crate::secret::Secret;

/// How long an instance may take to process one image.
const PROCESSING_DEADLINE: Duration = Duration::from_secs(60);
const POLL_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Deserialize)]
struct Attachment {
    id: String,
    url: Option<String>,
}

/// Uploads every image, in order, and returns their ids once each is ready.
/// An upload has no idempotency key, but an unattached upload is harmless
/// (instances delete them), so a retried delivery simply uploads again.
pub(super) async fn upload_all(
    channel: &Mastodon,
    images: &[Image],
    token: &Secret,
    services: &Services,
) -> Result<Vec<String>, PublishError> {
    let mut ids = Vec::with_capacity(images.len());
    for image in images {
        ids.push(upload(channel, image, token, services).await?);
    }
    Ok(ids)
}

async fn upload(
    channel: &Mastodon,
    image: &Image,
    token: &Secret,
    services: &Services,
) -> Result<String, PublishError> {
    let (bytes, mime) = read_image(&services.campaigns_dir, image)?;
    let file_name = Path::new(&image.src)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let file = reqwest::multipart::Part::bytes(bytes)
        .file_name(file_name)
        .mime_str(mime)
        .map_err(|e| PublishError::permanent(format!("image {}: {e}", image.src)))?;
    let form = reqwest::multipart::Form::new()
        .part("file", file)
        .text("description", image.alt.clone());
    let request = services
        .http
        .post(channel.endpoint("/api/v2/media"))
        .bearer_auth(token.expose())
        .multipart(form);
    let response = http::send(request, services.clock.as_ref()).await?;
    let mut media: Attachment = read_json(response).await.map_err(uploaded_unknown)?;
    let deadline = tokio::time::Instant::now() + PROCESSING_DEADLINE;
    while media.url.is_none() {
        if tokio::time::Instant::now() >= deadline {
            return Err(PublishError::retry(
                format!(
                    "the instance was still processing image {} after {}s",
                    image.src,
                    PROCESSING_DEADLINE.as_secs()
                ),
                None,
            ));
        }
        tokio::time::sleep(POLL_EVERY).await;
        let request = services
            .http
            .get(channel.endpoint(&format!("/api/v1/media/{}", media.id)))
            .bearer_auth(token.expose());
        media = read_json(http::send(request, services.clock.as_ref()).await?)
            .await
            .map_err(uploaded_unknown)?;
    }
    Ok(media.id)
}

/// An upload whose answer was lost made at most an unattached file: safe
/// to try the delivery again (nothing was posted yet).
fn uploaded_unknown(e: PublishError) -> PublishError {
    match e {
        PublishError::Uncertain { message, status } => PublishError::Retry {
            message: format!("image upload: {message} (nothing was posted)"),
            status,
            after: None,
        },
        other => other,
    }
}

/// The file and its media type. A missing file is a content problem that
/// retrying will not fix.
fn read_image(
    campaigns_dir: &Path,
    image: &Image,
) -> Result<(Vec<u8>, &'static str), PublishError> {
    let mime = media::content_type(&image.src).ok_or_else(|| {
        PublishError::permanent(format!(
            "image {}: only PNG, JPEG, GIF and WebP files can be posted",
            image.src
        ))
    })?;
    let bytes = std::fs::read(campaigns_dir.join(&image.src))
        .map_err(|e| PublishError::permanent(format!("cannot read image {}: {e}", image.src)))?;
    Ok((bytes, mime))
}
