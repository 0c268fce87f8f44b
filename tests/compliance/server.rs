//! Plumbing every contract server shares: an HTTP/1.1 server on 127.0.0.1
//! that hands each request to the network's own handler, and a [`Ledger`]
//! of the faults queued for it and the posts it accepted.
//!
//! Built on hyper, like `tests/support/receiver.rs`, because "the request
//! arrived and the answer never came" needs control of the connection.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::harness::Fault;

/// One request as the contract server got it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path alone, without the query.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value as text; names are case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// One query parameter, percent-decoding left out: contract URLs use
    /// plain values.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .as_deref()?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The body as JSON, when it is JSON and says so in its content type.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        let media = self.header("content-type").unwrap_or_default();
        if !media.starts_with("application/json") {
            return Err(format!("content type `{media}`, not application/json"));
        }
        serde_json::from_slice(&self.body).map_err(|e| format!("body is not JSON: {e}"))
    }
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone)]
pub struct FormPart {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Request {
    /// The parts of a `multipart/form-data` body, in order (RFC 7578);
    /// `Err` says what a strict server would refuse.
    pub fn multipart(&self) -> Result<Vec<FormPart>, String> {
        let ct = self.header("content-type").unwrap_or_default();
        if !ct.starts_with("multipart/form-data") {
            return Err(format!("content type `{ct}`, not multipart/form-data"));
        }
        let boundary = ct
            .split("boundary=")
            .nth(1)
            .ok_or("no boundary")?
            .trim_matches('"');
        let delimiter = format!("--{boundary}");
        let body = &self.body;
        let mut starts: Vec<usize> = Vec::new();
        let mut i = 0;
        while let Some(at) = find(&body[i..], delimiter.as_bytes()) {
            starts.push(i + at);
            i += at + delimiter.len();
        }
        let last = *starts.last().ok_or("no parts")?;
        if !body[last + delimiter.len()..].starts_with(b"--") {
            return Err("the body does not end with the closing delimiter".into());
        }
        starts
            .windows(2)
            .map(|pair| {
                let part = &body[pair[0] + delimiter.len()..pair[1]];
                let part = part
                    .strip_prefix(b"\r\n")
                    .and_then(|p| p.strip_suffix(b"\r\n"))
                    .ok_or("a part is not framed by CRLF")?;
                let split = find(part, b"\r\n\r\n").ok_or("a part has no header end")?;
                let head = String::from_utf8_lossy(&part[..split]).into_owned();
                let header = |name: &str| {
                    head.split("\r\n").find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case(name)
                            .then(|| v.trim().to_string())
                    })
                };
                let disposition = header("content-disposition").ok_or("no Content-Disposition")?;
                let param = |key: &str| {
                    disposition
                        .split(';')
                        .map(str::trim)
                        .find_map(|p| p.strip_prefix(&format!("{key}=\"")))
                        .and_then(|v| v.strip_suffix('"'))
                        .map(str::to_string)
                };
                Ok(FormPart {
                    name: param("name").ok_or("a part has no name")?,
                    filename: param("filename"),
                    content_type: header("content-type"),
                    body: part[split + 4..].to_vec(),
                })
            })
            .collect()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What the server does with one request.
pub enum Answer {
    Respond(Response<Full<Bytes>>),
    /// Never answers; the client gives up (its timeout).
    Hang,
}

impl Answer {
    pub fn empty(status: u16) -> Answer {
        Answer::body(status, Bytes::new(), None)
    }

    pub fn text(status: u16, text: impl Into<String>) -> Answer {
        Answer::body(
            status,
            Bytes::from(text.into()),
            Some("text/plain; charset=utf-8"),
        )
    }

    pub fn json(status: u16, value: serde_json::Value) -> Answer {
        Answer::body(
            status,
            Bytes::from(value.to_string()),
            Some("application/json"),
        )
    }

    /// Adds a response header. Panics on an invalid one, or on [`Answer::Hang`].
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        let Answer::Respond(response) = &mut self else {
            panic!("Answer::header on an answer that sends nothing");
        };
        response.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
            HeaderValue::from_str(value).expect("a valid header value"),
        );
        self
    }

    fn body(status: u16, body: Bytes, media: Option<&str>) -> Answer {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = StatusCode::from_u16(status).expect("a valid status");
        let answer = Answer::Respond(response);
        match media {
            Some(m) => answer.header("content-type", m),
            None => answer,
        }
    }
}

/// A network's request handler: sees every request, decides the answer.
pub type Handler = Arc<dyn Fn(Request) -> Answer + Send + Sync>;

/// A running contract server; dropping it closes every connection.
pub struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    pub async fn start(handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a bound address");
        let task = tokio::spawn(serve(listener, handler));
        Server { addr, task }
    }

    /// `http://127.0.0.1:<port><path>`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every
        // connection, including ones hanging on purpose.
        self.task.abort();
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

async fn serve(listener: TcpListener, handler: Handler) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        let handler = handler.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| answer(handler.clone(), request));
            // Errors are the scenarios under test (clients giving up).
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    handler: Handler,
    request: hyper::Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        // The client went away mid-body; nobody reads this answer.
        Err(_) => return Ok(Response::new(Full::new(Bytes::new()))),
    };
    let request = Request {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    };
    match handler(request) {
        Answer::Respond(response) => Ok(response),
        Answer::Hang => match std::future::pending::<Infallible>().await {},
    }
}

/// What a contract server remembers: faults queued by the test, and the
/// posts it accepted (in the order accepted).
#[derive(Default)]
pub struct Ledger {
    /// `None`: let one post-creating request through (see [`Ledger::let_through`]).
    faults: Mutex<VecDeque<Option<Fault>>>,
    posts: Mutex<Vec<serde_json::Value>>,
}

/// A panicking test leaves data still fine to read; the panic fails it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ledger {
    pub fn inject(&self, fault: Fault) {
        lock(&self.faults).push_back(Some(fault));
    }

    /// Lets the next post-creating request through before any fault queued
    /// after this call (e.g. part 1 of a thread posts, part 2 fails).
    pub fn let_through(&self) {
        lock(&self.faults).push_back(None);
    }

    /// The fault for this post-creating request, if one is queued. Call it
    /// only once the request has passed the contract's checks, so a fault
    /// is never spent on a request the network would refuse anyway.
    pub fn next_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front().flatten()
    }

    /// Records an accepted post; returns its position (0-based), which
    /// servers use to make ids.
    pub fn accept(&self, post: serde_json::Value) -> usize {
        let mut posts = lock(&self.posts);
        posts.push(post);
        posts.len() - 1
    }

    pub fn posts(&self) -> Vec<serde_json::Value> {
        lock(&self.posts).clone()
    }

    /// Whether some accepted post satisfies `f` (for idempotency checks).
    pub fn find(&self, f: impl Fn(&serde_json::Value) -> bool) -> Option<usize> {
        lock(&self.posts).iter().position(f)
    }
}
