//! Reading Graph API answers. Graph says what went wrong in the body
//! (`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`),
//! mostly with HTTP 400 whatever the cause, so the code decides, not the
//! status.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Deserialize;

use crate::channels::{http, PublishError};

#[derive(Debug, Deserialize)]
struct Body {
    error: Error,
}

#[derive(Debug, Deserialize)]
struct Error {
    #[serde(default)]
    message: String,
    code: Option<i64>,
    error_subcode: Option<i64>,
    fbtrace_id: Option<String>,
}

/// Whether a lost answer could mean a post went up.
#[derive(Clone, Copy, PartialEq)]
pub enum Effect {
    Posts,
    Reads,
}

/// Sends a Graph request; `Ok` only for a 2xx answer.
pub async fn send(
    request: RequestBuilder,
    effect: Effect,
    now: DateTime<Utc>,
) -> Result<Response, PublishError> {
    let response = request
        .send()
        .await
        .map_err(|e| http::transport_error(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body = http::read_text(response).await.unwrap_or_default();
    Err(classify(status, &headers, &body, effect, now))
}

/// What a Graph error means for the dispatcher.
///
/// - 190 (token expired or invalidated), 102 (session), 10 and 200–299
///   (permission missing): `Credentials` — a person must issue a new
///   Page token or grant the permission.
/// - 4, 17, 32, 613 and 80001 (app, user, page and call-volume rate
///   limits): `Retry`.
/// - 506 (duplicate post): `Permanent`, said plainly.
/// - Anything else: as the HTTP status says ([`http::classify`]), with
///   Graph's message; for a post, a gateway error is `Uncertain`.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    effect: Effect,
    now: DateTime<Utc>,
) -> PublishError {
    let Ok(Body { error }) = serde_json::from_str::<Body>(body) else {
        return by_status(status, headers, body, effect, now);
    };
    let code = error.code.unwrap_or_default();
    let mut message = format!("Facebook error {code}");
    if let Some(sub) = error.error_subcode {
        message.push_str(&format!("/{sub}"));
    }
    message.push_str(&format!(": {}", error.message.trim()));
    if let Some(trace) = &error.fbtrace_id {
        message.push_str(&format!(" (fbtrace_id {trace})"));
    }
    match code {
        190 | 102 | 10 | 200..=299 => PublishError::Credentials(message),
        4 | 17 | 32 | 613 | 80001 => PublishError::Retry {
            message,
            after: http::retry_after(headers, now),
        },
        506 => PublishError::Permanent(format!(
            "Facebook refused it as a duplicate of a recent post: {message}"
        )),
        _ => match by_status(status, headers, "", effect, now) {
            PublishError::Retry { after, .. } => PublishError::Retry { message, after },
            PublishError::Uncertain(_) => PublishError::Uncertain(message),
            PublishError::Credentials(_) => PublishError::Credentials(message),
            PublishError::Permanent(_) => PublishError::Permanent(message),
            stopped @ PublishError::Stopped(_) => stopped, // not an HTTP answer
        },
    }
}

fn by_status(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    effect: Effect,
    now: DateTime<Utc>,
) -> PublishError {
    let gateway = matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT
    );
    match http::classify(status, headers, body, now) {
        Err(PublishError::Retry { message, .. }) if gateway && effect == Effect::Posts => {
            PublishError::Uncertain(format!(
                "{message}: a gateway answered, so the post may have been received"
            ))
        }
        Err(e) => e,
        Ok(()) => unreachable!("only called for error statuses"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    fn graph(code: i64, message: &str) -> String {
        serde_json::json!({"error": {"message": message, "type": "OAuthException",
            "code": code, "error_subcode": 463, "fbtrace_id": "AbC123"}})
        .to_string()
    }

    fn read(code: i64) -> PublishError {
        classify(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            &graph(code, "words"),
            Effect::Posts,
            now(),
        )
    }

    #[test]
    fn the_code_decides() {
        assert!(
            matches!(read(190), PublishError::Credentials(m) if m == "Facebook error 190/463: words (fbtrace_id AbC123)")
        );
        for code in [4, 17, 32, 613, 80001] {
            assert!(matches!(read(code), PublishError::Retry { .. }), "{code}");
        }
        assert!(matches!(read(506), PublishError::Permanent(m) if m.contains("duplicate")));
        assert!(matches!(read(100), PublishError::Permanent(_)));
        assert!(matches!(read(200), PublishError::Credentials(_)));
    }

    #[test]
    fn without_a_graph_body_the_status_decides() {
        let r = |code: u16, effect| {
            classify(
                StatusCode::from_u16(code).unwrap(),
                &HeaderMap::new(),
                "<html>",
                effect,
                now(),
            )
        };
        assert!(matches!(r(503, Effect::Posts), PublishError::Retry { .. }));
        assert!(matches!(r(502, Effect::Posts), PublishError::Uncertain(_)));
        assert!(matches!(r(502, Effect::Reads), PublishError::Retry { .. }));
        assert!(matches!(
            r(401, Effect::Posts),
            PublishError::Credentials(_)
        ));
    }
}
