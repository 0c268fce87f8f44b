//! Relay webhooks at `/lists/<channel>/events/<provider>`: Postmark
//! (basic auth), Mailgun (HMAC-SHA256), SendGrid (ECDSA P-256) and Amazon
//! SES through SNS (RSA, the certificate from SNS: `sns.rs`). A
//! request whose signature does not verify is refused (401) before its
//! body is read as events, and changes nothing. Each event is attributed
//! by the crier token the relay echoes back (`relay` puts it in the
//! header that relay returns), never by address, and recorded once by the
//! provider's event id.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use crier_schedule::Clock;
use p256::ecdsa::VerifyingKey;
use serde_json::Value;
use tracing::warn;

use super::super::verp::{self, Sent};
use super::providers::{self, Event};
use super::sns::{Refused, Sns, Verified};
use super::BounceOptions;
use crate::secret::Secret;
use crate::store::lists::{BounceEvent, SoftBounces};
use crate::store::ChannelStore;

/// What the webhook routes of one channel hold.
pub struct Hooks {
    pub channel: String,
    pub key: Secret,
    pub soft: SoftBounces,
    pub postmark: Option<Secret>,
    pub mailgun: Option<Secret>,
    pub sendgrid: Option<VerifyingKey>,
    pub ses: Option<Sns>,
    pub store: Arc<dyn ChannelStore>,
    pub clock: Arc<dyn Clock>,
}

impl Hooks {
    /// The secrets named in the options, as far as they are set; a
    /// provider whose secret is missing answers 404 (and is warned about).
    pub fn new(
        channel: &str,
        options: &BounceOptions,
        key: Secret,
        store: Arc<dyn ChannelStore>,
        clock: Arc<dyn Clock>,
    ) -> Hooks {
        let secret = |r: &Option<crate::secret::SecretRef>, what: &str| {
            r.as_ref().and_then(|r| match r.resolve() {
                Ok(s) => Some(s),
                Err(e) => {
                    warn!(channel, "{what} webhook disabled: {e}");
                    None
                }
            })
        };
        let sendgrid = options.sendgrid_public_key.as_deref().and_then(|k| {
            providers::sendgrid_key(k)
                .map_err(|e| warn!(channel, "SendGrid webhook disabled: {e}"))
                .ok()
        });
        let ses = (!options.ses_topic_arns.is_empty())
            .then(|| {
                Sns::new(
                    options.ses_topic_arns.clone(),
                    options.sns_test_ca_file.as_deref(),
                )
                .map_err(|e| warn!(channel, "SES webhook disabled: {e}"))
                .ok()
            })
            .flatten();
        Hooks {
            channel: channel.to_string(),
            key,
            soft: options.soft(),
            postmark: secret(&options.postmark_basic_auth_env, "Postmark"),
            mailgun: secret(&options.mailgun_signing_key_env, "Mailgun"),
            sendgrid,
            ses,
            store,
            clock,
        }
    }

    pub fn router(self) -> Router {
        let path = format!("/lists/{}/events/{{provider}}", self.channel);
        Router::new()
            .route(&path, post(receive))
            .with_state(Arc::new(self))
    }
}

async fn receive(
    State(h): State<Arc<Hooks>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    if provider == "ses" {
        return ses(&h, &body).await;
    }
    let now = h.clock.now().timestamp();
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let json = || serde_json::from_slice::<Value>(&body).ok();
    let events = match (provider.as_str(), &h.postmark, &h.mailgun, &h.sendgrid) {
        ("postmark", Some(secret), _, _) => {
            if !providers::postmark_auth(header("authorization"), secret) {
                return refused();
            }
            json().map(|p| providers::postmark(&p))
        }
        ("mailgun", _, Some(key), _) => match json() {
            Some(p) if providers::mailgun_signed(&p, key, now) => Some(providers::mailgun(&p)),
            _ => return refused(),
        },
        ("sendgrid", _, _, Some(key)) => {
            let signature = header("x-twilio-email-event-webhook-signature");
            let timestamp = header("x-twilio-email-event-webhook-timestamp");
            if !providers::sendgrid_signed(&body, signature, timestamp, key, now) {
                return refused();
            }
            json().map(|p| providers::sendgrid(&p))
        }
        _ => return not_found(),
    };
    let Some(events) = events else {
        return (StatusCode::BAD_REQUEST, "the body is not JSON\n".into());
    };
    match record(&h, &provider, events).await {
        Ok(n) => (StatusCode::OK, format!("{n} recorded\n")),
        // The relay tries again later: nothing was lost.
        Err(e) => {
            warn!(channel = %h.channel, "cannot record {provider} events: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later\n".into())
        }
    }
}

