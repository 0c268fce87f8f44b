//! The single rules every network module applies: where crier may send
//! (https, or plain http to loopback), and what a gateway error to a request
//! that creates something means when the network has no idempotency key.

use crate::channels::PublishError;

/// Whether crier may send to `url`: https, or plain http to a loopback
/// host, where tests run their servers. The one rule for URLs written in
/// channels.toml and for webhook URLs read from the environment. The host
/// is parsed, so `http://localhost.example.org` is not loopback.
pub fn https_or_loopback(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(parsed) = url
        .starts_with("http://")
        .then(|| reqwest::Url::parse(url).ok())
        .flatten()
    else {
        return false;
    };
    let host = parsed.host_str().unwrap_or_default();
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The gateway rule, for requests that create something on a network with
/// no idempotency key: a 502 or 504 comes from a gateway that may already
/// have passed the request on, so it is `Uncertain`, never a blind retry.
/// (A 503 says the service would not take the request: it stays `Retry`.)
/// `what` names what may have been received, e.g. "the post".
pub fn gateway_uncertain(error: PublishError, what: &str) -> PublishError {
    match error {
        PublishError::Retry {
            message,
            status: status @ Some(502 | 504),
            ..
        } => PublishError::Uncertain {
            message: format!("{message}: a gateway answered, so {what} may have been received"),
            status,
        },
        other => other,
    }
}
