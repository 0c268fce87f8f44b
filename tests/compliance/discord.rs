//! Discord's webhook contract: `POST /api/webhooks/<id>/<token>[?wait=true]`
//! with JSON `{content ≤ 2000 characters, username?, allowed_mentions?}`;
//! with `wait=true` the answer is the message object (with its snowflake
//! `id`), else 204. Errors are `{"message", "code"}` (50035 Invalid Form
//! Body with nested `errors`, 50027 Invalid Webhook Token on 401, 10015
//! Unknown Webhook on 404); 429 has `{"retry_after": seconds, "global"}`
//! and a Retry-After header. `GET` on the URL returns the webhook object.
//!
//! With files the body is `multipart/form-data`: `payload_json` (the JSON
//! above, with `attachments: [{id, filename, description}]`) and one
//! `files[n]` part per file, each referenced by an attachment whose `id`
//! is n; files over the upload limit (10 MiB) are refused with 413 / 40005.

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
/// Discord's default upload limit per file.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

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
    let is_form = req
        .header("content-type")
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    let body = if is_form {
        match with_files(&req) {
            Ok(b) => b,
            Err(answer) => return *answer,
        }
    } else {
        match req.json() {
            Ok(b) => b,
            Err(_) => return error(400, 50109, "The request body contains invalid JSON."),
        }
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

/// Reads a multipart execute request as Discord does: the message from
/// `payload_json`, every `files[n]` named by one attachment `id`. The
/// message is returned with `received_files` (what arrived, for tests).
fn with_files(req: &Request) -> Result<Value, Box<Answer>> {
    let parts = req
        .multipart()
        .map_err(|e| Box::new(error(400, 50035, &format!("Invalid Form Body: {e}"))))?;
    let payload = parts
        .iter()
        .find(|p| p.name == "payload_json")
        .ok_or_else(|| Box::new(error(400, 50006, "Cannot send an empty message")))?;
    let mut body: Value = serde_json::from_slice(&payload.body)
        .map_err(|_| Box::new(error(400, 50109, "The request body contains invalid JSON.")))?;
    let attachments = body["attachments"].as_array().cloned().unwrap_or_default();
    let mut files = Vec::new();
    for part in parts.iter().filter(|p| p.name != "payload_json") {
        let Some(n) = part
            .name
            .strip_prefix("files[")
            .and_then(|n| n.strip_suffix(']'))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            return Err(Box::new(form_error(&part.name, "Unknown form field.")));
        };
        if part.filename.is_none() || part.body.is_empty() {
            return Err(Box::new(form_error(
                &part.name,
                "A file needs a filename and contents.",
            )));
        }
        if part.body.len() > MAX_FILE_BYTES {
            return Err(Box::new(error(413, 40005, "Request entity too large")));
        }
        // Attachment ids may be numbers or strings of digits.
        let described = attachments
            .iter()
            .find(|a| a["id"].as_u64() == Some(n) || a["id"].as_str() == Some(&n.to_string()));
        let Some(attachment) = described else {
            return Err(Box::new(form_error(
                "attachments",
                &format!("files[{n}] is not referenced by an attachment id"),
            )));
        };
        let description = attachment["description"].as_str().unwrap_or_default();
        if description.trim().is_empty() || description.chars().count() > 1024 {
            return Err(Box::new(form_error(
                &format!("attachments.{n}.description"),
                "Must be between 1 and 1024 in length.",
            )));
        }
        files.push(
            json!({"id": n, "filename": part.filename, "description": description,
                          "content_type": part.content_type, "size": part.body.len()}),
        );
    }
    if files.len() != attachments.len() {
        return Err(Box::new(form_error(
            "attachments",
            "An attachment has no file.",
        )));
    }
    body["received_files"] = json!(files);
    Ok(body)
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

    const TAKES_IMAGES: bool = true;

    /// One file, named by an attachment id and described by the alt text.
    fn verify_image(&self, alt: &str) {
        let post = self.ledger.posts().pop().expect("a post");
        let files = post["received_files"]
            .as_array()
            .expect("files were uploaded");
        assert_eq!(files.len(), 1, "{post}");
        assert_eq!(files[0]["description"], alt);
        assert_eq!(files[0]["filename"], "poster.png");
        assert_eq!(files[0]["content_type"], "image/png");
        let png = std::fs::metadata(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/campaigns/images/amnesty-bin.png"
        ))
        .unwrap();
        assert_eq!(files[0]["size"], png.len(), "the whole file arrived");
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
async fn a_later_part_failing_resumes_with_it_and_never_repeats_the_first() {
    let rig = Rig::<Discord>::with_body(&long_body()).await;
    let parts = rig.variant.parts.len();
    rig.net.ledger.let_through();
    rig.net.inject(Fault::ServerError);
    match rig.publish().await {
        Err(PublishError::Retry { message, .. }) => {
            assert!(message.contains(&format!("1 of {parts}")), "{message}");
            assert!(message.contains("post 2 will be sent next"), "{message}");
        }
        other => panic!("a 5xx on part 2 should be Retry, got {other:?}"),
    }
    assert_eq!(rig.net.posts().len(), 1, "part 1 only");
    let receipt = rig.publish().await.expect("the rest is sent");
    let posts = rig.net.posts();
    assert_eq!(posts.len(), parts, "every part once");
    for (post, part) in posts.iter().zip(&rig.variant.parts) {
        assert_eq!(post["content"], part.text.as_str());
    }
    let ids: Vec<String> = (0..parts).map(message_id).collect();
    assert_eq!(receipt.remote_id, Some(ids.join(",")));
}

#[tokio::test]
async fn a_later_part_whose_answer_is_lost_is_uncertain_and_names_what_went_out() {
    let rig = Rig::<Discord>::with_body(&long_body()).await;
    rig.net.ledger.let_through();
    rig.net.inject(Fault::HangAfterReceive);
    match rig.publish_impatiently().await {
        Err(PublishError::Uncertain { message: m, .. }) => {
            assert!(m.contains(&message_id(0)), "{m}");
            assert!(m.contains("post 2 may or may not be up"), "{m}");
        }
        other => panic!("a lost answer on part 2 should be Uncertain, got {other:?}"),
    }
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
        Err(PublishError::Credentials { message: m, .. }) => {
            assert!(m.contains("Unknown Webhook"), "{m}")
        }
        other => panic!("Unknown Webhook should be Credentials, got {other:?}"),
    }
}

