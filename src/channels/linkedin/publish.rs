//! Sending to LinkedIn: `POST /rest/posts` (the id comes back in the
//! `x-restli-id` header), after uploading the image, if any, through the
//! Images API (initializeUpload, then a PUT of the bytes).

use async_trait::async_trait;
use reqwest::{RequestBuilder, Url};
use serde_json::{json, Value};

use super::LinkedIn;
use crate::channels::{http, Job, PublishError, Publisher, Services};
use crate::content::Image;
use crate::delivery::Receipt;
use crate::secret::Secret;

const RESTLI_ID: &str = "x-restli-id";

impl LinkedIn {
    fn token(&self) -> Result<Secret, PublishError> {
        self.options
            .token_env
            .resolve()
            .map_err(|e| PublishError::credentials(e.to_string()))
    }

    /// The headers every versioned (`/rest`) call needs.
    fn rest(&self, request: RequestBuilder, token: &Secret) -> RequestBuilder {
        request
            .bearer_auth(token.expose())
            .header("LinkedIn-Version", &self.options.version)
            .header("X-Restli-Protocol-Version", "2.0.0")
    }

    fn body(&self, job: &Job<'_>, image: Option<(&str, &Image)>) -> Result<Value, PublishError> {
        // Shaping escaped the text into the "little" format; sending the raw
        // text would let a stray `(` or `#` garble the post.
        let commentary = job
            .variant
            .payload
            .as_ref()
            .and_then(|p| p.get("commentary"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                PublishError::permanent("the stored LinkedIn variant has no commentary".into())
            })?;
        let mut body = json!({
            "author": self.options.author,
            "commentary": commentary,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        });
        if let Some((urn, image)) = image {
            body["content"] = json!({ "media": { "id": urn, "altText": image.alt } });
        }
        Ok(body)
    }

    /// Uploads one image; its `urn:li:image:...`. Nothing is visible until
    /// a post uses it, so a lost answer here is worth a plain retry.
    async fn upload(
        &self,
        services: &Services,
        token: &Secret,
        image: &Image,
    ) -> Result<String, PublishError> {
        let bytes = tokio::fs::read(services.campaigns_dir.join(&image.src))
            .await
            .map_err(|e| {
                PublishError::permanent(format!("cannot read image `{}`: {e}", image.src))
            })?;
        let init = json!({ "initializeUploadRequest": { "owner": self.options.author } });
        let request = self.rest(
            services.http.post(format!(
                "{}/rest/images?action=initializeUpload",
                self.options.api
            )),
            token,
        );
        let response = http::send(request.json(&init), services.clock.as_ref())
            .await
            .map_err(harmless)?;
        let text = http::read_text(response)
            .await
            .map_err(|e| harmless(http::transport_error(&e)))?;
        let answer: Value = serde_json::from_str(&text).unwrap_or_default();
        let (Some(upload_url), Some(urn)) = (
            answer["value"]["uploadUrl"].as_str(),
            answer["value"]["image"].as_str(),
        ) else {
            return Err(PublishError::retry(
                "LinkedIn's initializeUpload answered without uploadUrl and image".into(),
                None,
            ));
        };
        let mut put = services.http.put(upload_url).body(bytes);
        // The token goes only to LinkedIn's own hosts (or the configured API),
        // however the upload URL was obtained.
        if self.trusted(upload_url) {
            put = put.bearer_auth(token.expose());
        }
        http::send(put, services.clock.as_ref())
            .await
            .map_err(harmless)?;
        Ok(urn.to_string())
    }

    fn trusted(&self, url: &str) -> bool {
        let (Ok(target), Ok(api)) = (Url::parse(url), Url::parse(&self.options.api)) else {
            return false;
        };
        let host = target.host_str().unwrap_or_default();
        let same = target.origin() == api.origin();
        let linkedin = target.scheme() == "https"
            && (host == "linkedin.com" || host.ends_with(".linkedin.com"));
        same || linkedin
    }
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

/// LinkedIn refuses an exact repeat with 422 "duplicate"; said plainly.
fn duplicate(e: PublishError) -> PublishError {
    match e {
        PublishError::Permanent {
            message,
            status: status @ Some(422),
        } if message.to_lowercase().contains("duplicate") => PublishError::Permanent {
            message: format!("LinkedIn refused it as a duplicate of a recent post: {message}"),
            status,
        },
        other => other,
    }
}

#[async_trait]
impl Publisher for LinkedIn {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        let token = self.token()?;
        let image = match job.variant.images.first() {
            Some(image) => Some((self.upload(services, &token, image).await?, image)),
            None => None,
        };
        let body = self.body(job, image.as_ref().map(|(urn, i)| (urn.as_str(), *i)))?;
        let request = self
            .rest(
                services
                    .http
                    .post(format!("{}/rest/posts", self.options.api)),
                &token,
            )
            .json(&body);
        let response = http::send_once(request, services.clock.as_ref())
            .await
            .map_err(duplicate)?;
        let urn = response
            .headers()
            .get(RESTLI_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| {
                PublishError::uncertain(
                    "LinkedIn accepted the post but sent no x-restli-id to say which".into(),
                )
            })?;
        Ok(Receipt {
            remote_url: Some(format!("https://www.linkedin.com/feed/update/{urn}")),
            remote_id: Some(urn),
        })
    }

    /// Reads the author's latest post: proves the token, the version header
    /// and the author's permissions without posting.
    async fn check(&self, services: &Services) -> Result<String, PublishError> {
        let token = self.token()?;
        let request = self
            .rest(
                services
                    .http
                    .get(format!("{}/rest/posts", self.options.api)),
                &token,
            )
            .query(&[
                ("q", "author"),
                ("author", self.options.author.as_str()),
                ("count", "1"),
            ]);
        http::send(request, services.clock.as_ref()).await?;
        Ok(format!(
            "the token works for {} (LinkedIn-Version {}); 3000 characters, one image per post",
            self.options.author, self.options.version
        ))
    }
}
