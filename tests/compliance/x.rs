//! X's contract (API v2), as a local server: OAuth 1.0a signatures checked
//! by recomputing them (RFC 5849, written here independently of crier's
//! signer), OAuth 2.0 bearer tokens with the refresh-token grant rotating
//! the refresh token on every use, `POST /2/tweets` with X's 280 weighted
//! characters, 403 for an exact repeat, 429 with `x-rate-limit-reset`, the
//! v2 media upload and alt-text metadata, and X's problem-JSON errors.
//!
//! Two registrations: `X` signs with OAuth 1.0a, `XOAuth2` uses OAuth 2.0.

use std::collections::{BTreeMap, HashSet};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use crier::delivery::Receipt;
use crier_text::Counter;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;

use super::harness::{env_name, Fault, Network};
use super::server::{Answer, Ledger, Request, Server};

pub const CONSUMER_KEY: &str = "ck-x-compliance-41f0";
pub const CONSUMER_SECRET: &str = "cs-x-compliance-must-never-be-printed";
pub const TOKEN: &str = "370773112-at-x-compliance-9c2e";
pub const TOKEN_SECRET: &str = "ats-x-compliance-must-never-be-printed";
pub const CLIENT_ID: &str = "client-x-compliance-77aa";
pub const FIRST_REFRESH: &str = "rt-0-x-compliance-must-never-be-printed";

/// What the server knows beyond the ledger: tokens, media, posted texts.
#[derive(Default)]
pub struct State {
    /// The one refresh token that works now; every refresh replaces it.
    pub refresh_token: Option<String>,
    /// Every refresh token ever issued (to show the old ones are refused).
    pub issued_refresh: Vec<String>,
    pub access_tokens: HashSet<String>,
    pub refreshes: usize,
    /// media id → alt text (None until metadata is set).
    pub media: BTreeMap<String, Option<String>>,
    pub texts: HashSet<String>,
    pub ids: Vec<String>,
}

pub struct Shared {
    pub ledger: Ledger,
    pub state: Mutex<State>,
    oauth2: bool,
}

impl Shared {
    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// ---- OAuth 1.0a, independently of crier's code ----

fn rfc3986(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Checks an `Authorization: OAuth ...` header by recomputing the
/// signature over the request as received.
pub fn oauth1_valid(req: &Request) -> bool {
    let Some(header) = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("OAuth "))
    else {
        return false;
    };
    let mut oauth: BTreeMap<String, String> = BTreeMap::new();
    for field in header.split(',') {
        let Some((k, v)) = field.trim().split_once('=') else {
            return false;
        };
        oauth.insert(decode(k), decode(v.trim_matches('"')));
    }
    let get = |k: &str| oauth.get(k).map(String::as_str);
    if get("oauth_consumer_key") != Some(CONSUMER_KEY)
        || get("oauth_token") != Some(TOKEN)
        || get("oauth_signature_method") != Some("HMAC-SHA1")
        || get("oauth_version").is_some_and(|v| v != "1.0")
        || get("oauth_nonce").is_none_or(|n| n.is_empty())
        || get("oauth_timestamp").is_none_or(|t| t.parse::<i64>().is_err())
    {
        return false;
    }
    let Some(given) = get("oauth_signature").map(str::to_string) else {
        return false;
    };
    let mut params: Vec<(String, String)> = oauth
        .iter()
        .filter(|(k, _)| *k != "oauth_signature")
        .map(|(k, v)| (rfc3986(k), rfc3986(v)))
        .collect();
    for pair in req
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.push((rfc3986(&decode(k)), rfc3986(&decode(v))));
    }
    if req.header("content-type") == Some("application/x-www-form-urlencoded") {
        for pair in String::from_utf8_lossy(&req.body)
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let plus = |s: &str| decode(&s.replace('+', " "));
            params.push((rfc3986(&plus(k)), rfc3986(&plus(v))));
        }
    }
    params.sort();
    let normal = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let host = req.header("host").unwrap_or_default();
    let base = format!(
        "{}&{}&{}",
        req.method,
        rfc3986(&format!("http://{host}{}", req.path)),
        rfc3986(&normal)
    );
    let key = format!("{}&{}", rfc3986(CONSUMER_SECRET), rfc3986(TOKEN_SECRET));
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(base.as_bytes());
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given) else {
        return false;
    };
    mac.verify_slice(&given).is_ok()
}

