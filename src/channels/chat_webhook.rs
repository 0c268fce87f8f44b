//! What Slack, Teams and Discord incoming webhooks share: the webhook URL
//! is the only credential (anyone holding it can post), so it lives in an
//! environment variable and is never printed — errors name the variable,
//! and `http` strips URLs from transport errors. None of the three takes an
//! idempotency key, so a request whose answer is lost is `Uncertain`.

use super::{http, Job, PublishError, Services};
use crate::secret::{Secret, SecretRef};
use crate::variant::Variant;

/// Reads the webhook URL. A missing or non-https value is a credentials
/// problem (the channel is held until someone sets a proper URL).
pub(super) fn url(env: &SecretRef) -> Result<Secret, PublishError> {
    let url = env
        .resolve()
        .map_err(|e| PublishError::credentials(e.to_string()))?;
    if http::https_or_loopback(url.expose()) {
        Ok(url)
    } else {
        Err(PublishError::credentials(format!(
            "environment variable `{}` does not hold an https:// webhook URL",
            env.0
        )))
    }
}

/// The JSON body shaped when the item was planned.
pub(super) fn payload(variant: &Variant) -> Result<&serde_json::Value, PublishError> {
    match &variant.payload {
        Some(p @ serde_json::Value::Object(_)) => Ok(p),
        // Shaping always makes an object; anything else is a stored variant
        // this version cannot send, and sending again will not change that.
        _ => Err(PublishError::permanent(format!(
            "the stored {} variant has no JSON object payload",
            variant.kind
        ))),
    }
}

/// Posts the stored payload to a webhook that answers only "accepted" (no
/// id worth keeping), reading the network's own error codes through
/// `reclassify`. No idempotency key: a 502/504 from a gateway is Uncertain.
pub(super) async fn post_accepted(
    env: &SecretRef,
    job: &Job<'_>,
    services: &Services,
    reclassify: fn(PublishError) -> PublishError,
) -> Result<(), PublishError> {
    let url = url(env)?;
    let request = services.http.post(url.expose()).json(payload(job.variant)?);
    http::send_once(request, services.clock.as_ref())
        .await
        .map(drop)
        .map_err(reclassify)
}

/// What `crier channels test` can say for a webhook with no read-only
/// endpoint: the URL is set and well-formed, nothing more.
pub(super) fn unverifiable(env: &SecretRef, network: &str) -> Result<String, PublishError> {
    url(env)?;
    Ok(format!(
        "`{}` holds an https URL; {network} incoming webhooks have no read-only check, \
         so the URL itself is only proven by the first post",
        env.0
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_urls_are_used_and_never_shown() {
        let env = SecretRef("CRIER_UNIT_CHAT_WEBHOOK_URL_PLAIN".into());
        std::env::set_var(&env.0, "http://hooks.example/services/T/B/s3cr3t-token");
        let e = url(&env).unwrap_err();
        assert!(matches!(e, PublishError::Credentials { .. }));
        assert!(!format!("{e} {e:?}").contains("s3cr3t"));

        let env = SecretRef("CRIER_UNIT_CHAT_WEBHOOK_URL_TLS".into());
        std::env::set_var(&env.0, "https://hooks.example/services/T/B/s3cr3t-token");
        assert!(url(&env).is_ok());

        let missing = SecretRef("CRIER_UNIT_CHAT_WEBHOOK_URL_UNSET".into());
        assert!(
            matches!(url(&missing), Err(PublishError::Credentials { message: m, .. }) if m.contains("UNSET"))
        );
    }
}
