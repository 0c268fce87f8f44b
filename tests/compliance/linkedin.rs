//! LinkedIn's contract (Posts API, Rest.li 2.0): Bearer token,
//! `LinkedIn-Version: YYYYMM` and `X-Restli-Protocol-Version: 2.0.0` on
//! every call, the post body's required fields, the id of the new post in
//! the `x-restli-id` header of a 201 with no body, images through
//! `/rest/images?action=initializeUpload` and a PUT, and LinkedIn's error
//! body `{"message", "status", "serviceErrorCode"}`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crier::delivery::Receipt;
use serde_json::{json, Value};

use super::harness::{env_name, Fault, Network};
use super::server::{Answer, Ledger, Request, Server};

pub const AUTHOR: &str = "urn:li:organization:10000042";
pub const TOKEN: &str = "AQV-linkedin-token-compliance-must-never-be-printed";

pub struct Shared {
    pub ledger: Ledger,
    pub expired: Mutex<bool>,
    /// Image URNs initialised, and whether their bytes arrived.
    pub images: Mutex<Vec<(String, bool)>>,
    pub upload_base: Mutex<String>,
}

fn error(status: u16, code: i64, message: &str) -> Answer {
    Answer::json(
        status,
        json!({"message": message, "status": status, "serviceErrorCode": code}),
    )
}

/// The fields `/rest/posts` requires, with the values crier must send.
fn post_problem(body: &Value) -> Option<String> {
    let want = [
        ("/author", json!(AUTHOR)),
        ("/visibility", json!("PUBLIC")),
        ("/distribution/feedDistribution", json!("MAIN_FEED")),
        ("/distribution/targetEntities", json!([])),
        ("/distribution/thirdPartyDistributionChannels", json!([])),
        ("/lifecycleState", json!("PUBLISHED")),
        ("/isReshareDisabledByAuthor", json!(false)),
    ];
    for (pointer, value) in want {
        if body.pointer(pointer) != Some(&value) {
            return Some(format!("/{}: field is required or invalid", &pointer[1..]));
        }
    }
    let commentary = body["commentary"].as_str()?;
    if commentary.chars().count() > 3000 {
        return Some("/commentary: length exceeds 3000".into());
    }
    None
}

pub fn handle(shared: &Shared, req: Request) -> Answer {
    if req.method == "PUT" && req.path.starts_with("/upload/") {
        // The upload URL is LinkedIn's; it takes the bytes as they are.
        let urn = format!("urn:li:image:{}", &req.path["/upload/".len()..]);
        let mut images = shared.images.lock().unwrap();
        return match images.iter_mut().find(|(u, _)| *u == urn) {
            Some(slot)
                if !req.body.is_empty()
                    && req.header("authorization") == Some(&format!("Bearer {TOKEN}")) =>
            {
                slot.1 = true;
                Answer::empty(201)
            }
            _ => error(400, 0, "upload refused"),
        };
    }
    match req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
    {
        Some(t) if t == TOKEN && !*shared.expired.lock().unwrap() => {}
        _ => {
            return error(
                401,
                65601,
                "The token used in the request has been revoked by the user",
            )
        }
    }
    if req.header("x-restli-protocol-version") != Some("2.0.0") {
        return error(400, 0, "X-Restli-Protocol-Version 2.0.0 is required");
    }
    match req.header("linkedin-version") {
        Some(v) if v.len() == 6 && v.chars().all(|c| c.is_ascii_digit()) && v >= "202401" => {}
        Some(v) => return error(426, 0, &format!("Requested version {v} is not active")),
        None => return error(400, 0, "A version must be present. Please specify a version by adding the LinkedIn-Version header."),
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/rest/posts") if req.query_param("q") == Some("author") => Answer::json(
            200,
            json!({"elements": [], "paging": {"start": 0, "count": 1}}),
        ),
        ("POST", "/rest/images") if req.query_param("action") == Some("initializeUpload") => {
            let Ok(body) = req.json() else {
                return error(400, 100, "body must be JSON");
            };
            if body["initializeUploadRequest"]["owner"] != json!(AUTHOR) {
                return error(
                    422,
                    100,
                    "/initializeUploadRequest/owner: field is required",
                );
            }
            let mut images = shared.images.lock().unwrap();
            let id = format!("C4E10AQImage{}", images.len());
            images.push((format!("urn:li:image:{id}"), false));
            let upload = format!("{}/upload/{id}", shared.upload_base.lock().unwrap());
            Answer::json(
                200,
                json!({"value": {"uploadUrlExpiresAt": 1_796_300_000_000_i64,
                "uploadUrl": upload, "image": format!("urn:li:image:{id}")}}),
            )
        }
        ("POST", "/rest/posts") => create(shared, &req),
        _ => error(404, 0, "Resource not found"),
    }
}

