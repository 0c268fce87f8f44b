//! XRPC calls and what their answers mean.
//!
//! Bluesky names its errors (`{"error": "ExpiredToken", "message": ..}`):
//! the session code needs the name (an expired access token is renewed,
//! not reported), and the publisher needs `InvalidSwap` and
//! `RecordNotFound`. Everything else is read by the shared
//! [`http::classify`].

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{RequestBuilder, Response};

use crate::channels::{http, PublishError};
use crier_schedule::Clock;

/// A failed call: how the dispatcher should see it (with the HTTP status),
/// plus the XRPC error name.
#[derive(Debug)]
pub struct Failure {
    pub error: PublishError,
    pub name: Option<String>,
}

impl Failure {
    /// The access (or refresh) token no longer works: renew the session.
    pub fn is_expired_token(&self) -> bool {
        matches!(self.name.as_deref(), Some("ExpiredToken" | "InvalidToken"))
            || self.status() == Some(401)
    }

    pub fn status(&self) -> Option<u16> {
        self.error.status()
    }

    pub fn is(&self, name: &str) -> bool {
        self.name.as_deref() == Some(name)
    }

    /// For reads made before anything is posted (resolving a handle,
    /// uploading a blob): a lost answer changed nothing, so try again.
    pub fn before_posting(self) -> PublishError {
        match self.error {
            PublishError::Uncertain { message, status } => PublishError::Retry {
                message: format!("{message} (nothing was posted)"),
                status,
                after: None,
            },
            other => other,
        }
    }
}

impl From<PublishError> for Failure {
    fn from(error: PublishError) -> Failure {
        Failure { error, name: None }
    }
}

/// Sends one call; `Ok` only for a 2xx answer.
pub async fn send(request: RequestBuilder, clock: &dyn Clock) -> Result<Response, Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| http::transport_error(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let mut headers = response.headers().clone();
    // Bluesky's rate-limit headers carry no `x-` prefix; the reset is Unix
    // seconds, which the shared reading understands under its usual name.
    if let Some(reset) = headers.get("ratelimit-reset").cloned() {
        headers
            .entry(HeaderName::from_static("x-ratelimit-reset"))
            .or_insert(reset);
    }
    let body = http::read_text(response).await.unwrap_or_default();
    let name = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_string));
    let error =
        http::classify(status, &headers, &body, clock.now()).expect_err("2xx returned above");
    Err(Failure { error, name })
}

/// Reads a 2xx answer as JSON. The call was acted on, so an unreadable
/// answer is `Uncertain`.
pub async fn json<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, Failure> {
    let text = http::read_text(response)
        .await
        .map_err(|e| http::transport_error(&e))?;
    serde_json::from_str(&text).map_err(|e| {
        PublishError::uncertain(format!(
            "the server accepted the call but its answer is unreadable: {e}"
        ))
        .into()
    })
}

pub fn bearer(token: &str) -> HeaderValue {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"));
    v.set_sensitive(true);
    v
}
