//! Classification, waits, messages and the single rules, on fixed answers.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;

use super::message::{redact_urls, MAX_MESSAGE};
use super::*;

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