fn create(shared: &Shared, req: &Request) -> Answer {
    let Ok(body) = req.json() else {
        return error(400, 100, "body must be JSON");
    };
    if let Some(problem) = post_problem(&body) {
        return error(422, 100, &problem);
    }
    if let Some(media) = body.pointer("/content/media") {
        let images = shared.images.lock().unwrap();
        let uploaded = media["id"]
            .as_str()
            .is_some_and(|id| images.iter().any(|(u, done)| u == id && *done));
        if !uploaded || media["altText"].as_str().is_none_or(str::is_empty) {
            return error(
                422,
                100,
                "/content/media: image not uploaded or altText missing",
            );
        }
    }
    if shared
        .ledger
        .find(|p| p["commentary"] == body["commentary"])
        .is_some()
    {
        return error(
            422,
            100,
            "Content is a duplicate of urn:li:share:7000000000000000000",
        );
    }
    match shared.ledger.next_fault() {
        Some(Fault::RateLimited { retry_after_secs }) => error(
            429,
            101,
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        )
        .header("retry-after", &retry_after_secs.to_string()),
        Some(Fault::ServerError) => error(503, 0, "Service unavailable"),
        Some(Fault::Invalid { message }) => error(422, 100, &message),
        Some(Fault::ExpiredCredentials) => {
            *shared.expired.lock().unwrap() = true;
            error(401, 65602, "The token used in the request has expired")
        }
        Some(Fault::HangAfterReceive) => {
            shared.ledger.accept(body);
            Answer::Hang
        }
        None => {
            let n = shared.ledger.accept(body);
            Answer::empty(201).header(
                "x-restli-id",
                &format!("urn:li:share:70000000000000000{n:02}"),
            )
        }
    }
}

pub struct LinkedIn {
    pub server: Server,
    pub shared: Arc<Shared>,
    pub token_env: String,
}

#[async_trait]
impl Network for LinkedIn {
    fn name(&self) -> &'static str {
        "linkedin"
    }

    async fn start() -> Self {
        let shared = Arc::new(Shared {
            ledger: Ledger::default(),
            expired: Mutex::new(false),
            images: Mutex::new(Vec::new()),
            upload_base: Mutex::new(String::new()),
        });
        let s = shared.clone();
        let server = Server::start(Arc::new(move |req| handle(&s, req))).await;
        *shared.upload_base.lock().unwrap() = server.url("");
        LinkedIn {
            server,
            shared,
            token_env: env_name("linkedin", "token"),
        }
    }

    fn channel_toml(&self) -> String {
        format!(
            "[channels.linkedin]\nkind = \"linkedin\"\nauthor = \"{AUTHOR}\"\n\
             token_env = \"{}\"\nversion = \"202511\"\napi = \"{}\"\n",
            self.token_env,
            self.server.url("")
        )
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![(self.token_env.clone(), TOKEN.to_string())]
    }

    fn inject(&self, fault: Fault) {
        self.shared.ledger.inject(fault);
    }

    fn posts(&self) -> Vec<Value> {
        self.shared.ledger.posts()
    }

    fn idempotent(&self) -> bool {
        false
    }

    fn verify_receipt(&self, receipt: &Receipt) {
        let n = self.posts().len() - 1;
        let urn = format!("urn:li:share:70000000000000000{n:02}");
        assert_eq!(
            receipt,
            &Receipt {
                remote_url: Some(format!("https://www.linkedin.com/feed/update/{urn}")),
                remote_id: Some(urn),
            }
        );
    }
}
