//! Headless Chromium driven over the W3C WebDriver protocol (chromedriver
//! on a free loopback port): just the commands the page tests need, spoken
//! as JSON with reqwest, so no browser crate (and its TLS stack) is built.
//! JavaScript is switched off: the pages must work without it. An audited
//! browser has it on, only so that axe-core can run in the page.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::smtp::free_port;

/// WebDriver's key for an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    http: reqwest::Client,
    /// axe-core's source: when set, every page a `wait_*` reaches is audited.
    axe: Option<String>,
}

/// The binaries, from Debian's `chromium` and `chromium-driver` packages
/// (`scripts/test.sh` installs them when it can), or `CRIER_CHROMIUM` /
/// `CRIER_CHROMEDRIVER`.
fn binary(var: &str, default: &str) -> Option<String> {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_string());
    std::path::Path::new(&path).exists().then_some(path)
}

impl Browser {
    /// Starts chromedriver and one headless Chromium session; `None` (with
    /// a message) when this machine has no Chromium.
    pub async fn start() -> Option<Browser> {
        Browser::launch(None).await
    }

    /// A browser that audits every page it waits for with axe-core (WCAG
    /// 2.0–2.2 A and AA, and best practice) and fails the test on any
    /// violation. JavaScript is on (axe runs in the page); `None` when this
    /// machine has no Chromium or no axe-core (`scripts/test.sh` installs it
    /// into `.peers/axe`; `CRIER_AXE` names another `axe.min.js`).
    pub async fn start_audited() -> Option<Browser> {
        let path = std::env::var("CRIER_AXE").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/.peers/axe/node_modules/axe-core/axe.min.js"
            )
            .to_string()
        });
        let Ok(source) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: no axe-core at {path} (scripts/test.sh installs it)");
            return None;
        };
        Browser::launch(Some(source)).await
    }

    async fn launch(axe: Option<String>) -> Option<Browser> {
        let (Some(chromium), Some(driver)) = (
            binary("CRIER_CHROMIUM", "/usr/bin/chromium"),
            binary("CRIER_CHROMEDRIVER", "/usr/bin/chromedriver"),
        ) else {
            eprintln!(
                "skipped: no Chromium here (install Debian's chromium and chromium-driver, \
                 as scripts/test.sh does when run as root)"
            );
            return None;
        };
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Browser {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            // crier's client: it installs the TLS crypto provider reqwest needs.
            http: crier::channels::http::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            axe,
        };
        browser.wait_ready().await;
        let scripts = browser.axe.is_some();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", format!("--blink-settings=scriptEnabled={scripts}")],
            },
        }}});
        let created = browser.call("POST", "/session", Some(caps)).await;
        let id = created["sessionId"].as_str().expect("a session id");
        browser.base = format!("{}/session/{id}", browser.base);
        Some(browser)
    }

    /// Polls chromedriver's status until it is ready (or fails the test).
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self
                .http
                .get(format!("{}/status", self.base))
                .send()
                .await
                .ok();
            if let Some(r) = ok {
                let v: Value = r.json().await.unwrap_or_default();
                if v["value"]["ready"] == true {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver never got ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One WebDriver command; its `value`. A WebDriver error fails the test.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body).await {
            Ok(v) => v,
            Err(v) => panic!("WebDriver {method} {path}: {v}"),
        }
    }

    /// One WebDriver command; `Err` with the error's JSON when WebDriver
    /// refuses it (e.g. an element gone stale as a page was replaced).
    async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url).json(&body.unwrap_or(json!({}))),
        };
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let v: Value = response.json().await.expect("WebDriver JSON");
        if status.is_success() {
            Ok(v["value"].clone())
        } else {
            Err(v)
        }
    }

    pub async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn url(&self) -> String {
        self.call("GET", "/url", None)
            .await
            .as_str()
            .unwrap()
            .into()
    }

    pub async fn title(&self) -> String {
        self.call("GET", "/title", None)
            .await
            .as_str()
            .unwrap()
            .into()
    }

    /// Waits for the page titled `part` (a click's navigation may still be
    /// under way when the click command returns); fails showing the page.
    pub async fn wait_title(&self, part: &str) {
        self.wait_for(part, |b| Box::pin(b.title())).await
    }

    /// Waits for `part` to appear in the page's text.
    pub async fn wait_text(&self, part: &str) {
        self.wait_for(part, |b| Box::pin(b.text())).await
    }

    /// Waits for `part` in the text of a page on another site (the OpenID
    /// provider's sign-in): not crier's page, so never audited.
    pub async fn wait_text_elsewhere(&self, part: &str) {
        self.wait_until(part, |b| Box::pin(b.text())).await
    }

    async fn wait_for<F>(&self, part: &str, read: F)
    where
        F: for<'b> Fn(
            &'b Browser,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send + 'b>>,
    {
        self.wait_until(part, read).await;
        self.audit().await
    }

    async fn wait_until<F>(&self, part: &str, read: F)
    where
        F: for<'b> Fn(
            &'b Browser,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send + 'b>>,
    {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let seen = read(self).await;
            if seen.contains(part) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited for {part:?}; the page shows {seen:?}: {}",
                    self.text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs axe-core on the page (audited browsers only) and fails the test
    /// listing each violation, its rule and the elements it found.
    async fn audit(&self) {
        let Some(source) = &self.axe else { return };
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": source, "args": [] })),
        )
        .await;
        let run = "const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa',
                'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } })
              .then(r => done(r.violations.map(v => ({ rule: v.id, impact: v.impact,
                help: v.help, nodes: v.nodes.map(n => n.target.join(' ')) }))));";
        let violations = self
            .call(
                "POST",
                "/execute/async",
                Some(json!({ "script": run, "args": [] })),
            )
            .await;
        assert_eq!(
            violations,
            json!([]),
            "axe-core found violations on {} ({})",
            self.url().await,
            self.title().await
        );
    }

    /// Every element matching a CSS selector.
    pub async fn all(&self, css: &str) -> Vec<Element<'_>> {
        let found = self
            .call(
                "POST",
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| Element {
                browser: self,
                id: e[ELEMENT].as_str().unwrap().into(),
            })
            .collect()
    }

    /// The one element matching a CSS selector.
    pub async fn one(&self, css: &str) -> Element<'_> {
        let mut found = self.all(css).await;
        assert_eq!(found.len(), 1, "expected one `{css}`");
        found.remove(0)
    }

    /// Saves a PNG of the page at `width` × the page's full height (so a
    /// picture shows the whole page, as the README wants it).
    pub async fn screenshot(&self, path: &std::path::Path, width: u32) {
        let height = self
            .call(
                "POST",
                "/execute/sync",
                Some(json!({
                "script": "return Math.max(document.body.scrollHeight, 600);", "args": [] })),
            )
            .await
            .as_u64()
            .unwrap_or(900)
            .min(4000);
        self.call(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height + 140 })),
        )
        .await;
        let png = self.call("GET", "/screenshot", None).await;
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("a PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Presses keys as a keyboard does (WebDriver key codes: "\u{E004}" is
    /// Tab, "\u{E007}" Enter), into whatever has focus.
    pub async fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for k in keys.chars() {
            actions.push(json!({ "type": "keyDown", "value": k.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": k.to_string() }));
        }
        let body = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] });
        self.call("POST", "/actions", Some(body)).await;
    }

    /// The element that has focus now.
    pub async fn focused(&self) -> Element<'_> {
        let v = self.call("GET", "/element/active", None).await;
        Element {
            browser: self,
            id: v[ELEMENT].as_str().expect("a focused element").into(),
        }
    }

    /// The value of this site's cookie `name`, if the browser holds one
    /// (to make a request as the person signed in here).
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let v = self.try_call("GET", &format!("/cookie/{name}"), None).await;
        v.ok()?["value"].as_str().map(str::to_string)
    }

    /// Ends the session (Chromium exits) and stops the driver.
    pub async fn quit(self) {
        self.call("DELETE", "", None).await;
    }

    /// The page's visible text. Mid-navigation there may be no body yet,
    /// or the one found may be replaced before it is read: both read as
    /// no text yet, so a wait goes on polling.
    pub async fn text(&self) -> String {
        let find = json!({ "using": "css selector", "value": "body" });
        let Ok(found) = self.try_call("POST", "/elements", Some(find)).await else {
            return String::new();
        };
        let Some(id) = found.get(0).and_then(|e| e[ELEMENT].as_str()) else {
            return String::new();
        };
        let text = self
            .try_call("GET", &format!("/element/{id}/text"), None)
            .await;
        text.ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The backstop when a test fails before `quit`.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// Every element matching a CSS selector inside this one.
    pub async fn all(&self, css: &str) -> Vec<Element<'_>> {
        let found = self
            .browser
            .call(
                "POST",
                &self.path("/elements"),
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| Element {
                browser: self.browser,
                id: e[ELEMENT].as_str().unwrap().into(),
            })
            .collect()
    }

    /// Empties a text input or text area.
    pub async fn clear(&self) {
        self.browser
            .call("POST", &self.path("/clear"), Some(json!({})))
            .await;
    }

    /// A DOM property (`textContent`: the text exactly as the page holds
    /// it, where the rendered text trims and folds white space).
    pub async fn property(&self, name: &str) -> Option<String> {
        let v = self
            .browser
            .call("GET", &self.path(&format!("/property/{name}")), None)
            .await;
        v.as_str().map(str::to_string)
    }

    pub async fn click(&self) {
        self.browser
            .call("POST", &self.path("/click"), Some(json!({})))
            .await;
    }

    pub async fn type_text(&self, text: &str) {
        self.browser
            .call("POST", &self.path("/value"), Some(json!({ "text": text })))
            .await;
    }

    pub async fn text(&self) -> String {
        let v = self.browser.call("GET", &self.path("/text"), None).await;
        v.as_str().unwrap_or_default().into()
    }

    pub async fn attribute(&self, name: &str) -> Option<String> {
        let v = self
            .browser
            .call("GET", &self.path(&format!("/attribute/{name}")), None)
            .await;
        v.as_str().map(str::to_string)
    }

    pub async fn selected(&self) -> bool {
        let v = self
            .browser
            .call("GET", &self.path("/selected"), None)
            .await;
        v == true
    }

    /// The accessible name a screen reader announces (WebDriver's computed
    /// label, from Chromium's accessibility tree).
    pub async fn label(&self) -> String {
        let v = self
            .browser
            .call("GET", &self.path("/computedlabel"), None)
            .await;
        v.as_str().unwrap_or_default().into()
    }
}
