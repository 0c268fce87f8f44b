//! What a failure to get any answer means: `Retry` only when nothing can
//! have reached the other side, else `Uncertain`; never with a URL.

use std::error::Error as _;

use super::message::redact_urls;
use crate::channels::PublishError;

/// What a failure to get any answer means.
///
/// reqwest's `is_connect()` covers everything before the first request byte
/// is written — DNS, TCP connect (refused, unreachable, connect timeout) and
/// the TLS handshake — so nothing reached the other side: `Retry`. Once the
/// connection is open the request may have been written and acted on, so a
/// timeout, a reset, a connection closed before the answer, or a body error
/// is `Uncertain`. Anything unrecognised is also `Uncertain`: guessing
/// "retry" is how posts go out twice. (hyper itself retries a pooled
/// connection that closed before the request was written, so those never
/// surface here.)
pub fn transport_error(err: &reqwest::Error) -> PublishError {
    let detail = describe(err);
    if err.is_builder() {
        // The request could not even be built: a bug or a bad option, and
        // sending again will not change it.
        PublishError::permanent(format!("could not build the request: {detail}"))
    } else if err.is_connect() {
        PublishError::retry(
            format!("could not connect (nothing was sent): {detail}"),
            None,
        )
    } else if err.is_timeout() {
        PublishError::uncertain(format!(
            "timed out waiting for the answer; the request may have been received: {detail}"
        ))
    } else {
        PublishError::uncertain(format!(
            "the connection failed before a complete answer; the request may have been received: {detail}"
        ))
    }
}

/// The causes of a reqwest error, without the URL reqwest attaches to its
/// own message (and with any URL a cause mentions redacted).
fn describe(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Layers often repeat their cause's message verbatim.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        // reqwest's own words for the kind, minus " for url (...)".
        let own = err.to_string();
        parts.push(own.split(" for url").next().unwrap_or_default().to_string());
    }
    redact_urls(&parts.join(": "))
}
