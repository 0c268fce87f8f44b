//! A pass-through HTTP proxy on 127.0.0.1 in front of the real PDS. It
//! counts calls per XRPC method (so a test can see how many sessions crier
//! created) and can lose one answer on purpose: the request reaches the
//! PDS and is acted on, but crier never hears back — the moment a crash or
//! a dropped connection leaves a delivery's outcome unknown.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

#[derive(Default)]
struct State {
    calls: HashMap<String, usize>,
    /// Lose the answer of the next call to this method.
    lose_next: Option<String>,
    lost: usize,
}

pub struct Proxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    lost: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let lost = Arc::new(Notify::new());
        let ctx = Arc::new((
            upstream.trim_end_matches('/').to_string(),
            state.clone(),
            lost.clone(),
        ));
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let ctx = ctx.clone();
                connections.spawn(async move {
                    let service = service_fn(move |r| forward(ctx.clone(), r));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy {
            url,
            state,
            lost,
            task,
        }
    }

    /// How many calls of `method` (e.g. `com.atproto.server.createSession`) passed.
    pub fn calls(&self, method: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .calls
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    pub fn lose_next_answer_of(&self, method: &str) {
        self.state.lock().unwrap().lose_next = Some(method.to_string());
    }

    /// Returns once an answer has been lost (the PDS acted on the call).
    pub async fn wait_for_lost_answer(&self) {
        let deadline = std::time::Duration::from_secs(30);
        loop {
            let notified = self.lost.notified();
            if self.state.lock().unwrap().lost > 0 {
                return;
            }
            tokio::time::timeout(deadline, notified)
                .await
                .expect("no answer was lost within 30 s");
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Ctx = Arc<(String, Arc<Mutex<State>>, Arc<Notify>)>;

async fn forward(
    ctx: Ctx,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (upstream, state, lost) = (&ctx.0, &ctx.1, &ctx.2);
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let method = parts.uri.path().trim_start_matches("/xrpc/").to_string();
    let lose = {
        let mut s = state.lock().unwrap();
        *s.calls.entry(method.clone()).or_default() += 1;
        let lose = s.lose_next.as_deref() == Some(&method);
        if lose {
            s.lose_next = None;
        }
        lose
    };
    let target = format!(
        "{upstream}{}",
        parts.uri.path_and_query().map_or("", |p| p.as_str())
    );
    let mut out = crier::channels::http::client()
        .request(parts.method.clone(), target)
        .body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            out = out.header(name, value);
        }
    }
    let answer = out.send().await.expect("the PDS answers");
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    if lose {
        // The PDS has acted on it; crier must never learn the outcome.
        state.lock().unwrap().lost += 1;
        lost.notify_waiters();
        std::future::pending::<()>().await;
    }
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            response.headers_mut().append(name, value.clone());
        }
    }
    Ok(response)
}
