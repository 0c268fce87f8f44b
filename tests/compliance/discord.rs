//! Discord's webhook contract: `POST /api/webhooks/<id>/<token>[?wait=true]`
//! with JSON `{content ≤ 2000 characters, username?, allowed_mentions?}`;
//! with `wait=true` the answer is the message object (with its snowflake
//! `id`), else 204. Errors are `{"message", "code"}` (50035 Invalid Form
//! Body with nested `errors`, 50027 Invalid Webhook Token on 401, 10015
//! Unknown Webhook on 404); 429 has `{"retry_after": seconds, "global"}`
//! and a Retry-After header. `GET` on the URL returns the webhook object.

use std::sync::Arc;

use async_trait::async_trait;
use crier::channels::PublishError;
use crier::delivery::Receipt;
use serde_json::{json, Value};

use super::harness::{env_name, Fault, Network, Rig};
use super::server::{Answer, Ledger, Request, Server};

const WEBHOOK_ID: &str = "1100000000000000001";
const TOKEN: &str = "dsc-compliance-token-never-printed";
const CHANNEL_ID: &str = "1100000000000000777";

pub struct Discord {
    server: Server,
    ledger: Arc<Ledger>,
    url_env: String,
}

fn error(status: u16, code: u32, message: &str) -> Answer {
    Answer::json(status, json!({"message": message, "code": code}))
}

fn form_error(field: &str, message: &str) -> Answer {
    Answer::json(
        400,
        json!({"message": "Invalid Form Body", "code": 50035,
               "errors": {field: {"_errors": [{"code": "BASE_TYPE_INVALID", "message": message}]}}}),
    )
}

fn message_id(n: usize) -> String {
    format!("{}", 1_200_000_000_000_000_000u64 + n as u64)
}

fn handle(ledger: &Ledger, req: Request) -> Answer {
    let Some(token) = req
        .path
        .strip_prefix(&format!("/api/webhooks/{WEBHOOK_ID}/"))
    else {
        return error(404, 10015, "Unknown Webhook");
    };
    if token != TOKEN {
        return error(401, 50027, "Invalid Webhook Token");
    }
    if req.method == "GET" {
        return Answer::json(
            200,
            json!({"id": WEBHOOK_ID, "type": 1, "name": "MARS youth updates",
                   "channel_id": CHANNEL_ID, "guild_id": "1100000000000000999",
                   "token": TOKEN, "avatar": null, "application_id": null}),
        );
    }
    if req.method != "POST" {
        return error(405, 0, "405: Method Not Allowed");
    }
    let body = match req.json() {
        Ok(b) => b,
        Err(_) => return error(400, 50109, "The request body contains invalid JSON."),
    };
    let content = body["content"].as_str().unwrap_or_default();
    if content.trim().is_empty() {
        return error(400, 50006, "Cannot send an empty message");
    }
    if content.chars().count() > 2000 {
        return form_error("content", "Must be 2000 or fewer in length.");
    }
    if let Some(name) = body.get("username") {
        if !name
            .as_str()
            .is_some_and(|n| (1..=80).contains(&n.chars().count()))
        {
            return form_error("username", "Must be between 1 and 80 in length.");
        }
    }
    let wait = req.query_param("wait") == Some("true");
    match ledger.next_fault() {
        Some(Fault::RateLimited { retry_after_secs }) => Answer::json(
            429,
            json!({"message": "You are being rate limited.",
                   "retry_after": retry_after_secs as f64, "global": false}),
        )
        .header("retry-after", &retry_after_secs.to_string())
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset-after", &retry_after_secs.to_string()),
        Some(Fault::ServerError) => error(500, 0, "500: Internal Server Error"),
        Some(Fault::Invalid { message }) => form_error("content", &message),
        Some(Fault::ExpiredCredentials) => error(401, 50027, "Invalid Webhook Token"),
        Some(Fault::HangAfterReceive) => {
            ledger.accept(body);
            Answer::Hang
        }
        None => {
            let id = message_id(ledger.accept(body.clone()));
            if !wait {
                return Answer::empty(204);
            }
            Answer::json(
                200,
                json!({"id": id, "type": 0, "channel_id": CHANNEL_ID, "webhook_id": WEBHOOK_ID,
                       "content": content, "author": {"id": WEBHOOK_ID, "bot": true}}),
            )
            .header("x-ratelimit-limit", "5")
            .header("x-ratelimit-remaining", "4")
            .header("x-ratelimit-reset-after", "2.0")
        }
    }
}

