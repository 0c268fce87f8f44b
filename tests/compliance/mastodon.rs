//! Mastodon's published REST contract, as a local server: Bearer tokens,
//! `POST /api/v1/statuses` (JSON or form) with the instance's character
//! limit counted Mastodon's way (every URL is 23), `Idempotency-Key`
//! remembered (a repeat returns the same status and creates nothing),
//! `POST /api/v2/media` answering 202 with `url: null` until processed,
//! `GET /api/v1/media/:id` (206 while processing), 422 `{"error": ..}`,
//! 401, and 429 with `X-RateLimit-Reset` (an ISO 8601 instant).
//!
//! Below the `Network` impl: Mastodon-specific tests (threads, images,
//! one key across attempts, instance limits).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crier::delivery::Receipt;
use serde_json::{json, Value};

use super::harness::{env_name, Fault, Network};
use super::server::{Answer, Ledger, Request, Server};

pub const TOKEN: &str = "mastodon-token-compliance-never-printed";
const LIMIT: usize = 500;
const URL_LENGTH: usize = 23;
/// GET /api/v1/media/:id answers 206 this many times before it is ready.
const PROCESSING_POLLS: usize = 2;

/// What the instance holds besides the ledger's statuses.
#[derive(Default)]
pub struct Instance {
    /// Idempotency-Key → status id (Mastodon keeps them an hour).
    keys: HashMap<String, String>,
    /// media id → (description, polls left before processed).
    pub media: HashMap<String, (String, usize)>,
    statuses: Vec<String>,
    next_id: u64,
    /// Every request's (method, path, Idempotency-Key), in order.
    pub log: Vec<(String, String, Option<String>)>,
    /// The instance's own `max_characters` (500 when `None`), advertised
    /// by `/api/v2/instance` and enforced on statuses.
    pub max_characters: Option<usize>,
}

impl Instance {
    fn limit(&self) -> usize {
        self.max_characters.unwrap_or(LIMIT)
    }
}

pub struct Mastodon {
    pub server: Server,
    pub ledger: Arc<Ledger>,
    pub instance: Arc<Mutex<Instance>>,
    token_env: String,
}

fn url_of(id: &str) -> String {
    format!("https://mastodon.test/@mars/{id}")
}

fn status_json(id: &str, fields: &Value) -> Value {
    json!({"id": id, "url": url_of(id), "uri": url_of(id), "content": fields["status"],
           "in_reply_to_id": fields["in_reply_to_id"], "visibility": fields["visibility"],
           "language": fields["language"], "media_ids": fields["media_ids"]})
}

/// Mastodon's count: characters, with every http(s) URL counting 23.
fn length(text: &str) -> usize {
    text.split_inclusive(char::is_whitespace)
        .map(|w| {
            let word = w.trim_end();
            let url = word.starts_with("https://") || word.starts_with("http://");
            (if url {
                URL_LENGTH
            } else {
                word.chars().count()
            }) + (w.len() - word.len())
        })
        .sum()
}

/// The request's fields from JSON or an urlencoded form (`media_ids[]`).
fn fields(req: &Request) -> Result<Value, String> {
    if let Ok(v) = req.json() {
        return Ok(v);
    }
    let media = req.header("content-type").unwrap_or_default();
    if !media.starts_with("application/x-www-form-urlencoded") {
        return Err(format!("unsupported content type `{media}`"));
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut out = json!({});
    let mut media = Vec::new();
    for pair in String::from_utf8_lossy(&req.body).split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(k).as_str() {
            "media_ids[]" => media.push(json!(decode(v))),
            k => out[k] = json!(decode(v)),
        }
    }
    if !media.is_empty() {
        out["media_ids"] = json!(media);
    }
    Ok(out)
}

fn unprocessable(message: &str) -> Answer {
    Answer::json(422, json!({ "error": message }))
}

