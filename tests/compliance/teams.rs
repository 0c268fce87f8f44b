//! The Teams Workflows ("When a Teams webhook request is received") trigger
//! contract: `POST /workflows/<id>/triggers/manual/paths/invoke?api-version=…&sig=…`
//! with a message holding one Adaptive Card attachment; `202 Accepted`, no
//! body; errors as `{"error": {"code", "message"}}`; a bad `sig` is 401,
//! an unknown workflow 404, a body over 28 KB 413, throttling 429 with
//! Retry-After.

use std::sync::Arc;

use async_trait::async_trait;
use crier::delivery::Receipt;
use serde_json::{json, Value};

use super::harness::{env_name, Fault, Network};
use super::server::{Answer, Ledger, Request, Server};

const WORKFLOW: &str = "/workflows/0c0ffee0compliance/triggers/manual/paths/invoke";
const SIG: &str = "teams-compliance-sig-never-printed";
const MAX_BYTES: usize = 28 * 1024;
const CARD: &str = "application/vnd.microsoft.card.adaptive";

pub struct Teams {
    server: Server,
    ledger: Arc<Ledger>,
    url_env: String,
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    Answer::json(status, json!({"error": {"code": code, "message": message}}))
}

/// What Teams would say about this message, if it would refuse it.
fn refusal(body: &Value) -> Option<&'static str> {
    if body["type"] != "message" {
        return Some("The message type must be 'message'.");
    }
    let Some([attachment]) = body["attachments"].as_array().map(Vec::as_slice) else {
        return Some("Expected exactly one attachment.");
    };
    let card = &attachment["content"];
    if attachment["contentType"] != CARD || card["type"] != "AdaptiveCard" {
        return Some("The attachment must be an Adaptive Card.");
    }
    let blocks_ok = card["body"].as_array().is_some_and(|b| {
        !b.is_empty()
            && b.iter().all(|e| match e["type"].as_str() {
                Some("TextBlock") => e["text"].as_str().is_some_and(|t| !t.is_empty()),
                Some("Image") => image_ok(e),
                _ => false,
            })
    });
    if card["version"].as_str().is_none() || !blocks_ok {
        return Some(
            "The card needs a version and a body of non-empty TextBlocks and Images \
             (each with an absolute url and altText).",
        );
    }
    None
}

/// An Adaptive Card `Image`: `url` (required) must be one Teams can fetch,
/// and crier always describes it (`altText`) for screen readers.
fn image_ok(e: &Value) -> bool {
    let url = e["url"].as_str().unwrap_or_default();
    (url.starts_with("https://") || url.starts_with("http://"))
        && e["altText"].as_str().is_some_and(|a| !a.trim().is_empty())
}

fn handle(ledger: &Ledger, req: Request) -> Answer {
    if req.path != WORKFLOW {
        return error(404, "WorkflowNotFound", "The workflow could not be found.");
    }
    if req.query_param("sig") != Some(SIG) || req.query_param("api-version").is_none() {
        return error(
            401,
            "DirectApiAuthorizationRequired",
            "The request must be authenticated only by Shared Access scheme.",
        );
    }
    if req.method != "POST" {
        return error(405, "MethodNotAllowed", "Use POST.");
    }
    if req.body.len() > MAX_BYTES {
        return error(
            413,
            "RequestEntityTooLarge",
            "The message is larger than 28 KB.",
        );
    }
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return error(400, "InvalidRequestContent", &e),
    };
    if let Some(why) = refusal(&body) {
        return error(400, "InvalidRequestContent", why);
    }
    match ledger.next_fault() {
        Some(Fault::RateLimited { retry_after_secs }) => error(
            429,
            "WorkflowRequestsThrottled",
            "Number of requests exceeded the limit.",
        )
        .header("retry-after", &retry_after_secs.to_string()),
        Some(Fault::ServerError) => error(500, "InternalServerError", "Please retry."),
        Some(Fault::Invalid { message }) => error(400, "InvalidRequestContent", &message),
        Some(Fault::ExpiredCredentials) => error(
            401,
            "DirectApiInvalidAuthorizationSignature",
            "The provided request has an invalid authorization signature.",
        ),
        Some(Fault::HangAfterReceive) => {
            ledger.accept(body);
            Answer::Hang
        }
        None => {
            ledger.accept(body);
            Answer::empty(202)
        }
    }
}

