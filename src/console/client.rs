//! The console's one way to read or change anything: the HTTP API itself,
//! called in process with the visitor's own credentials. So every page
//! shows what the API answers and every button does what the API does,
//! under the API's permission table — the console holds no logic of its
//! own and cannot reach what the API would refuse.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

use crate::api::problem::ProblemDetails;

/// The API's router, ready to be called without a socket.
#[derive(Clone)]
pub struct Api {
    router: Router,
}

/// What the API refused or could not do: its problem details.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: StatusCode,
    pub problem: ProblemDetails,
}

impl Failure {
    /// A page that is not there, said in words.
    pub fn not_found(detail: String) -> Failure {
        let mut f = Failure::new(StatusCode::NOT_FOUND, "Page not found");
        f.problem.detail = Some(detail);
        f
    }

    fn new(status: StatusCode, title: &str) -> Failure {
        Failure {
            status,
            problem: ProblemDetails {
                kind: "about:blank".into(),
                title: title.into(),
                status: status.as_u16(),
                detail: None,
                errors: Vec::new(),
                current_version: None,
            },
        }
    }
}

/// The request headers that carry who is asking and from where: passed
/// on as they came, so the API authenticates and checks cross-site
/// writes exactly as for a direct call.
const CARRIED: [header::HeaderName; 4] = [
    header::COOKIE,
    header::ORIGIN,
    header::HOST,
    header::HeaderName::from_static("sec-fetch-site"),
];

pub fn carried(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in CARRIED {
        for v in headers.get_all(&name) {
            out.append(name.clone(), v.clone());
        }
    }
    out
}

impl Api {
    pub fn new(router: Router) -> Api {
        Api { router }
    }

    pub async fn get<T: DeserializeOwned>(&self, who: &HeaderMap, uri: &str) -> Result<T, Failure> {
        self.call(who, Method::GET, uri, None, None).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        who: &HeaderMap,
        uri: &str,
        body: &serde_json::Value,
    ) -> Result<T, Failure> {
        self.call(who, Method::POST, uri, Some(body), None).await
    }

    /// One API request; `if_match` for writes guarded by a version.
    pub async fn call<T: DeserializeOwned>(
        &self,
        who: &HeaderMap,
        method: Method,
        uri: &str,
        body: Option<&serde_json::Value>,
        if_match: Option<&str>,
    ) -> Result<T, Failure> {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(h) = request.headers_mut() {
            h.extend(who.clone());
            if body.is_some() {
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            if let Some(v) = if_match.and_then(|v| HeaderValue::from_str(&format!("\"{v}\"")).ok())
            {
                h.insert(header::IF_MATCH, v);
            }
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send(request, body).await
    }

    /// A POST whose body is not JSON (a `multipart/form-data` upload).
    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        who: &HeaderMap,
        uri: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<T, Failure> {
        let mut request = Request::builder().method(Method::POST).uri(uri);
        if let Some(h) = request.headers_mut() {
            h.extend(who.clone());
            if let Ok(v) = HeaderValue::from_str(content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
        }
        self.send(request, Body::from(body)).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: axum::http::request::Builder,
        body: Body,
    ) -> Result<T, Failure> {
        let request = request
            .body(body)
            .map_err(|_| Failure::new(StatusCode::BAD_REQUEST, "A request could not be made"))?;
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .map_err(|_| Failure::new(StatusCode::BAD_GATEWAY, "The answer was too large"))?;
        if status.is_success() {
            let text = if bytes.is_empty() {
                &b"null"[..]
            } else {
                &bytes[..]
            };
            return serde_json::from_slice(text).map_err(|_| {
                Failure::new(StatusCode::BAD_GATEWAY, "The answer could not be read")
            });
        }
        let problem = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            Failure::new(status, "Sorry, there is a problem with the service").problem
        });
        Err(Failure { status, problem })
    }
}