#[async_trait]
impl Network for Discord {
    fn name(&self) -> &'static str {
        "youth-discord"
    }

    async fn start() -> Self {
        let ledger = Arc::new(Ledger::default());
        let l = ledger.clone();
        let server = Server::start(Arc::new(move |req| handle(&l, req))).await;
        Discord {
            server,
            ledger,
            url_env: env_name("discord", "webhook_url"),
        }
    }

    fn channel_toml(&self) -> String {
        format!(
            "[channels.youth-discord]\nkind = \"discord\"\nwebhook_url_env = \"{}\"\n\
             username = \"MARS updates\"\n",
            self.url_env
        )
    }

    fn env(&self) -> Vec<(String, String)> {
        let url = self
            .server
            .url(&format!("/api/webhooks/{WEBHOOK_ID}/{TOKEN}"));
        vec![(self.url_env.clone(), url)]
    }

    fn inject(&self, fault: Fault) {
        self.ledger.inject(fault);
    }

    fn posts(&self) -> Vec<Value> {
        self.ledger.posts()
    }

    fn idempotent(&self) -> bool {
        false
    }

    /// The message id Discord gave (with `wait=true`); no URL is returned.
    fn verify_receipt(&self, receipt: &Receipt) {
        let posts = self.ledger.posts();
        assert_eq!(
            receipt,
            &Receipt {
                remote_id: Some(message_id(posts.len() - 1)),
                remote_url: None,
            }
        );
        let post = posts.last().unwrap();
        assert_eq!(post["allowed_mentions"], json!({"parse": []}), "no pings");
        assert_eq!(post["username"], "MARS updates");
    }
}

/// Over 2,000 characters, so the variant is a thread of several messages.
fn long_body() -> String {
    "Safer sleep saves lives: every sleep, place babies on their back in a clear cot. ".repeat(30)
}

#[tokio::test]
async fn a_thread_is_consecutive_messages_and_the_receipt_keeps_every_id() {
    let rig = Rig::<Discord>::with_body(&long_body()).await;
    let parts = rig.variant.parts.len();
    assert!(parts >= 2, "{parts} part(s)");
    let receipt = rig.publish().await.expect("sent");
    let posts = rig.net.posts();
    assert_eq!(posts.len(), parts);
    for (post, part) in posts.iter().zip(&rig.variant.parts) {
        assert_eq!(post["content"], part.text.as_str());
    }
    let ids: Vec<String> = (0..parts).map(message_id).collect();
    assert_eq!(receipt.remote_id, Some(ids.join(",")));
}

#[tokio::test]
async fn a_later_part_failing_is_uncertain_and_names_what_went_out() {
    let rig = Rig::<Discord>::with_body(&long_body()).await;
    rig.net.ledger.let_through();
    rig.net.inject(Fault::ServerError);
    match rig.publish().await {
        Err(PublishError::Uncertain(m)) => {
            assert!(m.contains(&message_id(0)), "{m}");
            assert!(m.contains("part 2 failed"), "{m}");
        }
        other => panic!("a half-posted thread should be Uncertain, got {other:?}"),
    }
    assert_eq!(rig.net.posts().len(), 1, "part 1 only, never twice");
}

#[tokio::test]
async fn a_short_rate_limit_between_parts_is_waited_out() {
    let rig = Rig::<Discord>::with_body(&long_body()).await;
    rig.net.ledger.let_through();
    rig.net.inject(Fault::RateLimited {
        retry_after_secs: 1,
    });
    rig.publish().await.expect("sent after waiting");
    assert_eq!(rig.net.posts().len(), rig.variant.parts.len());
}

#[tokio::test]
async fn check_reads_the_webhook_without_posting_or_showing_its_token() {
    let rig = Rig::<Discord>::new().await;
    let said = rig.check().await.expect("the webhook exists");
    assert!(
        said.contains("MARS youth updates") && said.contains(CHANNEL_ID),
        "{said}"
    );
    assert!(!said.contains(TOKEN));
    assert!(rig.net.posts().is_empty());
}

#[tokio::test]
async fn a_deleted_webhook_is_a_credentials_problem() {
    let rig = Rig::<Discord>::new().await;
    std::env::set_var(&rig.net.url_env, rig.net.server.url("/api/webhooks/42/x"));
    match rig.publish().await {
        Err(PublishError::Credentials(m)) => assert!(m.contains("Unknown Webhook"), "{m}"),
        other => panic!("Unknown Webhook should be Credentials, got {other:?}"),
    }
}