/// Amazon SES through SNS: a subscription is confirmed, a notification's
/// SES event recorded, both only once the SNS signature verified.
async fn ses(h: &Hooks, body: &[u8]) -> (StatusCode, String) {
    let Some(sns) = &h.ses else {
        return not_found();
    };
    let (id, message) = match sns.verify(body).await {
        Ok(Verified::Notification { id, message }) => (id, message),
        Ok(Verified::Subscribe(url)) => {
            return match sns.confirm(&url).await {
                Ok(()) => (StatusCode::OK, "subscription confirmed\n".into()),
                Err(e) => {
                    warn!(channel = %h.channel, "SES webhook: {e}");
                    (StatusCode::BAD_GATEWAY, format!("{e}\n"))
                }
            };
        }
        Ok(Verified::Unsubscribed) => {
            warn!(channel = %h.channel, "SES webhook: SNS says the subscription was removed");
            return (StatusCode::OK, "noted\n".into());
        }
        Err(refused) => {
            warn!(channel = %h.channel, "SES webhook refused a message: {refused:?}");
            return match refused {
                Refused::Malformed(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")),
                Refused::Topic(e) => (StatusCode::FORBIDDEN, format!("{e}\n")),
                Refused::Signature(e) => (StatusCode::UNAUTHORIZED, format!("{e}\n")),
                Refused::Unavailable(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")),
            };
        }
    };
    let Ok(event) = serde_json::from_str::<Value>(&message) else {
        return (StatusCode::BAD_REQUEST, "the Message is not JSON\n".into());
    };
    match record(h, "ses", providers::ses(&event, &id)).await {
        Ok(n) => (StatusCode::OK, format!("{n} recorded\n")),
        Err(e) => {
            warn!(channel = %h.channel, "cannot record ses events: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later\n".into())
        }
    }
}

fn not_found() -> (StatusCode, String) {
    (StatusCode::NOT_FOUND, "no such event webhook here\n".into())
}

fn refused() -> (StatusCode, String) {
    (
        StatusCode::UNAUTHORIZED,
        "signature or credentials do not verify\n".into(),
    )
}

async fn record(h: &Hooks, provider: &str, events: Vec<Event>) -> Result<usize, String> {
    let mut n = 0;
    for e in events {
        let Some(sent) = find_ref(&h.key, &h.channel, &e.json) else {
            warn!(channel = %h.channel, event = %e.id, "{provider} event with no genuine crier token; not applied");
            continue;
        };
        let event = BounceEvent {
            key: e.id,
            channel: h.channel.clone(),
            delivery_id: sent.delivery,
            subscriber_id: sent.subscriber,
            kind: e.kind,
            source: provider.to_string(),
            status: e.status,
            detail: e.detail,
        };
        h.store
            .lists()
            .record_bounce(&event, h.soft, h.clock.now())
            .await
            .map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(n)
}

/// The token a relay echoed: a `crier_ref` value anywhere in the event
/// (metadata, user variables, unique arguments), or a VERP address or
/// `X-Crier-Ref` header in its text.
pub fn find_ref(key: &Secret, channel: &str, event: &Value) -> Option<Sent> {
    fn walk(v: &Value, f: &mut dyn FnMut(&str, &Value) -> Option<Sent>) -> Option<Sent> {
        match v {
            // A header as a name/value pair (SES's `mail.headers`).
            Value::Object(m) => match (m.get("name"), m.get("value")) {
                (Some(Value::String(name)), Some(value)) => f(name, value),
                _ => None,
            }
            .or_else(|| {
                m.iter()
                    .find_map(|(k, v)| f(k, v).or_else(|| walk(v, &mut *f)))
            }),
            Value::Array(a) => a.iter().find_map(|v| walk(v, &mut *f)),
            _ => None,
        }
    }
    let mut named = |k: &str, v: &Value| {
        let named = k.eq_ignore_ascii_case("crier_ref") || k.eq_ignore_ascii_case("x-crier-ref");
        // SES's message tags are lists of values.
        let v = v.as_array().and_then(|a| a.first()).unwrap_or(v);
        v.as_str()
            .filter(|_| named)
            .and_then(|t| verp::decode(key, channel, t.trim()))
    };
    walk(event, &mut named).or_else(|| verp::find(key, channel, &event.to_string()))
}
