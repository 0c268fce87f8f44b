//! A scriptable HTTP/1.1 server on 127.0.0.1 standing in for a network or a
//! partner's endpoint in end-to-end tests. It records every request and
//! answers each from a script, in order:
//!
//! ```ignore
//! let rx = Receiver::start([
//!     Reply::status(429).header("Retry-After", "2"),
//!     Reply::json(400, json!({"error": "text too long"})),
//!     Reply::hang(),  // never answers: the client times out
//!     Reply::close(), // reads the request, hangs up without a word
//! ])
//! .await;
//! // ... point the code under test at rx.url("/hook") ...
//! let seen = rx.wait_for(2).await; // no sleeps: returns once 2 have arrived
//! assert_eq!(seen[1].header("x-crier-delivery"), Some("crier-..."));
//! ```
//!
//! Once the script runs out every request gets the fallback reply (an empty
//! 200 unless [`Receiver::otherwise`] says different). A request is recorded
//! as soon as its body has been read, before it is answered, so a test can
//! see a request whose answer never comes. Dropping the receiver stops the
//! server and closes every open connection.
//!
//! It is built on hyper rather than axum because hanging up without an
//! answer needs control of the connection, which a router does not give.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How long [`Receiver::wait_for`] waits before failing the test.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// One request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path and query, e.g. `/api/v1/statuses?x=1`.
    pub path: String,
    pub headers: HeaderMap,
    /// The raw body bytes, exactly as received (signatures are over these).
    pub body: Vec<u8>,
}

impl Recorded {
    /// A header's value as text; names are case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("the request body is UTF-8")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

/// What the receiver does with one request.
#[derive(Debug, Clone)]
pub struct Reply {
    action: Action,
    delay: Duration,
}

#[derive(Debug, Clone)]
enum Action {
    Respond {
        status: StatusCode,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
    },
    Hang,
    Close,
}

impl Reply {
    /// This status with an empty body.
    pub fn status(code: u16) -> Reply {
        Reply::respond(code, Bytes::new())
    }

    /// This status with a JSON body (and its content type).
    pub fn json(code: u16, body: serde_json::Value) -> Reply {
        Reply::respond(code, Bytes::from(body.to_string()))
            .header("content-type", "application/json")
    }

    /// This status with a plain-text body.
    pub fn text(code: u16, body: impl Into<String>) -> Reply {
        Reply::respond(code, Bytes::from(body.into()))
            .header("content-type", "text/plain; charset=utf-8")
    }

    /// Never answers; the connection stays open until the client gives up
    /// (provokes a client timeout after the request was received).
    pub fn hang() -> Reply {
        Reply {
            action: Action::Hang,
            delay: Duration::ZERO,
        }
    }

    /// Reads the whole request, then closes the connection without
    /// answering (as when a server or proxy dies mid-request).
    pub fn close() -> Reply {
        Reply {
            action: Action::Close,
            delay: Duration::ZERO,
        }
    }

    /// Adds a response header. Panics on an invalid name or value, or if
    /// this reply sends no response.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        match &mut self.action {
            Action::Respond { headers, .. } => headers.push((
                HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
                HeaderValue::from_str(value).expect("a valid header value"),
            )),
            _ => panic!("Reply::header on a reply that sends no response"),
        }
        self
    }

    /// Waits this long before acting (a slow server).
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    fn respond(code: u16, body: Bytes) -> Reply {
        Reply {
            action: Action::Respond {
                status: StatusCode::from_u16(code).expect("a valid status code"),
                headers: Vec::new(),
                body,
            },
            delay: Duration::ZERO,
        }
    }
}

/// A running server; see the module documentation.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

struct Shared {
    script: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Reply>,
    requests: Mutex<Vec<Recorded>>,
    /// The number of requests recorded, for waiting without polling.
    count: watch::Sender<usize>,
}

impl Shared {
    fn next_reply(&self) -> Reply {
        match lock(&self.script).pop_front() {
            Some(reply) => reply,
            None => lock(&self.fallback).clone(),
        }
    }

    fn record(&self, request: Recorded) {
        let mut requests = lock(&self.requests);
        requests.push(request);
        // Sent under the lock so waiters never see a count ahead of the list.
        self.count.send_replace(requests.len());
    }
}

/// A test that panicked while holding a lock leaves data that is still
/// fine to read; the panic itself already fails that test.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Receiver {
    /// Starts a server on 127.0.0.1 with a free port, answering from `script`.
    pub async fn start(script: impl IntoIterator<Item = Reply>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a bound address");
        let shared = Arc::new(Shared {
            script: Mutex::new(script.into_iter().collect()),
            fallback: Mutex::new(Reply::status(200)),
            requests: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        });
        let server = tokio::spawn(serve(listener, shared.clone()));
        Receiver {
            addr,
            shared,
            server,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Appends a reply to the script.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.script).push_back(reply);
    }

    /// The reply for every request once the script has run out.
    pub fn otherwise(&self, reply: Reply) {
        *lock(&self.shared.fallback) = reply;
    }

    /// Every request recorded so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Waits until at least `n` requests have been recorded and returns
    /// them all. Fails the test if they have not arrived within 10 seconds.
    pub async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let mut count = self.shared.count.subscribe();
        let arrived = tokio::time::timeout(WAIT_LIMIT, count.wait_for(|c| *c >= n)).await;
        if arrived.is_err() {
            panic!(
                "waited {WAIT_LIMIT:?} for {n} request(s); {} arrived",
                self.requests().len()
            );
        }
        self.requests()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Dropping the accept loop drops its JoinSet, which aborts every
        // connection, including ones hanging on purpose.
        self.server.abort();
    }
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish()
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        let shared = shared.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| answer(shared.clone(), request));
            // Errors here are the scenarios under test (hang-ups, clients
            // giving up); nothing to report.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Returned to hyper to make it drop the connection without a response.
#[derive(Debug)]
struct HangUp;

impl fmt::Display for HangUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the script says: hang up")
    }
}

impl std::error::Error for HangUp {}

async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, HangUp> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        // The client went away mid-body: there is no request to record.
        Err(_) => return Err(HangUp),
    };
    shared.record(Recorded {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string()),
        headers: parts.headers,
        body,
    });
    let reply = shared.next_reply();
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    match reply.action {
        Action::Respond {
            status,
            headers,
            body,
        } => {
            let mut response = Response::new(Full::new(body));
            *response.status_mut() = status;
            for (name, value) in headers {
                response.headers_mut().append(name, value);
            }
            Ok(response)
        }
        Action::Hang => match std::future::pending::<Infallible>().await {},
        Action::Close => Err(HangUp),
    }
}
