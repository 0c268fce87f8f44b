//! The generic webhook against a real HTTP server on 127.0.0.1: what it
//! sends, how it signs, and how every kind of answer (or silence) is read.

mod support;

use std::sync::{Arc, Once};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use crier::channels::{registry, Configured, Job, PublishError, Reconciled, Services};
use crier::config::Config;
use crier::delivery::{Delivery, Receipt, State};
use crier::diagnostics::{Report, SourceFile};
use crier::variant::Variant;
use crier_schedule::ManualClock;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use support::receiver::{Receiver, Reply};
use support::store::UnusedStore;

const SECRET_ENV: &str = "CRIER_TEST_WEBHOOK_SIGNING_SECRET";
const SECRET: &str = "whsec-test-5b1e-must-never-be-printed";
const UNSET_ENV: &str = "CRIER_TEST_WEBHOOK_SECRET_NOT_SET";
/// 2026-12-01 09:00:00 UTC, the clock every test reads.
const NOW: i64 = 1_796_115_600;

fn set_secret() {
    static SET: Once = Once::new();
    // Every test calls this before anything else, so the one write happens
    // before any test reads the environment.
    SET.call_once(|| std::env::set_var(SECRET_ENV, SECRET));
}

/// A webhook channel built the way the daemon builds it: from channels.toml.
fn channel(url: &str, secret_env: &str, extra: &str) -> Configured {
    set_secret();
    let toml = format!(
        r#"
[organisation]
name = "Test partnership"
website = "https://example.org"

[daemon]
public_url = "http://127.0.0.1:8080"

[channels.partners]
kind = "webhook"
url = "{url}"
signing_secret_env = "{secret_env}"
{extra}
"#
    );
    let mut report = Report::default();
    let config = Config::parse(SourceFile::new("channels.toml", toml), &mut report)
        .expect("the test configuration parses");
    assert_eq!(report.error_count(), 0, "{report:?}");
    let kind = registry::find("webhook").expect("webhook is a registered kind");
    Configured::build(kind, &config.channels[0], &config.organisation)
        .expect("the webhook channel builds")
}

fn delivery() -> Delivery {
    Delivery {
        id: 7,
        item: "news-update-2026-12".into(),
        channel: "partners".into(),
        occasion: "at".into(),
        state: State::InFlight,
        hold_reason: None,
        due_at: Utc.timestamp_opt(NOW, 0).unwrap(),
        next_attempt_at: None,
        attempts: 1,
        lease_expires_at: None,
        request_started_at: None,
        last_error: None,
        remote_id: None,
        remote_url: None,
        sent_at: None,
        requires_approval: false,
        approved: false,
        variant: variant(),
        fingerprint: "test".into(),
    }
}

fn payload() -> serde_json::Value {
    json!({
        "id": "news-update-2026-12",
        "kind": "news",
        "title": "December news update",
        "text": "Our December update: new neglect guidance (GCP2) £0 to attend — “all welcome”.",
        "link": "https://example.org/news/december",
        "hashtags": ["ChildProtection"],
        "event": null,
    })
}

fn variant() -> Variant {
    let mut v = Variant::document(
        "news-update-2026-12",
        "partners",
        "webhook",
        "Our December update".into(),
    );
    v.payload = Some(payload());
    v
}

fn services() -> Services {
    Services {
        http: crier::channels::http::client(),
        publish_dir: std::env::temp_dir(),
        public_url: "http://127.0.0.1:8080".into(),
        store: Arc::new(UnusedStore),
        clock: Arc::new(ManualClock::new(Utc.timestamp_opt(NOW, 0).unwrap())),
        credentials: crier::credentials::Credentials::new(std::path::Path::new("/nonexistent")),
        campaigns_dir: std::env::temp_dir(),
        stopping: crier::channels::stopping::Stopping::never(),
    }
}

async fn publish(channel: &Configured) -> Result<Receipt, PublishError> {
    let (delivery, variant) = (delivery(), variant());
    let job = Job {
        delivery: &delivery,
        variant: &variant,
    };
    let publisher = channel.publisher();
    let result = publisher.publish(&job, &services()).await;
    if let Err(e) = &result {
        assert_secret_free(e);
    }
    result
}

/// No error, however it is printed, carries the signing secret.
fn assert_secret_free(e: &PublishError) {
    for shown in [e.to_string(), format!("{e:?}"), format!("{e:#?}")] {
        assert!(!shown.contains(SECRET), "secret leaked: {shown}");
    }
}

fn expected_signature(timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn sends_the_signed_payload_and_keeps_the_partners_id() {
    let rx = Receiver::start([Reply::json(
        201,
        json!({"id": "partner-42", "url": "https://partner.example/items/42"}),
    )])
    .await;
    let hook = channel(&rx.url("/hooks/crier"), SECRET_ENV, "");

    let receipt = publish(&hook).await.expect("sent");
    assert_eq!(
        receipt,
        Receipt {
            remote_id: Some("partner-42".into()),
            remote_url: Some("https://partner.example/items/42".into()),
        }
    );

    let [request] = rx.wait_for(1).await.try_into().expect("one request");
    let key = delivery().idempotency_key();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/crier");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-crier-delivery"), Some(key.as_str()));
    assert_eq!(
        request.header("x-crier-timestamp"),
        Some(NOW.to_string().as_str())
    );
    assert!(request
        .header("user-agent")
        .is_some_and(|ua| ua.starts_with("crier/")));

    // Recomputed here, independently, over the raw bytes received.
    assert_eq!(
        request.header("x-crier-signature"),
        Some(expected_signature(&NOW.to_string(), &request.body).as_str())
    );
    // ...and it really covers the body: one changed byte breaks it.
    let mut tampered = request.body.clone();
    tampered[1] ^= 1;
    assert_ne!(
        request.header("x-crier-signature"),
        Some(expected_signature(&NOW.to_string(), &tampered).as_str())
    );

    let mut want = payload();
    want["delivery_id"] = json!(key);
    assert_eq!(request.json(), want);
}

