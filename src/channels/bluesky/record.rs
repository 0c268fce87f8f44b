//! Builds the `app.bsky.feed.post` record for one part of a variant:
//! facets (mentions resolved to DIDs), embeds (images or the link card),
//! and reply references for thread parts.

use serde_json::{json, Value};

use super::xrpc::{self, Failure};
use super::Bluesky;
use crate::channels::{PublishError, Services};
use crate::content::Image;

/// Bluesky's size limit for one image blob.
const MAX_IMAGE_BYTES: usize = 1_000_000;

/// A strong reference to a record: what a reply points at.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct StrongRef {
    pub uri: String,
    pub cid: String,
}

impl StrongRef {
    fn json(&self) -> Value {
        json!({ "uri": self.uri, "cid": self.cid })
    }
}

/// `reply {root, parent}` for part `n` > 0 of a thread.
pub fn reply(root: &StrongRef, parent: &StrongRef) -> Value {
    json!({ "root": root.json(), "parent": parent.json() })
}

impl Bluesky {
    /// The stored facets with each mention's DID filled in. A handle that
    /// does not resolve loses its facet (the text stays as written):
    /// posting a mention of nobody would be refused by the lexicon.
    pub async fn facets(
        &self,
        stored: Option<&Value>,
        services: &Services,
    ) -> Result<Vec<Value>, PublishError> {
        let Some(list) = stored
            .and_then(|a| a.get("facets"))
            .and_then(Value::as_array)
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(list.len());
        for facet in list {
            let mut facet = facet.clone();
            let Some(feature) = facet["features"].get_mut(0) else {
                continue;
            };
            if feature["$type"] == "app.bsky.richtext.facet#mention" {
                let handle = feature["handle"].as_str().unwrap_or_default().to_string();
                let did = match feature["did"].as_str() {
                    Some(did) => Some(did.to_string()),
                    None => self.resolve_handle(&handle, services).await?,
                };
                let Some(did) = did else { continue };
                // The lexicon's mention carries the DID only.
                *feature = json!({ "$type": "app.bsky.richtext.facet#mention", "did": did });
            }
            out.push(facet);
        }
        Ok(out)
    }

    /// `Ok(None)` when the server says the handle does not exist.
    async fn resolve_handle(
        &self,
        handle: &str,
        services: &Services,
    ) -> Result<Option<String>, PublishError> {
        let request = services
            .http
            .get(self.xrpc_query("com.atproto.identity.resolveHandle", &[("handle", handle)]));
        match xrpc::send(request, services.clock.as_ref()).await {
            Ok(r) => {
                let v: Value = xrpc::json(r).await.map_err(Failure::before_posting)?;
                Ok(v["did"].as_str().map(str::to_string))
            }
            Err(f) if matches!(f.status(), Some(400 | 404)) => Ok(None),
            Err(f) => Err(f.before_posting()),
        }
    }

    /// `app.bsky.embed.images` with every image uploaded, each with its alt text.
    pub async fn images(
        &self,
        images: &[Image],
        services: &Services,
    ) -> Result<Value, PublishError> {
        let mut list = Vec::with_capacity(images.len());
        for image in images {
            let (bytes, mime) = read_image(&services.campaigns_dir, image)?;
            let response = self
                .authed(services, |_| {
                    services
                        .http
                        .post(self.xrpc("com.atproto.repo.uploadBlob"))
                        .header(reqwest::header::CONTENT_TYPE, mime)
                        .body(bytes.clone())
                })
                .await
                .map_err(Failure::before_posting)?;
            let answer: Value = xrpc::json(response)
                .await
                .map_err(Failure::before_posting)?;
            list.push(json!({ "alt": image.alt, "image": answer["blob"] }));
        }
        Ok(json!({ "$type": "app.bsky.embed.images", "images": list }))
    }
}

/// `app.bsky.embed.external` from the card stored at shaping time (the
/// item's own title and summary; no remote page is fetched).
pub fn external(card: &Value) -> Option<Value> {
    card.get("uri")?.as_str()?;
    Some(json!({ "$type": "app.bsky.embed.external", "external": card }))
}

/// The file, its media type, and Bluesky's 1 MB limit. Problems with the
/// file are content problems that retrying will not fix.
fn read_image(
    dir: &std::path::Path,
    image: &Image,
) -> Result<(Vec<u8>, &'static str), PublishError> {
    let ext = std::path::Path::new(&image.src)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let mime = match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => {
            return Err(PublishError::permanent(format!(
                "image {}: only PNG, JPEG, GIF and WebP files can be posted",
                image.src
            )))
        }
    };
    let bytes = std::fs::read(dir.join(&image.src))
        .map_err(|e| PublishError::permanent(format!("cannot read image {}: {e}", image.src)))?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(PublishError::permanent(format!(
            "image {} is {} bytes; Bluesky takes at most {MAX_IMAGE_BYTES}",
            image.src,
            bytes.len()
        )));
    }
    Ok((bytes, mime))
}
