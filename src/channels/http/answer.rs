//! What an HTTP answer means for the dispatcher: the status decides
//! between `Retry`, `Credentials` and `Permanent`, and the headers say how
//! long to wait; the body only gives the message.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, DATE, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};

use super::message::error_message;
use crate::channels::PublishError;

/// The most of a response body crier reads; answers are small JSON documents.
pub const MAX_BODY: usize = 1024 * 1024;

/// Passes a 2xx response through; otherwise reads (a bounded part of) the
/// body for the network's own words and classifies with [`classify`].
pub async fn check(response: Response, now: DateTime<Utc>) -> Result<Response, PublishError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let headers = response.headers().clone();
    // The status alone decides the kind; a body we cannot read only costs
    // the message.
    let body = read_text(response).await.unwrap_or_default();
    Err(classify(status, &headers, &body, now).expect_err("2xx was returned above"))
}

/// Reads a response body as text, stopping at [`MAX_BODY`] bytes.
pub async fn read_text(mut response: Response) -> Result<String, reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY - bytes.len();
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() == MAX_BODY {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// What an HTTP answer means for the dispatcher.
///
/// - 2xx: `Ok`.
/// - 429: `Retry`, after `Retry-After` or else the rate-limit reset header.
/// - 408 and 5xx: `Retry`, after `Retry-After` if given (503 usually does).
///   A 502/504 comes from a gateway that may already have passed the request
///   on; requests that create something with no idempotency key apply
///   [`gateway_uncertain`](super::gateway_uncertain).
/// - 401: `Credentials`. 403: `Credentials` when it is clearly about the
///   token (a `WWW-Authenticate` challenge, or a message about tokens,
///   scopes or OAuth), else `Permanent` (403 also means "not allowed to post
///   this", e.g. a duplicate).
/// - 3xx: `Permanent` (redirects are not followed; see [`builder`](super::builder)).
/// - Any other status: `Permanent`, with the network's message.
///
/// Instants in headers are measured from the response's `Date` when it has
/// one (the server's clock, so our clock's skew does not matter), else `now`.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(), PublishError> {
    if status.is_success() {
        return Ok(());
    }
    let message = match error_message(body) {
        Some(m) => format!("HTTP {status}: {m}"),
        None => format!("HTTP {status}"),
    };
    let code = status.as_u16();
    match code {
        429 => Err(PublishError::Retry {
            message,
            status: Some(code),
            after: retry_after(headers, now).or_else(|| rate_limit_reset(headers, now)),
        }),
        408 | 500..=599 => Err(PublishError::Retry {
            message,
            status: Some(code),
            after: retry_after(headers, now),
        }),
        401 => Err(PublishError::Credentials {
            message,
            status: Some(code),
        }),
        403 if headers.contains_key(WWW_AUTHENTICATE) || mentions_credentials(&message) => {
            Err(PublishError::Credentials {
                message,
                status: Some(code),
            })
        }
        300..=399 => Err(PublishError::Permanent {
            message: format!(
                "{message} (a redirect: crier does not follow redirects when \
                 publishing; check the configured URL)"
            ),
            status: Some(code),
        }),
        _ => Err(PublishError::Permanent {
            message,
            status: Some(code),
        }),
    }
}

fn mentions_credentials(message: &str) -> bool {
    let lower = message.to_lowercase();
    ["token", "scope", "oauth", "authenticat", "credential"]
        .iter()
        .any(|w| lower.contains(w))
}

/// `Retry-After` as a wait: delta-seconds, or an HTTP-date. A date in the
/// past means "now" (zero).
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = header_str(headers, &RETRY_AFTER)?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(until(at.with_timezone(&Utc), reference(headers, now)))
}

/// A rate-limit reset header (`X-RateLimit-Reset`, X's `x-rate-limit-reset`)
/// as a wait. Networks disagree on the unit: Unix seconds (X, GitHub,
/// Discord, possibly fractional), an RFC 3339 instant (Mastodon), or, from a
/// few, seconds to wait; a number below 10⁹ (2001) can only be the last.
pub fn rate_limit_reset(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = ["x-ratelimit-reset", "x-rate-limit-reset"]
        .iter()
        .find_map(|name| header_str(headers, &HeaderName::from_static(name)))?;
    if let Ok(number) = value.parse::<f64>() {
        if !number.is_finite() || number < 0.0 {
            return None;
        }
        if number < 1e9 {
            return Some(Duration::from_secs_f64(number));
        }
        let at = DateTime::from_timestamp_millis((number * 1000.0) as i64)?;
        return Some(until(at, reference(headers, now)));
    }
    let at = DateTime::parse_from_rfc3339(value).ok()?;
    Some(until(at.with_timezone(&Utc), reference(headers, now)))
}

/// The instant header times are measured from: the server's `Date`, or `now`.
fn reference(headers: &HeaderMap, now: DateTime<Utc>) -> DateTime<Utc> {
    header_str(headers, &DATE)
        .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
        .map_or(now, |d| d.with_timezone(&Utc))
}

fn until(at: DateTime<Utc>, from: DateTime<Utc>) -> Duration {
    (at - from).to_std().unwrap_or(Duration::ZERO)
}

fn header_str<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}
