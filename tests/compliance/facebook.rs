//! Facebook Pages' contract (Graph API): the Page token as the
//! `access_token` parameter (or a Bearer header), `POST /{page-id}/feed`
//! with `message` and `link` as a form, `POST /{page-id}/photos` as a
//! multipart upload with `caption` and `alt_text_custom`, and Graph's error
//! body `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`
//! — mostly with HTTP 400, whatever the cause.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crier::delivery::Receipt;
use serde_json::{json, Value};

use super::harness::{env_name, Fault, Network};
use super::server::{Answer, Ledger, Request, Server};

pub const PAGE_ID: &str = "100000000000042";
pub const TOKEN: &str = "EAAB-page-token-compliance-must-never-be-printed";

pub struct Shared {
    pub ledger: Ledger,
    /// The token stops working once a test says it expired.
    pub expired: Mutex<bool>,
}

fn graph_error(status: u16, code: i64, subcode: Option<i64>, kind: &str, message: &str) -> Answer {
    let mut error =
        json!({"message": message, "type": kind, "code": code, "fbtrace_id": "AoX1cmpl"});
    if let Some(s) = subcode {
        error["error_subcode"] = json!(s);
    }
    Answer::json(status, json!({ "error": error }))
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let d = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (d(k), d(v))
        })
        .collect()
}

/// The named text fields of a multipart body, and whether a `source` file
/// part with bytes is present. Enough of RFC 7578 for this contract.
fn multipart(req: &Request) -> Option<(Vec<(String, String)>, bool)> {
    let boundary = req
        .header("content-type")?
        .split("boundary=")
        .nth(1)?
        .trim_matches('"')
        .to_string();
    let body = &req.body;
    let delimiter = format!("--{boundary}");
    let text = String::from_utf8_lossy(body);
    let mut fields = Vec::new();
    let mut file = false;
    for part in text.split(delimiter.as_str()).skip(1) {
        let Some((head, content)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let content = content.strip_suffix("\r\n").unwrap_or(content);
        let name = head.split("name=\"").nth(1)?.split('"').next()?.to_string();
        if head.contains("filename=") {
            file |= name == "source" && !content.is_empty();
        } else {
            fields.push((name, content.to_string()));
        }
    }
    Some((fields, file))
}

pub fn handle(shared: &Shared, req: Request) -> Answer {
    let feed = format!("/v21.0/{PAGE_ID}/feed");
    let photos = format!("/v21.0/{PAGE_ID}/photos");
    let page = format!("/v21.0/{PAGE_ID}");
    let (fields, file) = if req.path == photos {
        match multipart(&req) {
            Some(m) => m,
            None => {
                return graph_error(
                    400,
                    100,
                    None,
                    "OAuthException",
                    "(#100) Photos must be uploaded as multipart/form-data",
                )
            }
        }
    } else if req.header("content-type") == Some("application/x-www-form-urlencoded") {
        (form(&req.body), false)
    } else {
        (Vec::new(), false)
    };
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let token = field("access_token").map(str::to_string).or_else(|| {
        req.header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::to_string)
    });
    match token.as_deref() {
        None => return graph_error(400, 2500, None, "OAuthException", "An active access token must be used to query information about the current user."),
        Some(t) if t != TOKEN => return graph_error(400, 190, None, "OAuthException", "Invalid OAuth access token - Cannot parse access token"),
        Some(_) if *shared.expired.lock().unwrap() => {
            return graph_error(400, 190, Some(463), "OAuthException", "Error validating access token: Session has expired on Tuesday, 01-Dec-26 09:00:00 PST.")
        }
        Some(_) => {}
    }
    let post = match (req.method.as_str(), req.path.as_str()) {
        ("GET", p) if p == page && req.query_param("fields") == Some("name") => {
            return Answer::json(
                200,
                json!({"name": "Test Safeguarding Partnership", "id": PAGE_ID}),
            );
        }
        ("POST", p) if p == feed => {
            let (Some(message), link) = (field("message"), field("link")) else {
                return graph_error(
                    400,
                    100,
                    None,
                    "OAuthException",
                    "(#100) Missing message or attachment",
                );
            };
            if message.chars().count() > 63_206 {
                return graph_error(
                    400,
                    100,
                    None,
                    "OAuthException",
                    "(#100) The message is too long",
                );
            }
            json!({"message": message, "link": link})
        }
        ("POST", p) if p == photos => {
            if !file {
                return graph_error(
                    400,
                    324,
                    None,
                    "OAuthException",
                    "(#324) Requires upload file",
                );
            }
            json!({"caption": field("caption"), "alt_text_custom": field("alt_text_custom"), "photo": true})
        }
        _ => {
            return graph_error(
                400,
                100,
                Some(33),
                "GraphMethodException",
                "Unsupported request: the object does not exist or does not support this operation",
            )
        }
    };
    if shared
        .ledger
        .find(|p| p["message"] == post["message"] && !post["message"].is_null())
        .is_some()
    {
        return graph_error(
            400,
            506,
            None,
            "OAuthException",
            "(#506) Duplicate status message",
        );
    }
    match shared.ledger.next_fault() {
        Some(Fault::RateLimited { retry_after_secs }) => {
            // Graph's page-level throttle; no standard header, so crier
            // waits its own backoff unless Retry-After is given.
            graph_error(
                400,
                32,
                None,
                "OAuthException",
                "(#32) Page request limit reached",
            )
            .header("retry-after", &retry_after_secs.to_string())
        }
        Some(Fault::ServerError) => graph_error(
            500,
            2,
            None,
            "OAuthException",
            "An unexpected error has occurred. Please retry your request later.",
        ),
        Some(Fault::Invalid { message }) => graph_error(
            400,
            100,
            None,
            "OAuthException",
            &format!("(#100) {message}"),
        ),
        Some(Fault::ExpiredCredentials) => {
            *shared.expired.lock().unwrap() = true;
            graph_error(400, 190, Some(463), "OAuthException", "Error validating access token: Session has expired on Tuesday, 01-Dec-26 09:00:00 PST.")
        }
        Some(Fault::HangAfterReceive) => {
            shared.ledger.accept(post);
            Answer::Hang
        }
        None => {
            let n = shared.ledger.accept(post.clone());
            let post_id = format!("{PAGE_ID}_90000000000{n}");
            if post["photo"] == true {
                Answer::json(
                    200,
                    json!({"id": format!("80000000000{n}"), "post_id": post_id}),
                )
            } else {
                Answer::json(200, json!({ "id": post_id }))
            }
        }
    }
}

