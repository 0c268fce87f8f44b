//! Sending to a Page: `/{page-id}/feed` for text and link, `/{page-id}/photos`
//! (multipart upload, caption, `alt_text_custom`) when the item has an image.

use async_trait::async_trait;
use reqwest::multipart::{Form, Part};

use super::graph::{self, Effect};
use super::Facebook;
use crate::channels::{http, Job, PublishError, Publisher, Services};
use crate::content::Image;
use crate::delivery::Receipt;
use crate::secret::Secret;

impl Facebook {
    fn token(&self) -> Result<Secret, PublishError> {
        self.options
            .page_token_env
            .resolve()
            .map_err(|e| PublishError::credentials(e.to_string()))
    }

    fn url(&self, edge: &str) -> String {
        format!("{}/{}{edge}", self.options.api, self.options.page_id)
    }

    async fn feed(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        // The token goes in the body, never the URL, so no proxy log has it.
        let token = self.token()?;
        let mut form = vec![
            ("message", job.variant.text.as_str()),
            ("access_token", token.expose()),
        ];
        if let Some(link) = link(job) {
            form.push(("link", link));
        }
        let request = services.http.post(self.url("/feed")).form(&form);
        let response = graph::send(request, Effect::Posts, services.clock.now()).await?;
        receipt(response).await
    }

    async fn photo(
        &self,
        job: &Job<'_>,
        image: &Image,
        services: &Services,
    ) -> Result<Receipt, PublishError> {
        let token = self.token()?;
        let bytes = tokio::fs::read(services.campaigns_dir.join(&image.src))
            .await
            .map_err(|e| {
                PublishError::permanent(format!("cannot read image `{}`: {e}", image.src))
            })?;
        let file_name = image.src.rsplit('/').next().unwrap_or("image").to_string();
        let source = Part::bytes(bytes)
            .file_name(file_name)
            .mime_str(mime(&image.src))
            .map_err(|e| PublishError::permanent(format!("image `{}`: {e}", image.src)))?;
        // A photo post has no link field: the link goes in the caption
        // unless the text already carries it.
        let mut caption = job.variant.text.clone();
        if let Some(link) = link(job).filter(|l| !caption.contains(l)) {
            caption.push_str("\n\n");
            caption.push_str(link);
        }
        let form = Form::new()
            .text("caption", caption)
            .text("alt_text_custom", image.alt.clone())
            .text("access_token", token.expose().to_string())
            .part("source", source);
        let request = services.http.post(self.url("/photos")).multipart(form);
        let response = graph::send(request, Effect::Posts, services.clock.now()).await?;
        receipt(response).await
    }
}

fn link<'a>(job: &'a Job<'_>) -> Option<&'a str> {
    job.variant.payload.as_ref()?.get("link")?.as_str()
}

fn mime(src: &str) -> &'static str {
    match src
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => "image/jpeg",
    }
}

/// `{"id": ...}` for a feed post; a photo answers `{"id": photo, "post_id":
/// page_post}`, and the post is what people see.
async fn receipt(response: reqwest::Response) -> Result<Receipt, PublishError> {
    let text = http::read_text(response).await.map_err(|e| {
        PublishError::uncertain(format!(
            "Facebook accepted the post but its answer was cut off: {}",
            http::transport_error(&e)
        ))
    })?;
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let id = answer["post_id"]
        .as_str()
        .or_else(|| answer["id"].as_str())
        .ok_or_else(|| {
            PublishError::uncertain("Facebook accepted the post but its answer had no id".into())
        })?
        .to_string();
    Ok(Receipt {
        remote_url: Some(format!("https://www.facebook.com/{id}")),
        remote_id: Some(id),
    })
}

#[async_trait]
impl Publisher for Facebook {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        match job.variant.images.first() {
            Some(image) => self.photo(job, image, services).await,
            None => self.feed(job, services).await,
        }
    }

    async fn check(&self, services: &Services) -> Result<String, PublishError> {
        let token = self.token()?;
        let request = services
            .http
            .get(format!("{}/{}", self.options.api, self.options.page_id))
            .query(&[("fields", "name")])
            .bearer_auth(token.expose());
        let response = graph::send(request, Effect::Reads, services.clock.now()).await?;
        let text = http::read_text(response)
            .await
            .map_err(|e| http::transport_error(&e))?;
        let page: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        Ok(format!(
            "the Page token works: posting to \"{}\"; one image per post",
            page["name"].as_str().unwrap_or("?")
        ))
    }
}