fn handle(ledger: &Ledger, instance: &Mutex<Instance>, req: Request) -> Answer {
    let mut inst = instance.lock().unwrap();
    let key = req.header("idempotency-key").map(str::to_string);
    inst.log
        .push((req.method.clone(), req.path.clone(), key.clone()));
    if (req.method.as_str(), req.path.as_str()) == ("GET", "/api/v2/instance") {
        return Answer::json(
            200,
            json!({"domain": "mastodon.test", "configuration": {"statuses": {
            "max_characters": inst.limit(), "characters_reserved_per_url": URL_LENGTH,
            "max_media_attachments": 4},
            "media_attachments": {"image_size_limit": 16_777_216}}}),
        );
    }
    if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return Answer::json(401, json!({"error": "The access token is invalid"}));
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/api/v1/accounts/verify_credentials") => {
            Answer::json(200, json!({"id": "1", "username": "mars", "acct": "mars"}))
        }
        ("POST", "/api/v2/media") => upload(&mut inst, &req),
        ("GET", p) if p.starts_with("/api/v1/media/") => {
            let id = &p["/api/v1/media/".len()..];
            let Some((alt, polls)) = inst.media.get_mut(id) else {
                return Answer::json(404, json!({"error": "Record not found"}));
            };
            let ready = *polls == 0;
            *polls = polls.saturating_sub(1);
            let body = json!({"id": id, "type": "image", "description": alt.clone(),
                "url": if ready { json!(format!("https://mastodon.test/media/{id}.png")) } else { Value::Null }});
            Answer::json(if ready { 200 } else { 206 }, body)
        }
        ("POST", "/api/v1/statuses") => post_status(ledger, &mut inst, &req, key),
        _ => Answer::json(404, json!({"error": "Record not found"})),
    }
}

fn upload(inst: &mut Instance, req: &Request) -> Answer {
    let Some(form) = multipart(req) else {
        return unprocessable("Validation failed: File can't be blank");
    };
    let Some((Some(_), file)) = form.get("file") else {
        return unprocessable("Validation failed: File can't be blank");
    };
    if !file.starts_with(b"\x89PNG") {
        return unprocessable(
            "Validation failed: File has contents that are not what they are reported to be",
        );
    }
    let alt = form
        .get("description")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    inst.next_id += 1;
    let id = format!("m{}", inst.next_id);
    inst.media
        .insert(id.clone(), (alt.clone(), PROCESSING_POLLS));
    // Large files are processed asynchronously: 202, url null.
    Answer::json(
        202,
        json!({"id": id, "type": "image", "url": null, "description": alt}),
    )
}

/// name → (filename, bytes) of a multipart/form-data body.
type Fields = HashMap<String, (Option<String>, Vec<u8>)>;

fn multipart(req: &Request) -> Option<Fields> {
    let parts = req.multipart().ok()?;
    Some(
        parts
            .into_iter()
            .map(|p| (p.name, (p.filename, p.body)))
            .collect(),
    )
}