#[tokio::test]
async fn without_an_id_in_the_answer_the_receipt_is_the_delivery_key() {
    let rx = Receiver::start([Reply::status(204)]).await;
    let hook = channel(&rx.url("/"), SECRET_ENV, "");
    let receipt = publish(&hook).await.expect("sent");
    assert_eq!(
        receipt,
        Receipt {
            remote_id: Some(delivery().idempotency_key()),
            remote_url: None,
        }
    );
}

#[tokio::test]
async fn retries_keep_the_same_delivery_key_until_accepted() {
    let rx = Receiver::start([
        Reply::status(429).header("Retry-After", "2"),
        Reply::text(500, "upstream exploded"),
        Reply::status(200),
    ])
    .await;
    let hook = channel(&rx.url("/hook"), SECRET_ENV, "");

    match publish(&hook).await {
        Err(PublishError::Retry { after, .. }) => assert_eq!(after, Some(Duration::from_secs(2))),
        other => panic!("429 should be Retry, got {other:?}"),
    }
    match publish(&hook).await {
        Err(PublishError::Retry { after, message, .. }) => {
            assert_eq!(after, None);
            assert!(message.contains("upstream exploded"), "{message}");
        }
        other => panic!("500 should be Retry, got {other:?}"),
    }
    publish(&hook).await.expect("third attempt is accepted");

    let requests = rx.wait_for(3).await;
    let key = delivery().idempotency_key();
    for r in &requests {
        assert_eq!(r.header("x-crier-delivery"), Some(key.as_str()));
        assert_eq!(r.json()["delivery_id"], json!(key));
    }
}

#[tokio::test]
async fn unavailable_with_retry_after_waits_as_asked() {
    let rx = Receiver::start([Reply::status(503).header("Retry-After", "120")]).await;
    let hook = channel(&rx.url("/"), SECRET_ENV, "");
    assert!(matches!(
        publish(&hook).await,
        Err(PublishError::Retry { after: Some(d), .. }) if d == Duration::from_secs(120)
    ));
}

#[tokio::test]
async fn a_refusal_is_permanent_in_the_receivers_words() {
    let rx = Receiver::start([Reply::json(
        400,
        json!({"error": "invalid_payload", "message": "event.starts_at is required"}),
    )])
    .await;
    let hook = channel(&rx.url("/"), SECRET_ENV, "");
    match publish(&hook).await {
        Err(PublishError::Permanent { message: m, .. }) => assert_eq!(
            m,
            "HTTP 400 Bad Request: invalid_payload: event.starts_at is required"
        ),
        other => panic!("400 should be Permanent, got {other:?}"),
    }
}

#[tokio::test]
async fn unauthorised_is_a_credentials_problem() {
    let rx = Receiver::start([Reply::text(401, "bad signature")]).await;
    let hook = channel(&rx.url("/"), SECRET_ENV, "");
    assert!(matches!(
        publish(&hook).await,
        Err(PublishError::Credentials { message: m, .. }) if m.contains("bad signature")
    ));
}

#[tokio::test]
async fn no_answer_after_the_request_arrived_is_uncertain() {
    let rx = Receiver::start([Reply::hang()]).await;
    let hook = channel(&rx.url("/"), SECRET_ENV, "timeout_seconds = 1");
    match publish(&hook).await {
        Err(PublishError::Uncertain { message: m, .. }) => assert!(m.contains("timed out"), "{m}"),
        other => panic!("a timeout should be Uncertain, got {other:?}"),
    }
    // The partner did get it: exactly why a blind retry would be wrong.
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn a_hang_up_after_the_request_arrived_is_uncertain() {
    let rx = Receiver::start([Reply::close()]).await;
    let hook = channel(&rx.url("/"), SECRET_ENV, "");
    assert!(matches!(
        publish(&hook).await,
        Err(PublishError::Uncertain { .. })
    ));
    assert_eq!(rx.requests().len(), 1);
}

/// A port that was free a moment ago, with nothing listening on it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn nothing_listening_is_retryable_and_names_no_url() {
    // Path segments like a chat webhook's, whose URL is itself a secret.
    let url = format!(
        "http://127.0.0.1:{}/services/T0001/B0001/url-token-xyzzy",
        closed_port()
    );
    let hook = channel(&url, SECRET_ENV, "");
    match publish(&hook).await {
        Err(e @ PublishError::Retry { .. }) => {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("url-token-xyzzy"), "URL leaked: {shown}");
            assert!(shown.contains("could not connect"), "{shown}");
        }
        other => panic!("connection refused should be Retry, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_secret_names_the_variable_and_sends_nothing() {
    let rx = Receiver::start([]).await;
    let hook = channel(&rx.url("/"), UNSET_ENV, "");
    match publish(&hook).await {
        Err(PublishError::Credentials { message: m, .. }) => assert!(m.contains(UNSET_ENV), "{m}"),
        other => panic!("a missing secret should be Credentials, got {other:?}"),
    }
    assert!(rx.requests().is_empty());
}

#[tokio::test]
async fn a_webhook_cannot_look_a_delivery_up() {
    let hook = channel("http://127.0.0.1:9/", SECRET_ENV, "");
    let (delivery, variant) = (delivery(), variant());
    let job = Job {
        delivery: &delivery,
        variant: &variant,
    };
    let verdict = hook.publisher().reconcile(&job, &services()).await;
    assert_eq!(verdict, Reconciled::Unknown);
}