#[tokio::test]
async fn a_thread_with_an_image_sends_it_with_the_first_message_only() {
    use super::harness::{ALT, IMAGE};
    let rig = Rig::<Discord>::with_item(&long_body(), true).await;
    assert!(rig.variant.parts.len() >= 2);
    rig.publish().await.expect("sent");
    let posts = rig.net.posts();
    assert_eq!(posts.len(), rig.variant.parts.len());
    assert_eq!(posts[0]["received_files"][0]["description"], ALT);
    assert_eq!(posts[0]["attachments"][0]["filename"], "poster.png");
    assert_eq!(posts[0]["content"], rig.variant.parts[0].text.as_str());
    for later in &posts[1..] {
        assert!(later.get("received_files").is_none(), "{later}");
        assert!(later.get("attachments").is_none(), "{later}");
    }
    assert!(IMAGE.ends_with("poster.png"));
}

/// Over the upload limit: `check` refuses it (before anything is sent), and
/// a stored variant whose file has grown since is refused without posting.
#[tokio::test]
async fn an_image_over_the_upload_limit_is_refused_by_check_and_never_sent() {
    use super::harness::IMAGE;
    use crier::diagnostics::Report;
    let rig = Rig::<Discord>::with_image().await;
    let campaigns = rig.workspace.config.campaigns_dir();
    let big = vec![0u8; MAX_FILE_BYTES + 1];
    std::fs::write(campaigns.join(IMAGE), &big).unwrap();

    let mut report = Report::default();
    let item = &rig.workspace.items[0];
    rig.workspace.variants(item, &mut report);
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .map(|d| d.to_string())
        .filter(|d| d.contains("over this channel's limit"))
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", report.diagnostics);
    assert!(errors[0].contains("10.0 MiB"), "{}", errors[0]);

    match rig.publish().await {
        Err(PublishError::Permanent { message: m, .. }) => {
            assert!(m.contains("upload limit"), "{m}")
        }
        other => panic!("an oversized image should be Permanent, got {other:?}"),
    }
    assert!(rig.net.posts().is_empty());
}

/// Discord refuses (and crier must never send) a file no attachment names.
#[tokio::test]
async fn the_contract_server_refuses_files_without_a_described_attachment() {
    let net = Discord::start().await;
    let url = &net.env()[0].1;
    let form = reqwest::multipart::Form::new()
        .text("payload_json", r#"{"content": "hi", "attachments": []}"#)
        .part(
            "files[0]",
            reqwest::multipart::Part::bytes(b"\x89PNG".to_vec()).file_name("a.png"),
        );
    let answer = crier::channels::http::client()
        .post(format!("{url}?wait=true"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let form = reqwest::multipart::Form::new()
        .text(
            "payload_json",
            r#"{"content": "hi", "attachments": [{"id": 0, "filename": "a.png", "description": " "}]}"#,
        )
        .part(
            "files[0]",
            reqwest::multipart::Part::bytes(b"\x89PNG".to_vec()).file_name("a.png"),
        );
    let answer = crier::channels::http::client()
        .post(format!("{url}?wait=true"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400, "an empty description is refused");
    assert!(net.posts().is_empty());
}