pub struct Facebook {
    pub server: Server,
    pub shared: Arc<Shared>,
    pub token_env: String,
}

#[async_trait]
impl Network for Facebook {
    fn name(&self) -> &'static str {
        "facebook"
    }

    async fn start() -> Self {
        let shared = Arc::new(Shared {
            ledger: Ledger::default(),
            expired: Mutex::new(false),
        });
        let s = shared.clone();
        let server = Server::start(Arc::new(move |req| handle(&s, req))).await;
        Facebook {
            server,
            shared,
            token_env: env_name("facebook", "page_token"),
        }
    }

    fn channel_toml(&self) -> String {
        format!(
            "[channels.facebook]\nkind = \"facebook\"\npage_id = \"{PAGE_ID}\"\n\
             page_token_env = \"{}\"\napi = \"{}\"\n",
            self.token_env,
            self.server.url("/v21.0")
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
        let id = format!("{PAGE_ID}_90000000000{n}");
        assert_eq!(
            receipt,
            &Receipt {
                remote_url: Some(format!("https://www.facebook.com/{id}")),
                remote_id: Some(id),
            }
        );
    }

    const TAKES_IMAGES: bool = true;

    /// A photo post (multipart with a file), its alt text in `alt_text_custom`.
    fn verify_image(&self, alt: &str) {
        let posts = self.posts();
        let post = posts.last().unwrap();
        assert_eq!(post["photo"], true, "{post}");
        assert_eq!(post["alt_text_custom"], alt, "{post}");
    }
}