fn post_status(ledger: &Ledger, inst: &mut Instance, req: &Request, key: Option<String>) -> Answer {
    // A repeat of a remembered key returns the first status, creates nothing.
    if let Some(id) = key.as_ref().and_then(|k| inst.keys.get(k)) {
        let i = ledger
            .find(|p| p["id"] == json!(id))
            .expect("remembered status exists");
        return Answer::json(200, ledger.posts()[i].clone());
    }
    let f = match fields(req) {
        Ok(f) => f,
        Err(e) => return unprocessable(&e),
    };
    let text = f["status"].as_str().unwrap_or_default();
    let media: Vec<String> = f["media_ids"].as_array().map_or(vec![], |a| {
        a.iter()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect()
    });
    if text.is_empty() && media.is_empty() {
        return unprocessable("Validation failed: Text can't be blank");
    }
    if length(text) > inst.limit() {
        return unprocessable(&format!(
            "Validation failed: Text character limit of {} exceeded",
            inst.limit()
        ));
    }
    if !matches!(
        f["visibility"].as_str(),
        None | Some("public" | "unlisted" | "private" | "direct")
    ) {
        return unprocessable("Validation failed: Visibility is not included in the list");
    }
    if f["language"].as_str().is_some_and(|l| l.len() != 2) {
        return unprocessable("Validation failed: Language is not a valid ISO 639 code");
    }
    for m in &media {
        match inst.media.get(m) {
            Some((_, 0)) => {}
            Some(_) => {
                return unprocessable(
                    "Cannot attach files that have not finished processing. Try again in a moment!",
                )
            }
            None => return unprocessable("Validation failed: Media attachments are invalid"),
        }
    }
    if let Some(parent) = f["in_reply_to_id"].as_str() {
        if !inst.statuses.iter().any(|s| s == parent) {
            return Answer::json(404, json!({"error": "Record not found"}));
        }
    }
    let fault = ledger.next_fault();
    match fault {
        Some(Fault::RateLimited { retry_after_secs }) => {
            // Date and reset from one clock reading, so the wait is exact.
            let now = chrono::Utc::now();
            let reset = now + chrono::TimeDelta::seconds(retry_after_secs as i64);
            return Answer::json(429, json!({"error": "Too many requests"}))
                .header("date", &now.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
                .header("x-ratelimit-limit", "300")
                .header("x-ratelimit-remaining", "0")
                .header(
                    "x-ratelimit-reset",
                    &reset.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                );
        }
        Some(Fault::ServerError) => return Answer::text(503, "Service Unavailable"),
        Some(Fault::Invalid { message }) => return unprocessable(&message),
        Some(Fault::ExpiredCredentials) => {
            return Answer::json(401, json!({"error": "The access token was revoked"}))
        }
        Some(Fault::HangAfterReceive) | None => {}
    }
    inst.next_id += 1;
    let id = format!("{}", 100_000 + inst.next_id);
    let status = status_json(&id, &f);
    inst.statuses.push(id.clone());
    if let Some(k) = key {
        inst.keys.insert(k, id.clone());
    }
    ledger.accept(status.clone());
    match fault {
        Some(Fault::HangAfterReceive) => Answer::Hang,
        _ => Answer::json(200, status),
    }
}

#[async_trait]
impl Network for Mastodon {
    fn name(&self) -> &'static str {
        "mastodon"
    }

    async fn start() -> Self {
        let ledger = Arc::new(Ledger::default());
        let instance = Arc::new(Mutex::new(Instance::default()));
        let (l, i) = (ledger.clone(), instance.clone());
        let server = Server::start(Arc::new(move |req| handle(&l, &i, req))).await;
        Mastodon {
            server,
            ledger,
            instance,
            token_env: env_name("mastodon", "token"),
        }
    }

    fn channel_toml(&self) -> String {
        format!(
            "[channels.mastodon]\nkind = \"mastodon\"\ninstance = \"{}\"\ntoken_env = \"{}\"\n",
            self.server.url(""),
            self.token_env
        )
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![(self.token_env.clone(), TOKEN.to_string())]
    }

    fn inject(&self, fault: Fault) {
        self.ledger.inject(fault);
    }

    fn posts(&self) -> Vec<Value> {
        self.ledger.posts()
    }

    fn idempotent(&self) -> bool {
        true
    }

    const TAKES_IMAGES: bool = true;

    /// Uploaded with its description, processed, and attached by id.
    fn verify_image(&self, alt: &str) {
        let post = self.ledger.posts().pop().expect("a post");
        let id = post["media_ids"][0].as_str().expect("a media id");
        let inst = self.instance.lock().unwrap();
        assert_eq!(inst.media[id].0, alt, "the alt text is the description");
    }

    fn verify_receipt(&self, receipt: &Receipt) {
        let first = &self.ledger.posts()[0];
        let id = first["id"].as_str().unwrap().to_string();
        assert_eq!(
            receipt,
            &Receipt {
                remote_url: Some(url_of(&id)),
                remote_id: Some(id)
            }
        );
    }
}

// ---- Mastodon-specific behaviour beyond the shared scenarios. ----

#[cfg(test)]
mod own {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::{TimeZone, Utc};
    use crier::channels::{http, Job, PublishError, Services};
    use crier::delivery::Delivery;
    use crier::diagnostics::Report;
    use crier::store::sqlite::SqliteStore;
    use crier::store::Store;
    use crier::variant::Variant;
    use crier::workspace::Workspace;
    use serde_json::json;

    use super::super::harness::{Fault, Network};
    use super::{Mastodon, PROCESSING_POLLS};

    const ALT: &str = "A blue metal knife amnesty bin fixed to a wall.";

    struct Setup {
        net: Mastodon,
        _dir: tempfile::TempDir,
        ws: Workspace,
        services: Services,
        delivery: Delivery,
        variant: Variant,
    }

