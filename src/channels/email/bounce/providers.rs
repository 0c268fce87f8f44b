//! What each relay's webhook says, once its signature is checked: the
//! events in the payload as (event id, kind, status, detail, the event's
//! own JSON). Shapes as each provider documents them; unknown event types
//! (deliveries, opens) are skipped.

use base64::Engine;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::Value;
use sha2::Sha256;

use crate::secret::Secret;
use crate::store::lists::BounceKind;

/// Signed timestamps older or newer than this are refused (replays).
pub const TOLERANCE_SECONDS: i64 = 15 * 60;

/// One event from a payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: BounceKind,
    pub status: Option<String>,
    pub detail: Option<String>,
    /// The event as sent: where its crier token is looked for.
    pub json: Value,
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Postmark: HTTP basic auth on the webhook URL (`user:password` in the
/// channel's secret), checked in constant time.
pub fn postmark_auth(authorization: Option<&str>, expected: &Secret) -> bool {
    let Some(given) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
        return false;
    };
    let want = base64::engine::general_purpose::STANDARD.encode(expected.expose());
    equal(given.trim().as_bytes(), want.as_bytes())
}

/// Postmark bounce and spam complaint webhooks (one record a request).
pub fn postmark(payload: &Value) -> Vec<Event> {
    let kind = match (
        payload["RecordType"].as_str(),
        payload["Type"].as_str().unwrap_or(""),
    ) {
        (Some("SpamComplaint"), _) => BounceKind::Complaint,
        (Some("Bounce"), "HardBounce" | "BadEmailAddress" | "Blocked") => BounceKind::Hard,
        (Some("Bounce"), "SoftBounce" | "Transient" | "DnsError" | "MailboxFull") => {
            BounceKind::Soft
        }
        _ => return Vec::new(),
    };
    let Some(id) = text(payload, "ID") else {
        return Vec::new();
    };
    vec![Event {
        id: format!("postmark:{id}"),
        kind,
        status: None,
        detail: text(payload, "Details").or_else(|| text(payload, "Description")),
        json: payload.clone(),
    }]
}

/// Mailgun: `signature.signature` is hex HMAC-SHA256, with the webhook
/// signing key, of `timestamp` then `token`; the timestamp must be recent.
pub fn mailgun_signed(payload: &Value, key: &Secret, now: i64) -> bool {
    let s = &payload["signature"];
    let (Some(ts), Some(token), Some(sig)) = (
        s["timestamp"].as_str(),
        s["token"].as_str(),
        s["signature"].as_str(),
    ) else {
        return false;
    };
    if !ts
        .parse::<i64>()
        .is_ok_and(|t| (now - t).abs() <= TOLERANCE_SECONDS)
    {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("any key length");
    mac.update(ts.as_bytes());
    mac.update(token.as_bytes());
    let want = hex::encode(mac.finalize().into_bytes());
    equal(sig.to_ascii_lowercase().as_bytes(), want.as_bytes())
}

/// Mailgun's `failed` (permanent or temporary) and `complained` events.
pub fn mailgun(payload: &Value) -> Vec<Event> {
    let e = &payload["event-data"];
    let kind = match (e["event"].as_str(), e["severity"].as_str()) {
        (Some("complained"), _) => BounceKind::Complaint,
        (Some("failed"), Some("permanent")) => BounceKind::Hard,
        (Some("failed"), _) => BounceKind::Soft,
        _ => return Vec::new(),
    };
    let Some(id) = text(e, "id") else {
        return Vec::new();
    };
    let status = &e["delivery-status"];
    vec![Event {
        id: format!("mailgun:{id}"),
        kind,
        status: text(status, "enhanced-code"),
        detail: text(status, "message").or_else(|| text(status, "description")),
        json: e.clone(),
    }]
}

/// SendGrid's signed event webhook: an ECDSA P-256 signature (base64 DER)
/// over the timestamp header then the raw body, with the public key from
/// the SendGrid settings (base64 DER); the timestamp must be recent.
pub fn sendgrid_signed(
    body: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    key: &VerifyingKey,
    now: i64,
) -> bool {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return false;
    };
    if !timestamp
        .parse::<i64>()
        .is_ok_and(|t| (now - t).abs() <= TOLERANCE_SECONDS)
    {
        return false;
    }
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(sig) = Signature::from_der(&der) else {
        return false;
    };
    let mut signed = timestamp.as_bytes().to_vec();
    signed.extend_from_slice(body);
    key.verify(&signed, &sig).is_ok()
}

