//! A relay between crier and the OpenID provider: the daemon's HTTP proxy
//! (`HTTP_PROXY`), so crier is configured with the provider's real issuer
//! and reads its real discovery and keys. Every request goes through
//! unchanged; the token endpoint's answer has its `id_token` replaced by
//! what `rewrite` makes of it, as a man in the middle would.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use axum::response::Response;

pub type Rewrite = Box<dyn Fn(&str) -> String + Send + Sync>;

/// The relay's address, and the ID tokens it saw (as the provider issued
/// them) and passed on.
pub struct Relay {
    pub url: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

struct Shared {
    rewrite: Rewrite,
    upstream: reqwest::Client,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Relay {
    pub async fn start(rewrite: Rewrite) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            rewrite,
            upstream: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            seen: seen.clone(),
        });
        let app = axum::Router::new().fallback(pass).with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Relay { url, seen }
    }

    /// The environment that makes a daemon use the relay for plain http.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let url = self.url.clone();
        vec![
            ("HTTP_PROXY", url.clone()),
            ("http_proxy", url),
            ("NO_PROXY", String::new()),
            ("no_proxy", String::new()),
        ]
    }

    /// Each token answer relayed: (the ID token issued, the one passed on).
    pub fn tokens(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

/// A proxied request (absolute-form URI) sent on; a token answer rewritten.
async fn pass(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut headers = parts.headers.clone();
    headers.remove(HOST);
    let answer = shared
        .upstream
        .request(parts.method.clone(), parts.uri.to_string())
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let mut headers = answer.headers().clone();
    let mut bytes = answer.bytes().await.unwrap().to_vec();
    if parts.uri.path() == "/token" && status.is_success() {
        let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let issued = json["id_token"].as_str().unwrap().to_string();
        let passed = (shared.rewrite)(&issued);
        json["id_token"] = passed.clone().into();
        shared.seen.lock().unwrap().push((issued, passed));
        bytes = serde_json::to_vec(&json).unwrap();
    }
    headers.remove(CONTENT_LENGTH);
    headers.remove(TRANSFER_ENCODING);
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}