    /// A workspace with one long item (a thread) carrying one image.
    async fn setup(channel_extra: &str) -> Setup {
        let net = Mastodon::start().await;
        for (k, v) in net.env() {
            std::env::set_var(k, v);
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let config = format!(
            "[organisation]\nname = \"P\"\nwebsite = \"https://example.org\"\nlanguage = \"en-GB\"\n\n\
             [daemon]\ndata_dir = \"data\"\npublic_url = \"http://127.0.0.1:8080\"\n\n{}{channel_extra}\n",
            net.channel_toml()
        );
        std::fs::write(root.join("channels.toml"), config).unwrap();
        std::fs::create_dir_all(root.join("templates/social")).unwrap();
        std::fs::write(
            root.join("templates/social/default.txt.hbs"),
            "{{item.body_text}}\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("campaigns/images")).unwrap();
        let png = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/campaigns/images/amnesty-bin.png"
        );
        std::fs::copy(png, root.join("campaigns/images/bin.png")).unwrap();
        let body = "Knife amnesty bins let anyone hand in a knife safely and without questions. "
            .repeat(9);
        std::fs::write(
            root.join("campaigns/items.toml"),
            format!(
                "[[item]]\nid = \"bins\"\nkind = \"notice\"\ntitle = \"Bins\"\nat = \"2026-12-03T10:00:00Z\"\n\
                 channels = [\"mastodon\"]\nbody = \"{body}\"\n[[item.images]]\nsrc = \"images/bin.png\"\nalt = \"{ALT}\"\n"
            ),
        )
        .unwrap();
        let mut report = Report::default();
        let ws = Workspace::load(&root.join("channels.toml"), &mut report).unwrap();
        let planned = crier::plan::plan(&ws, &mut report);
        assert_eq!(report.error_count(), 0, "{report:?}");
        let due = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
        store.sync_plan(&planned, due).await.unwrap();
        let delivery = store
            .lease_due(due, 1, Duration::from_secs(600))
            .await
            .unwrap()
            .remove(0);
        store.mark_request_started(delivery.id, due).await.unwrap();
        let variant: Variant = delivery.variant.clone();
        let services = Services {
            http: http::client(),
            publish_dir: root.join("public"),
            public_url: "http://127.0.0.1:8080".into(),
            store,
            clock: Arc::new(crier_schedule::ManualClock::new(due)),
            credentials: crier::credentials::Credentials::new(&root.join("data")),
            campaigns_dir: ws.config.campaigns_dir(),
            stopping: crier::channels::stopping::Stopping::never(),
        };
        Setup {
            net,
            _dir: dir,
            ws,
            services,
            delivery,
            variant,
        }
    }

    impl Setup {
        async fn publish(&self) -> crier::delivery::Receipt {
            let job = Job {
                delivery: &self.delivery,
                variant: &self.variant,
            };
            let publisher = self.ws.channel("mastodon").unwrap().publisher();
            publisher
                .publish(&job, &self.services)
                .await
                .expect("published")
        }

        fn status_keys(&self) -> Vec<String> {
            let inst = self.net.instance.lock().unwrap();
            inst.log
                .iter()
                .filter(|(m, p, _)| m == "POST" && p == "/api/v1/statuses")
                .map(|(_, _, k)| {
                    k.clone()
                        .expect("every status request has an Idempotency-Key")
                })
                .collect()
        }
    }

    #[tokio::test]
    async fn a_thread_is_a_reply_chain_with_the_image_and_alt_on_the_first_post() {
        let s = setup("").await;
        assert!(s.variant.parts.len() > 1, "the item is a thread");
        let receipt = s.publish().await;
        let posts = s.net.posts();
        assert_eq!(posts.len(), s.variant.parts.len());
        assert_eq!(receipt.remote_id.as_deref(), posts[0]["id"].as_str());
        assert_eq!(posts[0]["in_reply_to_id"], json!(null));
        for i in 1..posts.len() {
            assert_eq!(
                posts[i]["in_reply_to_id"],
                posts[i - 1]["id"],
                "post {i} replies to the one before"
            );
            assert_eq!(
                posts[i]["media_ids"],
                json!(null),
                "the image goes with the first post only"
            );
        }
        assert_eq!(posts[0]["language"], "en", "en-GB is sent as ISO 639-1");
        assert_eq!(posts[0]["visibility"], "public");
        let media = posts[0]["media_ids"][0].as_str().unwrap().to_string();
        let inst = s.net.instance.lock().unwrap();
        assert_eq!(
            inst.media[&media].0, ALT,
            "alt text sent as the description"
        );
        let polls = inst
            .log
            .iter()
            .filter(|(m, p, _)| m == "GET" && p.ends_with(&media))
            .count();
        assert_eq!(
            polls,
            PROCESSING_POLLS + 1,
            "polled until processed, then attached"
        );
    }

    #[tokio::test]
    async fn a_resumed_thread_repeats_only_the_refused_part_under_the_same_key() {
        let s = setup("").await;
        let parts = s.variant.parts.len();
        assert!(parts >= 2, "a thread");
        s.net.ledger.let_through();
        s.net.inject(Fault::ServerError);
        let job = Job {
            delivery: &s.delivery,
            variant: &s.variant,
        };
        let publisher = s.ws.channel("mastodon").unwrap().publisher();
        let refused = publisher.publish(&job, &s.services).await;
        assert!(
            matches!(refused, Err(PublishError::Retry { .. })),
            "{refused:?}"
        );
        let first_keys = s.status_keys();
        assert_eq!(first_keys.len(), 2, "post 1, then post 2 refused");

        let receipt = s.publish().await;
        let keys = s.status_keys();
        let base = s.delivery.idempotency_key();
        assert!(keys.iter().all(|k| k.starts_with(&base)), "{keys:?}");
        // Post 1 is recorded, so it is not even asked for again; post 2
        // goes under the key of its refused attempt.
        assert_eq!(keys[2], first_keys[1], "{keys:?}");
        assert_eq!(keys.iter().filter(|k| **k == first_keys[0]).count(), 1);
        let mut distinct = keys[1..].to_vec();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            parts - 1,
            "one key per later part: {keys:?}"
        );
        assert_eq!(s.net.posts().len(), parts, "nothing posted twice");
        assert_eq!(
            receipt.remote_id.as_deref(),
            s.net.posts()[0]["id"].as_str()
        );
    }