/// The public key as SendGrid shows it (base64 of DER), or why not.
pub fn sendgrid_key(base64_der: &str) -> Result<VerifyingKey, String> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(base64_der.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    VerifyingKey::from_public_key_der(&der).map_err(|e| format!("not a P-256 public key: {e}"))
}

/// SendGrid's events: `bounce` (type bounce: hard; blocked: soft),
/// `deferred` (soft), `spamreport` (complaint).
pub fn sendgrid(payload: &Value) -> Vec<Event> {
    let Some(events) = payload.as_array() else {
        return Vec::new();
    };
    events
        .iter()
        .filter_map(|e| {
            let kind = match (e["event"].as_str(), e["type"].as_str()) {
                (Some("spamreport"), _) => BounceKind::Complaint,
                (Some("bounce"), Some("blocked")) => BounceKind::Soft,
                (Some("bounce"), _) => BounceKind::Hard,
                (Some("deferred"), _) => BounceKind::Soft,
                _ => return None,
            };
            Some(Event {
                id: format!("sendgrid:{}", text(e, "sg_event_id")?),
                kind,
                status: text(e, "status"),
                detail: text(e, "reason").or_else(|| text(e, "response")),
                json: e.clone(),
            })
        })
        .collect()
}

/// Amazon SES's notification (the `Message` of a verified SNS
/// notification, `sns_id` its MessageId): `Bounce` (Permanent: hard;
/// Transient and Undetermined: soft) and `Complaint`, as SES notifications
/// (`notificationType`) or event publishing (`eventType`) write them. Its
/// `mail` object is where the token is looked for: `source` (the VERP
/// envelope sender), the original `headers` (X-Crier-Ref), or `tags`.
pub fn ses(message: &Value, sns_id: &str) -> Vec<Event> {
    let kind = message["notificationType"]
        .as_str()
        .or(message["eventType"].as_str());
    let (kind, status, detail, feedback) = match kind {
        Some("Bounce") => {
            let b = &message["bounce"];
            let recipient = &b["bouncedRecipients"][0];
            let kind = match b["bounceType"].as_str() {
                Some("Permanent") => BounceKind::Hard,
                _ => BounceKind::Soft,
            };
            let detail = text(recipient, "diagnosticCode").or_else(|| {
                let (t, sub) = (text(b, "bounceType")?, text(b, "bounceSubType")?);
                Some(format!("{t} bounce ({sub})"))
            });
            (
                kind,
                text(recipient, "status"),
                detail,
                text(b, "feedbackId"),
            )
        }
        Some("Complaint") => {
            let c = &message["complaint"];
            let detail = text(c, "complaintFeedbackType").map(|t| format!("complaint: {t}"));
            (BounceKind::Complaint, None, detail, text(c, "feedbackId"))
        }
        _ => return Vec::new(),
    };
    vec![Event {
        id: format!("ses:{}", feedback.as_deref().unwrap_or(sns_id)),
        kind,
        status,
        detail,
        json: message["mail"].clone(),
    }]
}

/// The header a relay echoes back in its events, carrying the token
/// (`relay` in `[channels.<name>.bounces]`).
pub fn relay_header(relay: &str, token: &str) -> Option<(&'static str, String)> {
    match relay {
        "postmark" => Some(("X-PM-Metadata-crier_ref", token.to_string())),
        "mailgun" => Some((
            "X-Mailgun-Variables",
            format!("{{\"crier_ref\": \"{token}\"}}"),
        )),
        "sendgrid" => Some((
            "X-SMTPAPI",
            format!("{{\"unique_args\": {{\"crier_ref\": \"{token}\"}}}}"),
        )),
        // A message tag: SES's event publishing returns it in `mail.tags`.
        "ses" => Some(("X-SES-MESSAGE-TAGS", format!("crier_ref={token}"))),
        _ => None,
    }
}

/// The relays `relay` may name.
pub const RELAYS: &[&str] = &["postmark", "mailgun", "sendgrid", "ses"];
