//! HTTP plumbing shared by every channel that publishes over the network:
//! one client configuration, and one reading of what an answer (or the lack
//! of one) means for the dispatcher.
//!
//! The rule that shapes everything here: a failure is only [`Retry`] when we
//! know the other side did not act on the request (it said so, or the request
//! never left). When the request may have been received and we have no
//! answer, the failure is [`Uncertain`] and a human decides.
//!
//! Errors never carry a URL: chat webhook URLs (Slack, Discord, Teams) are
//! themselves secrets, and reqwest names the URL in its messages.
//!
//! [`Retry`]: PublishError::Retry
//! [`Uncertain`]: PublishError::Uncertain
//!
//! `client.rs` builds the client, `answer.rs` reads an answer,
//! `transport.rs` the lack of one, `message.rs` the network's words, and
//! `rules.rs` holds the single rules (loopback, gateways).

mod answer;
mod client;
mod message;
mod rules;
#[cfg(test)]
mod tests;
mod transport;

use crier_schedule::Clock;
use reqwest::{RequestBuilder, Response};

use super::PublishError;
pub use answer::{check, classify, rate_limit_reset, read_text, retry_after, MAX_BODY};
pub use client::{builder, client, install_crypto_provider, CONNECT_TIMEOUT, TIMEOUT, USER_AGENT};
pub use message::error_message;
pub use rules::{gateway_uncertain, https_or_loopback};
pub use transport::transport_error;

/// Sends a request and checks the answer: `Ok` only for a 2xx response,
/// whose body is left for the caller to read (see [`read_text`]).
/// `clock` dates the answer, for rate-limit resets given as instants.
pub async fn send(request: RequestBuilder, clock: &dyn Clock) -> Result<Response, PublishError> {
    let response = request.send().await.map_err(|e| transport_error(&e))?;
    check(response, clock.now()).await
}

/// [`send`] for a request that creates a post on a network with no
/// idempotency key (X, Facebook, LinkedIn, chat webhooks): a gateway error
/// is `Uncertain` rather than `Retry` (see [`gateway_uncertain`]).
pub async fn send_once(
    request: RequestBuilder,
    clock: &dyn Clock,
) -> Result<Response, PublishError> {
    let response = request.send().await.map_err(|e| transport_error(&e))?;
    check(response, clock.now())
        .await
        .map_err(|e| gateway_uncertain(e, "the post"))
}
