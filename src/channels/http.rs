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

use std::error::Error as _;
use std::sync::Once;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crier_schedule::Clock;
use reqwest::header::{HeaderMap, HeaderName, DATE, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode};

use super::PublishError;

/// Time allowed to open a connection (DNS, TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole request, from connecting to the last body byte.
pub const TIMEOUT: Duration = Duration::from_secs(30);
pub const USER_AGENT: &str = concat!("crier/", env!("CARGO_PKG_VERSION"));
/// The most of a response body crier reads; answers are small JSON documents.
pub const MAX_BODY: usize = 1024 * 1024;
/// The most of a network's error message kept in an error (in characters).
const MAX_MESSAGE: usize = 300;

/// Installs ring as the process's rustls crypto provider. reqwest is built
/// without one (`rustls-no-provider`), so this must happen before the first
/// client is built; [`builder`] and [`client`] call it. Safe to call often.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means a provider is already installed (by us or a library):
        // that one serves just as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The client settings every channel starts from. Redirects are not
/// followed: a redirected POST is either turned into a GET (the post is
/// silently lost, yet the answer looks like success) or re-sent elsewhere;
/// either way the configured URL is wrong and a person should fix it.
pub fn builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_rustls()
}

/// The shared client the daemon puts in `Services`.
pub fn client() -> reqwest::Client {
    builder()
        .build()
        .expect("the HTTP client builds: a crypto provider is installed and no option is invalid")
}

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
///   [`gateway_uncertain`].
/// - 401: `Credentials`. 403: `Credentials` when it is clearly about the
///   token (a `WWW-Authenticate` challenge, or a message about tokens,
///   scopes or OAuth), else `Permanent` (403 also means "not allowed to post
///   this", e.g. a duplicate).
/// - 3xx: `Permanent` (redirects are not followed; see [`builder`]).
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

/// The network's own explanation from an error body: the usual JSON fields
/// (`error`, `error_description`, `message`, `detail`, `errors[0]`), or the
/// text itself. Whitespace is collapsed and the result truncated.
pub fn error_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let message = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(json) => json_message(&json).unwrap_or_else(|| body.to_string()),
        Err(_) => body.to_string(),
    };
    Some(tidy(&message))
}

fn json_message(json: &serde_json::Value) -> Option<String> {
    let text = |v: Option<&serde_json::Value>| -> Option<String> {
        let v = v?;
        match v {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            // Nested shapes: {"error": {"message": ..}}, {"errors": [{"message": ..}]}.
            serde_json::Value::Object(o) => ["message", "detail", "error_description"]
                .iter()
                .find_map(|k| o.get(*k)?.as_str().map(str::to_string)),
            _ => None,
        }
    };
    // A short code such as "invalid_grant" or "InvalidRequest" reads best
    // in front of the sentence that explains it.
    let code = json.get("error").and_then(|v| v.as_str());
    let sentence = text(json.get("error_description"))
        .or_else(|| text(json.get("message")))
        .or_else(|| text(json.get("detail")))
        .or_else(|| text(json.get("errors").and_then(|e| e.get(0))))
        .or_else(|| text(json.get("error")).filter(|_| code.is_none()))
        .or_else(|| text(json.get("title")));
    match (code, sentence) {
        (Some(c), Some(s)) if s != c => Some(format!("{c}: {s}")),
        (Some(c), _) => Some(c.to_string()),
        (None, s) => s,
    }
}

fn tidy(message: &str) -> String {
    let collapsed = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let collapsed = redact_urls(&collapsed);
    match collapsed.char_indices().nth(MAX_MESSAGE) {
        Some((cut, _)) => format!("{}…", &collapsed[..cut]),
        None => collapsed,
    }
}

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