fn problem(status: u16, title: &str, detail: &str) -> Answer {
    Answer::json(
        status,
        json!({"title": title, "detail": detail, "type": "about:blank", "status": status}),
    )
}

fn unauthorized() -> Answer {
    problem(401, "Unauthorized", "Unauthorized")
}

/// The refresh-token grant: the presented token must be the current one;
/// the answer carries a new access token and a new refresh token.
fn token(shared: &Shared, req: &Request) -> Answer {
    let form: BTreeMap<String, String> = String::from_utf8_lossy(&req.body)
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(&k.replace('+', " ")), decode(&v.replace('+', " "))))
        .collect();
    let field = |k: &str| form.get(k).map(String::as_str);
    if req.header("content-type") != Some("application/x-www-form-urlencoded")
        || field("grant_type") != Some("refresh_token")
        || field("client_id") != Some(CLIENT_ID)
    {
        return Answer::json(
            400,
            json!({"error": "invalid_request", "error_description": "Missing required parameter."}),
        );
    }
    let mut state = shared.state();
    if field("refresh_token") != state.refresh_token.as_deref() || state.refresh_token.is_none() {
        return Answer::json(
            400,
            json!({"error": "invalid_request", "error_description": "Value passed for the token was invalid."}),
        );
    }
    state.refreshes += 1;
    let n = state.refreshes;
    let access = format!("at-{n}-x-oauth2-must-never-be-printed");
    let refresh = format!("rt-{n}-x-oauth2-must-never-be-printed");
    state.access_tokens.insert(access.clone());
    state.refresh_token = Some(refresh.clone());
    state.issued_refresh.push(refresh.clone());
    Answer::json(
        200,
        json!({"token_type": "bearer", "expires_in": 7200, "access_token": access,
        "scope": "tweet.write users.read tweet.read offline.access", "refresh_token": refresh}),
    )
}

fn authorized(shared: &Shared, req: &Request) -> bool {
    if shared.oauth2 {
        let bearer = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "));
        bearer.is_some_and(|t| shared.state().access_tokens.contains(t))
    } else {
        oauth1_valid(req)
    }
}

pub fn handle(shared: &Shared, req: Request) -> Answer {
    if req.method == "POST" && req.path == "/2/oauth2/token" {
        return token(shared, &req);
    }
    if !authorized(shared, &req) {
        return unauthorized();
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/2/users/me") => Answer::json(
            200,
            json!({"data": {"id": "2244994945", "name": "Test Partnership", "username": "testpartnership"}}),
        ),
        ("POST", "/2/media/upload") => upload(shared, &req),
        ("POST", "/2/media/metadata") => metadata(shared, &req),
        ("POST", "/2/tweets") => tweet(shared, &req),
        _ => problem(404, "Not Found Error", "Sorry, that page does not exist."),
    }
}

