//! Bluesky's XRPC contract for what crier uses, as a local server: sessions
//! (`createSession` with identifier + app password, `refreshSession` with a
//! rotating refresh token, `ExpiredToken` for a stale access token),
//! `putRecord` with `swapRecord: null` as a create-only write (a repeat is
//! 400 `InvalidSwap`; the key must be TID-shaped), `getRecord`
//! (`RecordNotFound`), named errors `{"error", "message"}`, and 429 with
//! `RateLimit-Reset` in Unix seconds.
//!
//! The real PDS is the proof of the record shapes (`tests/bluesky.rs`); this
//! server adds the failures a real PDS will not produce on demand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crier::delivery::Receipt;
use serde_json::{json, Value};

use super::harness::{env_name, Fault, Network};
use super::server::{Answer, Ledger, Request, Server};

const PASSWORD: &str = "bsky-app-password-compliance-never-printed";
const HANDLE: &str = "mars.test";
const DID: &str = "did:plc:compliancemars";
const POST: &str = "app.bsky.feed.post";

#[derive(Default)]
struct Pds {
    access: Option<String>,
    refresh: Option<String>,
    /// The app password was revoked: every session call is refused.
    revoked: bool,
    n: usize,
    /// rkey → (uri, cid, record).
    records: HashMap<String, (String, String, Value)>,
}

pub struct Bluesky {
    server: Server,
    ledger: Arc<Ledger>,
    env: String,
}

fn error(status: u16, name: &str, message: &str) -> Answer {
    Answer::json(status, json!({"error": name, "message": message}))
}

fn tid_shaped(rkey: &str) -> bool {
    const ALPHABET: &str = "234567abcdefghijklmnopqrstuvwxyz";
    rkey.len() == 13
        && rkey.chars().all(|c| ALPHABET.contains(c))
        && "234567abcdefghij".contains(&rkey[..1])
}

fn new_session(pds: &mut Pds) -> Answer {
    pds.n += 1;
    let (a, r) = (format!("access-{}", pds.n), format!("refresh-{}", pds.n));
    pds.access = Some(a.clone());
    pds.refresh = Some(r.clone());
    Answer::json(
        200,
        json!({"accessJwt": a, "refreshJwt": r, "did": DID, "handle": HANDLE}),
    )
}

fn bearer(req: &Request) -> Option<&str> {
    req.header("authorization")?.strip_prefix("Bearer ")
}

fn handle(ledger: &Ledger, pds: &Mutex<Pds>, req: Request) -> Answer {
    let mut pds = pds.lock().unwrap();
    let method = req.path.trim_start_matches("/xrpc/");
    match (req.method.as_str(), method) {
        ("POST", "com.atproto.server.createSession") => {
            let body = req.json().unwrap_or_default();
            let ok = !pds.revoked
                && (body["identifier"] == HANDLE || body["identifier"] == DID)
                && body["password"] == PASSWORD;
            if !ok {
                return error(
                    401,
                    "AuthenticationRequired",
                    "Invalid identifier or password",
                );
            }
            new_session(&mut pds)
        }
        ("POST", "com.atproto.server.refreshSession") => {
            if pds.revoked || bearer(&req).is_none() || bearer(&req) != pds.refresh.as_deref() {
                return error(400, "ExpiredToken", "Token has been revoked");
            }
            new_session(&mut pds)
        }
        ("GET", "com.atproto.repo.getRecord") => {
            let rkey = req.query_param("rkey").unwrap_or_default();
            match pds.records.get(rkey) {
                Some((uri, cid, value)) => {
                    Answer::json(200, json!({"uri": uri, "cid": cid, "value": value}))
                }
                None => error(
                    400,
                    "RecordNotFound",
                    &format!("Could not locate record: {rkey}"),
                ),
            }
        }
        ("POST", "com.atproto.repo.putRecord") => put_record(ledger, &mut pds, &req),
        _ => error(501, "MethodNotImplemented", "Method Not Implemented"),
    }
}

