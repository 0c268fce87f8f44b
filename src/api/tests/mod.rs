//! The API's router in process, without a socket (as axum's examples test
//! theirs): a workspace in a temporary folder, a real SQLite store, and an
//! authenticator that takes the caller from test headers.

mod calendar;
mod history;
mod items;
mod matrix;
mod queue;
mod review_links;
pub mod subscribers;
mod tools;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::http::{request::Parts, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

use super::{router, ApiState};
use crate::access::{Authenticate, Principal, Refusal, Role, TokenKind};
use crate::delivery::Actor;
use crate::store::Store;

/// `x-test-role: approver` (and `x-test-token: test|live`) make the caller.
pub struct HeaderAuth;

#[async_trait::async_trait]
impl Authenticate for HeaderAuth {
    async fn principal(&self, request: &Parts) -> Result<Principal, Refusal> {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        // Or a `test-role` cookie: what the console passes on to the API.
        let cookie = || crate::auth::cookie(&request.headers, "test-role").map(str::to_string);
        let role = header("x-test-role")
            .or_else(cookie)
            .and_then(|r| Role::parse(&r))
            .ok_or(Refusal::Unauthenticated)?;
        let token = header("x-test-token").and_then(|k| TokenKind::parse(&k));
        let actor = match token {
            Some(_) => Actor::Token(format!("{role}-token")),
            None => Actor::Person(format!("{role}@example.org")),
        };
        Ok(Principal { actor, role, token })
    }
}

pub const CONFIG: &str = r#"
[organisation]
name = "Test Partnership"
website = "https://example.org"
timezone = "Europe/London"

[daemon]
data_dir = "data"

[channels.log]
kind = "discard"

[channels.signed-off]
kind = "discard"
require_approval = true
"#;

pub const ITEMS: &str = r#"# Courses for practitioners.
[[item]]
id = "course-a"
kind = "notice"
title = "Course A"   # the short name
at = "2030-01-10 10:00"
channels = ["log", "signed-off"]
body = """
A first course.
"""

# The second one.
[[item]]
id = "course-b"
kind = "notice"
title = "Course B"
at = "2030-01-11 10:00"
channels = ["log"]
body = "A second course."
"#;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub state: ApiState,
    pub app: Router,
}

impl Fixture {
    pub async fn new() -> Fixture {
        Fixture::with_channels("").await
    }

    /// With more `[channels.*]` tables after [`CONFIG`]'s.
    pub async fn with_channels(extra: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("channels.toml", &format!("{CONFIG}\n{extra}"));
        write("campaigns/courses.toml", ITEMS);
        write(
            "templates/social/default.txt.hbs",
            "{{item.title}}\n\n{{item.body_text}}\n",
        );
        write("templates/document/default.txt.hbs", "{{item.title}}\n");
        let config_path = dir.path().join("channels.toml");
        // As the daemon starts: checked, synced, adopted with its variants.
        let checked = crate::workspace::Checked::load(&config_path, &Default::default()).unwrap();
        let opened = crate::store::open(&checked.workspace.config).await.unwrap();
        let store: Arc<dyn Store> = opened.queue;
        let services = crate::channels::Services::new(
            &checked.workspace.config,
            opened.channels,
            crate::channels::stopping::Stopping::never(),
        );
        crate::plan::sync(&checked, store.as_ref(), chrono::Utc::now())
            .await
            .unwrap();
        let state = ApiState {
            store,
            workspace: Arc::new(RwLock::new(Arc::new(checked.into_workspace()))),
            config_path,
            wake: Default::default(),
            auth: Arc::new(HeaderAuth),
            services,
            saving: Default::default(),
        };
        let app = router(state.clone());
        Fixture { dir, state, app }
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Reloads the workspace from disk and syncs the plan, as the
    /// daemon's watcher does after a save.
    pub async fn reload(&self) {
        let previous = self.state.workspace().reuse();
        let path = &self.state.config_path;
        let checked = crate::workspace::Checked::load(path, &previous).unwrap();
        let store = self.state.store.as_ref();
        crate::plan::sync(&checked, store, chrono::Utc::now())
            .await
            .unwrap();
        *self.state.workspace.write().unwrap() = Arc::new(checked.into_workspace());
    }

    pub async fn call(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, parts.headers, json)
    }

    /// A request as `role` (a person), with a JSON body when given.
    pub async fn as_role(
        &self,
        role: &str,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let mut r = Request::builder()
            .method(method)
            .uri(uri)
            .header("x-test-role", role);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let body = match body {
            Some(b) => {
                r = r.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.call(r.body(body).unwrap()).await
    }
}
