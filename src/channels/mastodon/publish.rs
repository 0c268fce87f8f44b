//! Posting to Mastodon: `POST /api/v1/statuses`, a thread as a reply chain.
//!
//! Every status request carries `Idempotency-Key: <delivery key>-<part>`,
//! the same on every attempt of the delivery. Mastodon remembers a key for
//! an hour and answers a repeat with the status it already made, so a
//! resend after a lost answer never duplicates. Each posted part is also
//! recorded (`channels/thread.rs`), so a thread resumed after the key is
//! forgotten still starts after the last part up.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{media, InstanceLimits, Mastodon};
use crate::channels::thread::Thread;
use crate::channels::{http, Job, PublishError, Publisher, Reconciled, Services};
use crate::delivery::Receipt;
use crate::secret::Secret;

/// How long Mastodon remembers an `Idempotency-Key` (one hour), less a
/// margin for clock skew and the time the interrupted request took.
const KEY_MEMORY: Duration = Duration::from_secs(50 * 60);

#[derive(Debug, Deserialize)]
pub(super) struct Status {
    pub id: String,
    #[serde(default)]
    pub url: Option<String>,
}

impl Mastodon {
    pub(super) fn token(&self) -> Result<Secret, PublishError> {
        self.options
            .token_env
            .resolve()
            .map_err(|e| PublishError::credentials(e.to_string()))
    }

    pub(super) fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.options.instance.trim_end_matches('/'))
    }

    /// Posts one status, resending once with the same key if the answer
    /// was lost: the key makes the repeat safe, and seconds later it is
    /// well inside the server's memory of it.
    async fn post_status(
        &self,
        form: &Value,
        key: &str,
        token: &Secret,
        services: &Services,
    ) -> Result<Status, PublishError> {
        let attempt = || async {
            let request = services
                .http
                .post(self.endpoint("/api/v1/statuses"))
                .bearer_auth(token.expose())
                .header("Idempotency-Key", key)
                .json(form);
            let response = http::send(request, services.clock.as_ref()).await?;
            read_json::<Status>(response).await
        };
        match attempt().await {
            Err(PublishError::Uncertain { .. }) => attempt().await,
            other => other,
        }
    }
}

/// Reads a 2xx answer. The request was acted on, so an unreadable answer
/// is `Uncertain` (we cannot name what was made), never `Retry`.
pub(super) async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, PublishError> {
    let text = http::read_text(response)
        .await
        .map_err(|e| http::transport_error(&e))?;
    serde_json::from_str(&text).map_err(|e| {
        PublishError::uncertain(format!(
            "the instance accepted the request but its answer is unreadable: {e}"
        ))
    })
}

#[async_trait]
impl Publisher for Mastodon {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        let token = self.token()?;
        let payload = job.variant.payload.clone().unwrap_or_default();
        let mut thread = Thread::resume(job, services).await?;
        // Images go with the first post of a thread, where they are seen.
        let media_ids = match thread.next() {
            0 => media::upload_all(self, &job.variant.images, &token, services).await?,
            _ => Vec::new(),
        };
        let key = job.delivery.idempotency_key();
        for (i, part) in job.variant.parts.iter().enumerate().skip(thread.next()) {
            let mut form = json!({
                "status": part.text,
                "visibility": payload.get("visibility").cloned().unwrap_or(json!("public")),
            });
            if let Some(lang) = payload.get("language").filter(|l| l.is_string()) {
                form["language"] = lang.clone();
            }
            if i == 0 && !media_ids.is_empty() {
                form["media_ids"] = json!(media_ids);
            }
            if let Some(parent) = thread.previous_id() {
                form["in_reply_to_id"] = json!(parent);
            }
            match self
                .post_status(&form, &format!("{key}-{i}"), &token, services)
                .await
            {
                Ok(status) => {
                    thread
                        .posted(Receipt {
                            remote_id: Some(status.id),
                            remote_url: status.url,
                        })
                        .await?
                }
                Err(e) => return Err(thread.failed(e)),
            }
        }
        thread.finish()
    }

    /// Within the key's memory, sending again is safe: the instance answers
    /// with the status the lost request made, or makes it now. Later, the
    /// key is forgotten and a resend could post twice, so a human decides.
    async fn reconcile(&self, job: &Job<'_>, services: &Services) -> Reconciled {
        let started = job.delivery.request_started_at;
        if !within_key_memory(started, services.clock.now()) {
            return Reconciled::Unknown;
        }
        match self.publish(job, services).await {
            Ok(receipt) => Reconciled::Sent(receipt),
            // Refused afresh under the same key: the lost request had not
            // made the status either (else the key would have returned it).
            Err(PublishError::Permanent { .. }) => Reconciled::NotSent,
            Err(_) => Reconciled::Unknown,
        }
    }

    async fn check(&self, services: &Services) -> Result<String, PublishError> {
        let token = self.token()?;
        let me = services
            .http
            .get(self.endpoint("/api/v1/accounts/verify_credentials"))
            .bearer_auth(token.expose());
        let me: Value = read_json(http::send(me, services.clock.as_ref()).await?).await?;
        let limits = self.read_instance(services).await?;
        Ok(describe(me["acct"].as_str().unwrap_or("?"), &limits))
    }

    /// The instance's limits; public, so no token is needed or sent.
    async fn learn(&self, services: &Services) -> Result<Option<Value>, PublishError> {
        let limits = self.read_instance(services).await?;
        Ok(Some(
            serde_json::to_value(limits).expect("JSON of plain data"),
        ))
    }
}

impl Mastodon {
    async fn read_instance(&self, services: &Services) -> Result<InstanceLimits, PublishError> {
        let request = services.http.get(self.endpoint("/api/v2/instance"));
        let answer: Value = read_json(http::send(request, services.clock.as_ref()).await?).await?;
        Ok(InstanceLimits::read(self.instance_url(), &answer))
    }
}

/// What `crier channels test` says: the account and the instance's limits
/// (which it then saves for `check` and `preview`).
fn describe(acct: &str, limits: &InstanceLimits) -> String {
    let show = |n: Option<usize>| n.map_or("unknown".to_string(), |n| n.to_string());
    format!(
        "signed in as @{acct}; the instance allows {} characters per status (URLs count {}), {} images",
        show(limits.max_characters),
        show(limits.characters_reserved_per_url),
        show(limits.max_media_attachments)
    )
}

fn within_key_memory(started: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    started.is_some_and(|s| (now - s).to_std().is_ok_and(|age| age < KEY_MEMORY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn reconciling_resends_only_while_the_key_is_remembered() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        let ago = |m| Some(now - chrono::TimeDelta::minutes(m));
        assert!(within_key_memory(ago(1), now));
        assert!(within_key_memory(ago(49), now));
        assert!(!within_key_memory(ago(51), now));
        assert!(!within_key_memory(None, now));
    }
}