fn put_record(ledger: &Ledger, pds: &mut Pds, req: &Request) -> Answer {
    if bearer(req).is_none() {
        return error(401, "AuthenticationRequired", "Authentication Required");
    }
    if bearer(req) != pds.access.as_deref() {
        return error(400, "ExpiredToken", "Token has expired");
    }
    let Ok(body) = req.json() else {
        return error(400, "InvalidRequest", "Request body must be JSON");
    };
    let rkey = body["rkey"].as_str().unwrap_or_default().to_string();
    let record = &body["record"];
    if body["repo"] != DID && body["repo"] != HANDLE {
        return error(400, "InvalidRequest", "Could not find repo");
    }
    if body["collection"] != POST || record["$type"] != POST || !tid_shaped(&rkey) {
        return error(
            400,
            "InvalidRequest",
            "Invalid collection, $type or record key",
        );
    }
    if body.get("swapRecord") != Some(&Value::Null) {
        return error(
            400,
            "InvalidRequest",
            "test contract: crier must write create-only",
        );
    }
    let text = record["text"].as_str().unwrap_or_default();
    if text.chars().count() > 300 || record["createdAt"].as_str().is_none() {
        return error(
            400,
            "InvalidRequest",
            "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
        );
    }
    if let Some((_, cid, _)) = pds.records.get(&rkey) {
        return error(400, "InvalidSwap", &format!("Record was at {cid}"));
    }
    let fault = ledger.next_fault();
    match &fault {
        Some(Fault::RateLimited { retry_after_secs }) => {
            let now = chrono::Utc::now();
            let reset = now.timestamp() + *retry_after_secs as i64;
            return error(429, "RateLimitExceeded", "Rate Limit Exceeded")
                .header("date", &now.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
                .header("ratelimit-limit", "5000")
                .header("ratelimit-remaining", "0")
                .header("ratelimit-reset", &reset.to_string())
                .header("ratelimit-policy", "5000;w=3600");
        }
        Some(Fault::ServerError) => {
            return error(500, "InternalServerError", "Internal Server Error")
        }
        Some(Fault::Invalid { message }) => return error(400, "InvalidRequest", message),
        Some(Fault::ExpiredCredentials) => {
            pds.revoked = true;
            return error(400, "ExpiredToken", "Token has expired");
        }
        Some(Fault::HangAfterReceive) | None => {}
    }
    let uri = format!("at://{DID}/{POST}/{rkey}");
    let cid = format!("bafyrei{:016x}", pds.records.len() + 1);
    pds.records
        .insert(rkey, (uri.clone(), cid.clone(), record.clone()));
    ledger.accept(json!({"uri": uri, "cid": cid, "record": record}));
    match fault {
        Some(Fault::HangAfterReceive) => Answer::Hang,
        _ => Answer::json(
            200,
            json!({"uri": uri, "cid": cid, "validationStatus": "valid"}),
        ),
    }
}

#[async_trait]
impl Network for Bluesky {
    fn name(&self) -> &'static str {
        "bluesky"
    }

    async fn start() -> Self {
        let ledger = Arc::new(Ledger::default());
        let pds = Arc::new(Mutex::new(Pds::default()));
        let l = ledger.clone();
        let server = Server::start(Arc::new(move |req| handle(&l, &pds, req))).await;
        Bluesky {
            server,
            ledger,
            env: env_name("bluesky", "app_password"),
        }
    }

    fn channel_toml(&self) -> String {
        format!(
            "[channels.bluesky]\nkind = \"bluesky\"\nservice = \"{}\"\nidentifier = \"{HANDLE}\"\napp_password_env = \"{}\"\n",
            self.server.url(""),
            self.env
        )
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![(self.env.clone(), PASSWORD.to_string())]
    }

    fn inject(&self, fault: Fault) {
        self.ledger.inject(fault);
    }

    fn posts(&self) -> Vec<Value> {
        self.ledger.posts()
    }

    /// The record key is derived from the delivery: a repeat is refused
    /// by the server, and the record can be looked up.
    fn idempotent(&self) -> bool {
        true
    }

    fn verify_receipt(&self, receipt: &Receipt) {
        let uri = self.ledger.posts()[0]["uri"].as_str().unwrap().to_string();
        let rkey = uri.rsplit('/').next().unwrap();
        assert_eq!(
            receipt,
            &Receipt {
                remote_url: Some(format!("https://bsky.app/profile/{DID}/post/{rkey}")),
                remote_id: Some(uri),
            }
        );
    }
}
