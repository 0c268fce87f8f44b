//! Slack's incoming-webhook contract: `POST /services/T…/B…/<token>` with a
//! JSON `{text, blocks}`; `200 ok` as plain text; errors as a bare code in
//! a plain-text body (`no_text`, `invalid_blocks`, `invalid_token`,
//! `no_service`, `channel_is_archived`, `rate_limited`), 429 with
//! Retry-After. Block limits enforced: at most 50 blocks, header text
//! ≤ 150 characters, section text ≤ 3,000.

use std::sync::Arc;

use async_trait::async_trait;
use crier::delivery::Receipt;
use serde_json::Value;

use super::harness::{env_name, Fault, Network};
use super::server::{Answer, Ledger, Request, Server};

const HOOK: &str = "/services/T0COMPLY/B0COMPLY";
const TOKEN: &str = "slk-compliance-hook-token-never-printed";

pub struct Slack {
    server: Server,
    ledger: Arc<Ledger>,
    url_env: String,
}

/// Why Slack would refuse these blocks, if it would.
fn invalid_blocks(blocks: &Value) -> bool {
    let Some(blocks) = blocks.as_array() else {
        return true;
    };
    let text_len = |b: &Value, max: usize| {
        b["text"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty() && t.chars().count() <= max)
    };
    blocks.len() > 50
        || !blocks.iter().all(|b| match b["type"].as_str() {
            Some("header") => b["text"]["type"] == "plain_text" && text_len(b, 150),
            Some("section") => text_len(b, 3000),
            Some("divider") => true,
            _ => false,
        })
}

fn handle(ledger: &Ledger, req: Request) -> Answer {
    let Some(token) = req
        .path
        .strip_prefix(HOOK)
        .and_then(|t| t.strip_prefix('/'))
    else {
        return Answer::text(404, "no_service");
    };
    if token != TOKEN {
        return Answer::text(403, "invalid_token");
    }
    if req.method != "POST" {
        return Answer::text(405, "invalid_method");
    }
    let Ok(body) = req.json() else {
        return Answer::text(400, "invalid_payload");
    };
    let has_text = body["text"].as_str().is_some_and(|t| !t.trim().is_empty());
    if !has_text && body.get("blocks").is_none() {
        return Answer::text(400, "no_text");
    }
    if body.get("blocks").is_some_and(invalid_blocks) {
        return Answer::text(400, "invalid_blocks");
    }
    match ledger.next_fault() {
        Some(Fault::RateLimited { retry_after_secs }) => {
            Answer::text(429, "rate_limited").header("retry-after", &retry_after_secs.to_string())
        }
        Some(Fault::ServerError) => Answer::text(500, "rollup_error"),
        Some(Fault::Invalid { message }) => Answer::text(400, message),
        Some(Fault::ExpiredCredentials) => Answer::text(403, "invalid_token"),
        Some(Fault::HangAfterReceive) => {
            ledger.accept(body);
            Answer::Hang
        }
        None => {
            ledger.accept(body);
            Answer::text(200, "ok")
        }
    }
}

#[async_trait]
impl Network for Slack {
    fn name(&self) -> &'static str {
        "practitioners-slack"
    }

    async fn start() -> Self {
        let ledger = Arc::new(Ledger::default());
        let l = ledger.clone();
        let server = Server::start(Arc::new(move |req| handle(&l, req))).await;
        Slack {
            server,
            ledger,
            url_env: env_name("slack", "webhook_url"),
        }
    }

    fn channel_toml(&self) -> String {
        format!(
            "[channels.practitioners-slack]\nkind = \"slack\"\nwebhook_url_env = \"{}\"\n",
            self.url_env
        )
    }

    fn env(&self) -> Vec<(String, String)> {
        let url = self.server.url(&format!("{HOOK}/{TOKEN}"));
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

    /// Slack answers `ok` and nothing else: there is no id to keep.
    fn verify_receipt(&self, receipt: &Receipt) {
        assert_eq!(receipt, &Receipt::default());
        let post = self.ledger.posts().pop().expect("a post");
        assert_eq!(post["blocks"][0]["text"]["text"], "Safer sleep week");
        assert!(post["text"].as_str().unwrap().contains("Safer sleep week"));
    }
}

/// The dead-hook codes Slack sends with 404 mean "set a new URL", not "this
/// post was refused".
#[tokio::test]
async fn an_unknown_hook_is_a_credentials_problem() {
    use super::harness::Rig;
    use crier::channels::PublishError;
    let rig = Rig::<Slack>::new().await;
    let wrong = rig.net.server.url("/services/T0COMPLY/BGONE/x");
    std::env::set_var(&rig.net.url_env, &wrong);
    let result = rig.publish().await;
    std::env::set_var(&rig.net.url_env, rig.net.env()[0].1.clone());
    match result {
        Err(PublishError::Credentials { message: m, .. }) => {
            assert!(m.contains("no_service"), "{m}")
        }
        other => panic!("no_service should be Credentials, got {other:?}"),
    }
    assert!(rig.net.posts().is_empty());
}

#[tokio::test]
async fn an_archived_channel_is_refused_for_good() {
    use super::harness::Rig;
    use crier::channels::PublishError;
    let rig = Rig::<Slack>::new().await;
    rig.net.inject(Fault::Invalid {
        message: "channel_is_archived".into(),
    });
    assert_eq!(
        rig.publish().await,
        Err(PublishError::Permanent {
            message: "HTTP 400 Bad Request: channel_is_archived".into(),
            status: Some(400),
        })
    );
}