#[async_trait]
impl Network for Teams {
    fn name(&self) -> &'static str {
        "partners-teams"
    }

    async fn start() -> Self {
        let ledger = Arc::new(Ledger::default());
        let l = ledger.clone();
        let server = Server::start(Arc::new(move |req| handle(&l, req))).await;
        Teams {
            server,
            ledger,
            url_env: env_name("teams", "webhook_url"),
        }
    }

    fn channel_toml(&self) -> String {
        format!(
            "[channels.partners-teams]\nkind = \"teams\"\nwebhook_url_env = \"{}\"\n",
            self.url_env
        )
    }

    fn env(&self) -> Vec<(String, String)> {
        let url = self.server.url(&format!(
            "{WORKFLOW}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
        ));
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

    /// An Image under the title, at the daemon's `/media/` URL of the file.
    fn verify_image(&self, alt: &str) {
        let post = self.ledger.posts().pop().expect("a post");
        let body = &post["attachments"][0]["content"]["body"];
        let images: Vec<&Value> = body
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "Image")
            .collect();
        assert_eq!(images.len(), 1, "{body}");
        assert_eq!(body[1]["type"], "Image", "the image follows the title");
        assert_eq!(images[0]["altText"], alt);
        assert_eq!(
            images[0]["url"],
            "http://127.0.0.1:8080/media/images/poster.png"
        );
    }

    /// 202 Accepted has no body: there is no id to keep.
    fn verify_receipt(&self, receipt: &Receipt) {
        assert_eq!(receipt, &Receipt::default());
        let post = self.ledger.posts().pop().expect("a post");
        let card = &post["attachments"][0]["content"];
        assert_eq!(card["body"][0]["text"], "Safer sleep week");
        assert_eq!(
            card["actions"][0]["url"],
            "https://example.org/news/safer-sleep"
        );
    }
}

/// A deleted or disabled workflow: the URL must be replaced.
#[tokio::test]
async fn a_deleted_workflow_is_a_credentials_problem() {
    use super::harness::Rig;
    use crier::channels::PublishError;
    let rig = Rig::<Teams>::new().await;
    let gone = rig.net.server.url(&format!(
        "/workflows/deleted/triggers/manual/paths/invoke?sig={SIG}"
    ));
    std::env::set_var(&rig.net.url_env, gone);
    match rig.publish().await {
        Err(PublishError::Credentials { message: m, .. }) => {
            assert!(m.contains("could not be found"), "{m}")
        }
        other => panic!("404 should be Credentials, got {other:?}"),
    }
    assert!(rig.net.posts().is_empty());
}

/// The contract is strict about images, so the scenario above means something.
#[test]
fn the_contract_server_refuses_an_image_without_alt_text_or_url() {
    let card = |image: Value| {
        json!({"type": "message", "attachments": [{"contentType": CARD, "content": {
            "type": "AdaptiveCard", "version": "1.4",
            "body": [{"type": "TextBlock", "text": "Title"}, image]}}]})
    };
    let good = json!({"type": "Image", "url": "https://crier.example/media/a.png", "altText": "A"});
    assert_eq!(refusal(&card(good)), None);
    for bad in [
        json!({"type": "Image", "url": "https://crier.example/media/a.png"}),
        json!({"type": "Image", "url": "https://crier.example/media/a.png", "altText": " "}),
        json!({"type": "Image", "url": "images/a.png", "altText": "A"}),
    ] {
        assert!(refusal(&card(bad.clone())).is_some(), "{bad}");
    }
}