fn invalid(message: &str) -> Answer {
    Answer::json(
        400,
        json!({
        "errors": [{"parameters": {}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request"}),
    )
}

fn upload(shared: &Shared, req: &Request) -> Answer {
    let Ok(body) = req.json() else {
        return invalid("media upload body must be JSON or multipart");
    };
    let bytes = body["media"]
        .as_str()
        .and_then(|m| base64::engine::general_purpose::STANDARD.decode(m).ok());
    if bytes.is_none_or(|b| b.is_empty()) || body["media_category"] != "tweet_image" {
        return invalid("media must be base64 image bytes with media_category tweet_image");
    }
    let mut state = shared.state();
    let id = format!("171000000000000{}", state.media.len());
    state.media.insert(id.clone(), None);
    Answer::json(
        200,
        json!({"data": {"id": id, "media_key": format!("3_{id}"), "expires_after_secs": 86400}}),
    )
}

fn metadata(shared: &Shared, req: &Request) -> Answer {
    let Ok(body) = req.json() else {
        return invalid("metadata body must be JSON");
    };
    let (Some(id), Some(alt)) = (
        body["id"].as_str(),
        body["metadata"]["alt_text"]["text"].as_str(),
    ) else {
        return invalid("id and metadata.alt_text.text are required");
    };
    if alt.chars().count() > 1000 {
        return invalid("alt_text.text must be at most 1000 characters");
    }
    let mut state = shared.state();
    match state.media.get_mut(id) {
        Some(slot) => {
            *slot = Some(alt.to_string());
            Answer::json(
                200,
                json!({"data": {"associated_metadata": {"alt_text": {"text": alt}}}}),
            )
        }
        None => invalid("media id not found"),
    }
}

fn tweet(shared: &Shared, req: &Request) -> Answer {
    let Ok(body) = req.json() else {
        return invalid("body must be JSON");
    };
    let Some(text) = body["text"].as_str() else {
        return invalid("text is required");
    };
    let counter = crier_text::x::XCounter;
    if counter.count(text) > 280 {
        return invalid("Your Tweet text is too long.");
    }
    {
        let state = shared.state();
        if let Some(parent) = body.get("reply") {
            let ok = parent["in_reply_to_tweet_id"]
                .as_str()
                .is_some_and(|id| state.ids.iter().any(|i| i == id));
            if !ok {
                return invalid("reply.in_reply_to_tweet_id must be an existing post");
            }
        }
        if let Some(media) = body.get("media") {
            let ids = media["media_ids"].as_array().cloned().unwrap_or_default();
            let ok = !ids.is_empty()
                && ids.len() <= 4
                && ids.iter().all(|id| {
                    id.as_str()
                        .and_then(|id| state.media.get(id))
                        .is_some_and(Option::is_some)
                });
            if !ok {
                return invalid("media_ids must be 1–4 uploaded media with alt text");
            }
        }
        if state.texts.contains(text) {
            return problem(
                403,
                "Forbidden",
                "You are not allowed to create a Tweet with duplicate content.",
            );
        }
    }
    match shared.ledger.next_fault() {
        Some(Fault::RateLimited { retry_after_secs }) => {
            let now = chrono::Utc::now();
            problem(429, "Too Many Requests", "Too Many Requests")
                .header("date", &now.to_rfc2822())
                .header("x-rate-limit-limit", "100")
                .header("x-rate-limit-remaining", "0")
                .header(
                    "x-rate-limit-reset",
                    &(now.timestamp() + retry_after_secs as i64).to_string(),
                )
        }
        Some(Fault::ServerError) => problem(503, "Service Unavailable", "Service Unavailable"),
        Some(Fault::Invalid { message }) => invalid(&message),
        Some(Fault::ExpiredCredentials) => {
            // Revoked: the access tokens and the refresh token all stop working.
            let mut state = shared.state();
            state.access_tokens.clear();
            state.refresh_token = None;
            unauthorized()
        }
        Some(Fault::HangAfterReceive) => {
            accept(shared, text, body.clone());
            Answer::Hang
        }
        None => {
            let id = accept(shared, text, body.clone());
            Answer::json(
                201,
                json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}}),
            )
        }
    }
}

fn accept(shared: &Shared, text: &str, mut body: Value) -> String {
    let mut state = shared.state();
    let id = format!("186000000000000{}", state.ids.len());
    state.ids.push(id.clone());
    state.texts.insert(text.to_string());
    body["id"] = json!(id);
    shared.ledger.accept(body);
    id
}

// ---- The two registrations ----

pub trait Mode: Send + Sync + 'static {
    const OAUTH2: bool;
    const NAME: &'static str;
}
pub struct OAuth1;
pub struct OAuth2;
impl Mode for OAuth1 {
    const OAUTH2: bool = false;
    const NAME: &'static str = "x";
}
impl Mode for OAuth2 {
    const OAUTH2: bool = true;
    const NAME: &'static str = "x-oauth2";
}

