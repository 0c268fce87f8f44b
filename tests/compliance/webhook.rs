//! The generic webhook's contract, as `docs/webhooks.md` tells partners to
//! implement it: verify the HMAC signature over the raw body, take
//! `delivery_id`, answer 2xx with an optional `{id, url}`.

use std::sync::Arc;

use async_trait::async_trait;
use crier::delivery::Receipt;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::harness::{env_name, Fault, Network};
use super::server::{Answer, Ledger, Request, Server};

pub struct Webhook {
    server: Server,
    ledger: Arc<Ledger>,
    secret_env: String,
    secret: String,
}

const PATH: &str = "/hooks/crier";

fn valid_signature(secret: &str, req: &Request) -> bool {
    let (Some(timestamp), Some(signature)) = (
        req.header("x-crier-timestamp"),
        req.header("x-crier-signature"),
    ) else {
        return false;
    };
    let Some(hex_sig) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&req.body);
    // verify_slice compares in constant time, as partners are told to.
    mac.verify_slice(&given).is_ok()
}

fn handle(ledger: &Ledger, secret: &str, req: Request) -> Answer {
    if req.method != "POST" || req.path != PATH {
        return Answer::json(404, json!({"error": "not_found"}));
    }
    if !valid_signature(secret, &req) {
        return Answer::json(401, json!({"error": "bad_signature"}));
    }
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return Answer::json(400, json!({"error": "invalid_payload", "message": e})),
    };
    let Some(key) = req.header("x-crier-delivery") else {
        return Answer::json(
            400,
            json!({"error": "invalid_payload", "message": "no X-Crier-Delivery"}),
        );
    };
    if body["delivery_id"] != json!(key) || body["title"].as_str().is_none() {
        return Answer::json(
            400,
            json!({"error": "invalid_payload", "message": "delivery_id or title missing"}),
        );
    }
    match ledger.next_fault() {
        Some(Fault::RateLimited { retry_after_secs }) => {
            Answer::json(429, json!({"error": "slow_down"}))
                .header("retry-after", &retry_after_secs.to_string())
        }
        Some(Fault::ServerError) => Answer::text(503, "partner system unavailable"),
        Some(Fault::Invalid { message }) => {
            Answer::json(422, json!({"error": "invalid_payload", "message": message}))
        }
        Some(Fault::ExpiredCredentials) => Answer::json(401, json!({"error": "bad_signature"})),
        Some(Fault::HangAfterReceive) => {
            ledger.accept(body);
            Answer::Hang
        }
        None => {
            let n = ledger.accept(body);
            Answer::json(
                201,
                json!({"id": format!("partner-{n}"), "url": format!("https://partner.example/items/{n}")}),
            )
        }
    }
}

#[async_trait]
impl Network for Webhook {
    fn name(&self) -> &'static str {
        "partner-hook"
    }

    async fn start() -> Self {
        let ledger = Arc::new(Ledger::default());
        let secret = "whsec-compliance-must-never-be-printed".to_string();
        let (l, s) = (ledger.clone(), secret.clone());
        let server = Server::start(Arc::new(move |req| handle(&l, &s, req))).await;
        Webhook {
            server,
            ledger,
            secret_env: env_name("webhook", "secret"),
            secret,
        }
    }

    fn channel_toml(&self) -> String {
        format!(
            "[channels.partner-hook]\nkind = \"webhook\"\nurl = \"{}\"\n\
             signing_secret_env = \"{}\"\ntimeout_seconds = 3\n",
            self.server.url(PATH),
            self.secret_env
        )
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![(self.secret_env.clone(), self.secret.clone())]
    }

    fn inject(&self, fault: Fault) {
        self.ledger.inject(fault);
    }

    fn posts(&self) -> Vec<serde_json::Value> {
        self.ledger.posts()
    }

    /// Partners drop repeats by `delivery_id`, but crier cannot ask whether
    /// one arrived, so a lost answer is for a person.
    fn idempotent(&self) -> bool {
        false
    }

    fn verify_receipt(&self, receipt: &Receipt) {
        let n = self.ledger.posts().len() - 1;
        assert_eq!(
            receipt,
            &Receipt {
                remote_id: Some(format!("partner-{n}")),
                remote_url: Some(format!("https://partner.example/items/{n}")),
            }
        );
    }
}