/// Replaces anything shaped like `scheme://...` with `<url>`.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .map_or(0, |i| i + 1);
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| c.is_whitespace() || "\"'<>()[]{}`,".contains(c))
            .unwrap_or(after.len());
        out.push_str(&rest[..scheme_start]);
        out.push_str("<url>");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use reqwest::header::HeaderValue;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    fn after(result: Result<(), PublishError>) -> Option<Duration> {
        match result {
            Err(PublishError::Retry { after, .. }) => after,
            other => panic!("expected Retry, got {other:?}"),
        }
    }

    #[test]
    fn success_is_ok() {
        for code in [200, 201, 202, 204] {
            assert_eq!(classify(status(code), &HeaderMap::new(), "", now()), Ok(()));
        }
    }

    #[test]
    fn too_many_requests_waits_as_asked() {
        let h = headers(&[("retry-after", "120")]);
        assert_eq!(
            after(classify(status(429), &h, "", now())),
            Some(Duration::from_secs(120))
        );
        let h = headers(&[("retry-after", "Tue, 03 Nov 2026 09:01:30 GMT")]);
        assert_eq!(
            after(classify(status(429), &h, "", now())),
            Some(Duration::from_secs(90))
        );
        let h = headers(&[("x-rate-limit-reset", &(now().timestamp() + 300).to_string())]);
        assert_eq!(
            after(classify(status(429), &h, "", now())),
            Some(Duration::from_secs(300))
        );
        let h = headers(&[("x-ratelimit-reset", "2026-11-03T09:05:00Z")]);
        assert_eq!(
            after(classify(status(429), &h, "", now())),
            Some(Duration::from_secs(300))
        );
        // Retry-After wins over the window reset.
        let h = headers(&[("retry-after", "5"), ("x-ratelimit-reset", "2000000000")]);
        assert_eq!(
            after(classify(status(429), &h, "", now())),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            after(classify(status(429), &HeaderMap::new(), "", now())),
            None
        );
    }

    #[test]
    fn header_instants_are_measured_from_the_servers_date() {
        // Our clock is an hour fast; the server's Date puts the reset 60 s away.
        let h = headers(&[
            ("date", "Tue, 03 Nov 2026 08:00:00 GMT"),
            ("retry-after", "Tue, 03 Nov 2026 08:01:00 GMT"),
        ]);
        assert_eq!(retry_after(&h, now()), Some(Duration::from_secs(60)));
    }

    #[test]
    fn past_instants_mean_now_and_junk_means_nothing() {
        let h = headers(&[("retry-after", "Tue, 03 Nov 2026 08:00:00 GMT")]);
        assert_eq!(retry_after(&h, now()), Some(Duration::ZERO));
        let h = headers(&[("retry-after", "soon")]);
        assert_eq!(retry_after(&h, now()), None);
        let h = headers(&[("x-ratelimit-reset", "-3")]);
        assert_eq!(rate_limit_reset(&h, now()), None);
    }

    #[test]
    fn server_errors_retry_and_honour_retry_after() {
        for code in [408, 500, 502, 504] {
            assert_eq!(
                after(classify(status(code), &HeaderMap::new(), "", now())),
                None
            );
        }
        let h = headers(&[("retry-after", "30")]);
        assert_eq!(
            after(classify(status(503), &h, "", now())),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn auth_failures_are_credentials() {
        let r = classify(
            status(401),
            &HeaderMap::new(),
            r#"{"error":"The access token is invalid"}"#,
            now(),
        );
        assert_eq!(
            r,
            Err(PublishError::Credentials {
                message: "HTTP 401 Unauthorized: The access token is invalid".into(),
                status: Some(401),
            })
        );
        let h = headers(&[("www-authenticate", r#"Bearer error="insufficient_scope""#)]);
        assert!(matches!(
            classify(status(403), &h, "", now()),
            Err(PublishError::Credentials { .. })
        ));
        assert!(matches!(
            classify(status(403), &HeaderMap::new(), "invalid_token", now()),
            Err(PublishError::Credentials { .. })
        ));
        // Not about credentials: refused for good.
        let dup = r#"{"detail":"You are not allowed to create a Tweet with duplicate content."}"#;
        assert_eq!(
            classify(status(403), &HeaderMap::new(), dup, now()),
            Err(PublishError::Permanent {
                message:
                    "HTTP 403 Forbidden: You are not allowed to create a Tweet with duplicate content."
                        .into(),
                status: Some(403),
            })
        );
    }

    #[test]
    fn other_refusals_are_permanent_in_the_networks_words() {
        let cases = [
            (
                r#"{"error":"Validation failed: Text character limit of 500 exceeded"}"#,
                "Validation failed: Text character limit of 500 exceeded",
            ),
            (
                r#"{"error":"InvalidRequest","message":"Record/text must not be longer than 300 graphemes"}"#,
                "InvalidRequest: Record/text must not be longer than 300 graphemes",
            ),
            (
                r#"{"error":"invalid_request","error_description":"Missing post body"}"#,
                "invalid_request: Missing post body",
            ),
            (
                r#"{"errors":[{"message":"Status is a duplicate.","code":187}]}"#,
                "Status is a duplicate.",
            ),
            (
                r#"{"error":{"message":"(#100) Invalid parameter","type":"OAuthException"}}"#,
                "(#100) Invalid parameter",
            ),
            ("no_text\n", "no_text"),
        ];
        for (body, want) in cases {
            assert_eq!(
                classify(status(400), &HeaderMap::new(), body, now()),
                Err(PublishError::Permanent {
                    message: format!("HTTP 400 Bad Request: {want}"),
                    status: Some(400),
                }),
                "{body}"
            );
        }
        assert_eq!(
            classify(status(404), &HeaderMap::new(), "", now()),
            Err(PublishError::Permanent {
                message: "HTTP 404 Not Found".into(),
                status: Some(404),
            })
        );
        assert!(matches!(
            classify(status(302), &HeaderMap::new(), "", now()),
            Err(PublishError::Permanent { message: m, .. }) if m.contains("redirect")
        ));
    }

    #[test]
    fn messages_are_tidied_truncated_and_free_of_urls() {
        let long = "x ".repeat(1000);
        let m = error_message(&long).unwrap();
        assert_eq!(m.chars().count(), MAX_MESSAGE + 1);
        assert!(m.ends_with('…'));
        assert_eq!(
            error_message("bad hook https://hooks.slack.com/services/T0/B0/s3cr3t (gone)").unwrap(),
            "bad hook <url> (gone)"
        );
        assert_eq!(redact_urls("a http://x/y b wss://z"), "a <url> b <url>");
        assert_eq!(redact_urls("no urls: here"), "no urls: here");
    }

    #[test]
    fn plain_http_only_to_loopback_hosts() {
        for ok in [
            "https://example.org/x",
            "http://127.0.0.1:9/x",
            "http://localhost:8080",
            "http://LOCALHOST/",
            "http://[::1]:80/",
        ] {
            assert!(https_or_loopback(ok), "{ok}");
        }
        for refused in [
            "http://example.org/",
            "http://localhost.example.org/",
            "http://127.0.0.1.example.org/",
            "http://[::2]/",
            "ftp://127.0.0.1/",
            "localhost:80",
        ] {
            assert!(!https_or_loopback(refused), "{refused}");
        }
    }

    #[test]
    fn the_status_decides_never_the_text() {
        // A 404 whose body talks about a 500 is still a refused 404.
        let e = classify(
            status(404),
            &HeaderMap::new(),
            "upstream said HTTP 500",
            now(),
        );
        assert_eq!(e.as_ref().unwrap_err().status(), Some(404));
        assert!(matches!(e, Err(PublishError::Permanent { .. })));
        // And a 500 whose body says "HTTP 404" is still worth a retry.
        let e = classify(status(500), &HeaderMap::new(), "HTTP 404 Not Found", now());
        assert!(matches!(
            e,
            Err(PublishError::Retry {
                status: Some(500),
                ..
            })
        ));
    }

    #[test]
    fn gateway_errors_are_uncertain_whatever_the_words() {
        let gateway = |code: u16, body: &str| {
            let e = classify(status(code), &HeaderMap::new(), body, now()).unwrap_err();
            gateway_uncertain(e, "the post")
        };
        for code in [502, 504] {
            let e = gateway(code, "");
            assert_eq!(e.status(), Some(code));
            assert!(
                matches!(&e, PublishError::Uncertain { message, .. }
                    if message.ends_with("a gateway answered, so the post may have been received")),
                "{e:?}"
            );
        }
        // 503: the service would not take it; said in a body or not.
        assert!(matches!(
            gateway(503, "502 Bad Gateway"),
            PublishError::Retry { .. }
        ));
        // Other kinds pass unchanged, even when their words mention a gateway.
        let refused = gateway(400, "HTTP 502 Bad Gateway");
        assert!(matches!(
            refused,
            PublishError::Permanent {
                status: Some(400),
                ..
            }
        ));
        let lost = gateway_uncertain(PublishError::retry("HTTP 502".into(), None), "the post");
        assert!(matches!(lost, PublishError::Retry { status: None, .. }));
    }

    #[test]
    fn map_message_keeps_kind_status_and_wait() {
        let h = headers(&[("retry-after", "9")]);
        let e = classify(status(503), &h, "", now()).unwrap_err();
        let told = e.map_message(|m| format!("part 2: {m}"));
        assert_eq!(
            told,
            PublishError::Retry {
                message: "part 2: HTTP 503 Service Unavailable".into(),
                status: Some(503),
                after: Some(Duration::from_secs(9)),
            }
        );
    }

    #[test]
    fn the_crypto_provider_installs_once_and_clients_build() {
        install_crypto_provider();
        install_crypto_provider();
        let _ = client();
        let _ = client();
    }
}