pub struct XNet<M: Mode> {
    pub server: Server,
    pub shared: Arc<Shared>,
    pub envs: Vec<(String, String)>,
    mode: PhantomData<M>,
}

pub type X = XNet<OAuth1>;
pub type XOAuth2 = XNet<OAuth2>;

impl<M: Mode> XNet<M> {
    pub fn env_var(&self, what: &str) -> &str {
        let suffix = format!("_{}_", what.to_uppercase());
        &self
            .envs
            .iter()
            .find(|(n, _)| n.contains(&suffix))
            .unwrap()
            .0
    }
}

#[async_trait]
impl<M: Mode> Network for XNet<M> {
    fn name(&self) -> &'static str {
        M::NAME
    }

    async fn start() -> Self {
        let shared = Arc::new(Shared {
            ledger: Ledger::default(),
            state: Mutex::new(State {
                refresh_token: Some(FIRST_REFRESH.into()),
                issued_refresh: vec![FIRST_REFRESH.into()],
                ..State::default()
            }),
            oauth2: M::OAUTH2,
        });
        let s = shared.clone();
        let server = Server::start(Arc::new(move |req| handle(&s, req))).await;
        let envs = if M::OAUTH2 {
            vec![
                (env_name("x", "client_id"), CLIENT_ID.to_string()),
                (env_name("x", "refresh"), FIRST_REFRESH.to_string()),
            ]
        } else {
            vec![
                (env_name("x", "consumer_key"), CONSUMER_KEY.to_string()),
                (
                    env_name("x", "consumer_secret"),
                    CONSUMER_SECRET.to_string(),
                ),
                (env_name("x", "token"), TOKEN.to_string()),
                (env_name("x", "token_secret"), TOKEN_SECRET.to_string()),
            ]
        };
        XNet {
            server,
            shared,
            envs,
            mode: PhantomData,
        }
    }

    fn channel_toml(&self) -> String {
        let mut t = format!(
            "[channels.{}]\nkind = \"x\"\napi = \"{}\"\n",
            M::NAME,
            self.server.url("")
        );
        let keys: &[(&str, &str)] = if M::OAUTH2 {
            &[
                ("client_id_env", "client_id"),
                ("refresh_token_env", "refresh"),
            ]
        } else {
            &[
                ("consumer_key_env", "consumer_key"),
                ("consumer_secret_env", "consumer_secret"),
                ("access_token_env", "token"),
                ("access_token_secret_env", "token_secret"),
            ]
        };
        for (key, what) in keys {
            t.push_str(&format!("{key} = \"{}\"\n", self.env_var(what)));
        }
        t
    }

    fn env(&self) -> Vec<(String, String)> {
        self.envs.clone()
    }

    fn inject(&self, fault: Fault) {
        self.shared.ledger.inject(fault);
    }

    fn posts(&self) -> Vec<Value> {
        self.shared.ledger.posts()
    }

    /// No idempotency key; an exact repeat is refused as a duplicate, but
    /// that cannot tell "ours" from "someone's", so a lost answer is for a
    /// person.
    fn idempotent(&self) -> bool {
        false
    }

    fn verify_receipt(&self, receipt: &Receipt) {
        let posts = self.posts();
        let id = posts[0]["id"].as_str().unwrap().to_string();
        assert_eq!(
            receipt,
            &Receipt {
                remote_url: Some(format!("https://x.com/i/web/status/{id}")),
                remote_id: Some(id),
            }
        );
    }

    const TAKES_IMAGES: bool = true;

    /// The post names an uploaded media id whose metadata carries the alt text.
    fn verify_image(&self, alt: &str) {
        let posts = self.posts();
        let id = posts.last().unwrap()["media"]["media_ids"][0]
            .as_str()
            .expect("the post attaches a media id")
            .to_string();
        let state = self.shared.state();
        assert_eq!(state.media.get(&id), Some(&Some(alt.to_string())));
    }
}