    #[tokio::test]
    async fn the_instances_limits_are_learned_and_win_over_a_differing_config() {
        let mut s = setup("max_characters = 400\n").await;
        s.net.instance.lock().unwrap().max_characters = Some(1000);
        let publisher = s.ws.channel("mastodon").unwrap().publisher();
        let found = publisher.check(&s.services).await.unwrap();
        assert!(found.contains("@mars"), "{found}");
        assert!(found.contains("1000 characters"), "{found}");
        let facts = publisher.learn(&s.services).await.unwrap().expect("facts");
        assert_eq!(facts["max_characters"], 1000);
        assert!(s.net.posts().is_empty(), "learning posts nothing");

        let channel = &mut s.ws.channels[0];
        let before = channel.limits().unwrap();
        assert!(before.starts_with("400 characters"), "{before}");
        assert!(before.contains("from channels.toml"), "{before}");
        let fetched_at = chrono::Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
        let learned = crier::channels::Learned {
            kind: "mastodon".into(),
            fetched_at,
            facts: facts.clone(),
        };
        channel.adopt(&learned).unwrap();
        let after = channel.limits().unwrap();
        assert!(after.starts_with("1000 characters"), "{after}");
        assert!(
            after.contains("the instance's own, fetched 2026-11-26"),
            "{after}"
        );
        assert!(after.contains("max_characters = 400 not used"), "{after}");
        assert_eq!(channel.max_image_bytes(), Some(16_777_216));

        // Limits read from another instance are not used.
        let mut elsewhere = learned.clone();
        elsewhere.facts["instance"] = json!("https://other.example");
        let mut fresh = setup("").await;
        let why = fresh.ws.channels[0].adopt(&elsewhere).unwrap_err();
        assert!(why.contains("https://other.example"), "{why}");
        assert!(fresh.ws.channels[0]
            .limits()
            .unwrap()
            .starts_with("500 characters"));
    }
}
