//! Posting to Bluesky: each part of a variant is written with
//! `com.atproto.repo.putRecord` at a key derived from the delivery
//! ([`tid::derive`]) with `swapRecord: null`, which makes the write
//! create-only. A repeated attempt is refused (`InvalidSwap`) instead of
//! posting twice; the existing record is then read back and used.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::record::{self, StrongRef};
use super::session::Session;
use super::xrpc::{self, Failure};
use super::{tid, Bluesky};
use crate::channels::{Job, PublishError, Publisher, Reconciled, Services};
use crate::delivery::Receipt;

const POST: &str = "app.bsky.feed.post";

impl Bluesky {
    /// Writes one record at `rkey`, or finds ours already there.
    async fn put(
        &self,
        rkey: &str,
        record: &Value,
        services: &Services,
    ) -> Result<StrongRef, PublishError> {
        let written = self
            .authed(services, |s: &Session| {
                services
                    .http
                    .post(self.xrpc("com.atproto.repo.putRecord"))
                    .json(&json!({
                        "repo": s.did,
                        "collection": POST,
                        "rkey": rkey,
                        "record": record,
                        "swapRecord": null,
                    }))
            })
            .await;
        match written {
            Ok(r) => Ok(xrpc::json::<StrongRef>(r).await.map_err(|f| f.error)?),
            Err(f) if f.is("InvalidSwap") => self.existing(rkey, &record["text"], services).await,
            Err(f) => Err(f.error),
        }
    }

    /// The record a previous attempt wrote at `rkey`. Its text must be
    /// ours: a different post there means two deliveries' keys collided,
    /// and ours was not posted.
    async fn existing(
        &self,
        rkey: &str,
        text: &Value,
        services: &Services,
    ) -> Result<StrongRef, PublishError> {
        match self.get(rkey, services).await.map_err(|f| f.error)? {
            Some((found, value)) if &value["text"] == text => Ok(found),
            Some(_) => Err(PublishError::permanent(format!(
                "record key {rkey} already holds a different post (a key collision): nothing was posted for this delivery"
            ))),
            None => Err(PublishError::retry(format!("the server refused record {rkey} as taken but cannot find it"), None)),
        }
    }

    /// `com.atproto.repo.getRecord`; `None` if there is no such record.
    async fn get(
        &self,
        rkey: &str,
        services: &Services,
    ) -> Result<Option<(StrongRef, Value)>, Failure> {
        let session = self.session(services).await?;
        let request = services.http.get(self.xrpc_query(
            "com.atproto.repo.getRecord",
            &[
                ("repo", session.did.as_str()),
                ("collection", POST),
                ("rkey", rkey),
            ],
        ));
        match xrpc::send(request, services.clock.as_ref()).await {
            Ok(r) => {
                let v: Value = xrpc::json(r).await?;
                let found = StrongRef {
                    uri: v["uri"].as_str().unwrap_or_default().to_string(),
                    cid: v["cid"].as_str().unwrap_or_default().to_string(),
                };
                Ok(Some((found, v["value"].clone())))
            }
            Err(f) if f.is("RecordNotFound") => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// The public address of a post, from its at-uri.
    fn web_url(uri: &str) -> Option<String> {
        let rest = uri.strip_prefix("at://")?;
        let (repo, rest) = rest.split_once('/')?;
        let rkey = rest.strip_prefix("app.bsky.feed.post/")?;
        Some(format!("https://bsky.app/profile/{repo}/post/{rkey}"))
    }
}

#[async_trait]
impl Publisher for Bluesky {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        let variant = job.variant;
        let payload = variant.payload.clone().unwrap_or_default();
        let key = job.delivery.idempotency_key();
        // The first post carries the images, or else the link card.
        let embed = if !variant.images.is_empty() {
            Some(self.images(&variant.images, services).await?)
        } else {
            record::external(&payload["external"])
        };
        let mut thread: Vec<StrongRef> = Vec::new();
        for (i, part) in variant.parts.iter().enumerate() {
            if i > 0 && services.stopping.is_set() {
                // The next attempt puts the parts up again at the same
                // keys: those already there are refused and read back.
                return Err(PublishError::Stopped(format!(
                    "stopped by shutdown: {i} of {} posts of the thread are up; resumes with post {}",
                    variant.parts.len(),
                    i + 1
                )));
            }
            let mut post = json!({
                "$type": POST,
                "text": part.text,
                "createdAt": services.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            });
            if let Some(langs) = payload.get("langs").filter(|l| l.is_array()) {
                post["langs"] = langs.clone();
            }
            let facets = self.facets(part.annotations.as_ref(), services).await?;
            if !facets.is_empty() {
                post["facets"] = json!(facets);
            }
            match (i, &embed, thread.first(), thread.last()) {
                (0, Some(e), _, _) => post["embed"] = e.clone(),
                (_, _, Some(root), Some(parent)) => post["reply"] = record::reply(root, parent),
                _ => {}
            }
            let rkey = tid::derive(job.delivery.due_at, &key, i);
            thread.push(self.put(&rkey, &post, services).await?);
        }
        let first = thread
            .into_iter()
            .next()
            .ok_or_else(|| PublishError::permanent("the variant has no parts".into()))?;
        Ok(Receipt {
            remote_url: Self::web_url(&first.uri),
            remote_id: Some(first.uri),
        })
    }

    /// The keys are known, so the records can simply be looked up. All
    /// parts there: sent. Some missing: not (fully) sent — publishing again
    /// is safe, as parts already written are refused and read back.
    async fn reconcile(&self, job: &Job<'_>, services: &Services) -> Reconciled {
        let key = job.delivery.idempotency_key();
        let mut first = None;
        for i in 0..job.variant.parts.len() {
            match self
                .get(&tid::derive(job.delivery.due_at, &key, i), services)
                .await
            {
                Ok(Some((found, _))) => {
                    first.get_or_insert(found);
                }
                Ok(None) => return Reconciled::NotSent,
                Err(_) => return Reconciled::Unknown,
            }
        }
        match first {
            Some(f) => Reconciled::Sent(Receipt {
                remote_url: Self::web_url(&f.uri),
                remote_id: Some(f.uri),
            }),
            None => Reconciled::NotSent,
        }
    }

    async fn check(&self, services: &Services) -> Result<String, PublishError> {
        let s = self.session(services).await.map_err(|f| f.error)?;
        Ok(format!(
            "signed in as {} ({}); the session is kept and refreshed, not re-created per post",
            s.handle, s.did
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_urls_come_from_at_uris() {
        assert_eq!(
            Bluesky::web_url("at://did:plc:abc/app.bsky.feed.post/3kaaaaaaaaab2").as_deref(),
            Some("https://bsky.app/profile/did:plc:abc/post/3kaaaaaaaaab2")
        );
        assert_eq!(Bluesky::web_url("https://x"), None);
    }
}
