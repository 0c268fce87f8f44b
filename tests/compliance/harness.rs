//! The compliance suite: what every network module must do, whatever the
//! network. Each network implements [`Network`] in its own file (a contract
//! server enforcing that network's published API); `tests/compliance.rs`
//! runs every scenario below against every registered network.
//!
//! Each scenario builds crier the way the daemon does: a workspace on disk
//! (`channels.toml` with the network's table, the repo's templates, one
//! short item), the plan synced into an in-memory SQLite store, and a real
//! leased [`Delivery`] handed to the channel's [`Publisher`].

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use crier::channels::{http, Configured, Job, PublishError, Publisher, Reconciled, Services};
use crier::delivery::{Delivery, Receipt};
use crier::diagnostics::Report;
use crier::store::sqlite::SqliteStore;
use crier::store::Store;
use crier::variant::Variant;
use crier::workspace::Workspace;
use crier_schedule::ManualClock;

/// What a contract server does to the next post-creating request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 in the network's format, asking to wait this long.
    RateLimited { retry_after_secs: u64 },
    /// A 5xx the network says happened before it acted.
    ServerError,
    /// A validation refusal (4xx) in the network's words, containing `message`.
    Invalid { message: String },
    /// The token (or webhook URL) is expired, revoked or deleted.
    ExpiredCredentials,
    /// The post is accepted and recorded, then no answer ever comes.
    HangAfterReceive,
}

#[async_trait]
pub trait Network: Send + Sync + Sized + 'static {
    /// The channel's name in `channels.toml` (and in test output).
    fn name(&self) -> &'static str;
    /// Starts the contract server on 127.0.0.1:0.
    async fn start() -> Self;
    /// `[channels.<name>]` pointing at the server (name from [`Network::name`]).
    fn channel_toml(&self) -> String;
    /// Secrets to set in the environment: unique names (see [`env_name`])
    /// and recognisable fake values, which must never appear in errors.
    fn env(&self) -> Vec<(String, String)>;
    /// Applies to the next post-creating request.
    fn inject(&self, fault: Fault);
    /// What the server accepted as posts.
    fn posts(&self) -> Vec<serde_json::Value>;
    /// Whether an interrupted request can be reconciled or safely repeated.
    fn idempotent(&self) -> bool;
    /// Panics unless the receipt names what the server accepted (the id it
    /// assigned, the URL) — or is empty where the network returns nothing.
    fn verify_receipt(&self, receipt: &Receipt);
    /// Whether crier sends this network an item's image (the `with_image`
    /// scenario is skipped for the others).
    const TAKES_IMAGES: bool = false;
    /// Panics unless the server got [`IMAGE`] with this alt text, in the
    /// network's own way, on the last post.
    fn verify_image(&self, _alt: &str) {}
}

/// The image file of the `with_image` scenario, under the campaigns folder.
pub const IMAGE: &str = "images/poster.png";
/// Its alt text.
pub const ALT: &str = "A poster: a baby asleep on its back in a clear cot.";

/// A unique environment variable name: scenarios run in parallel, each with
/// its own server (and so its own secret values, e.g. a webhook URL).
pub fn env_name(network: &str, what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(
        "CRIER_COMPLIANCE_{}_{}_{n}",
        network.to_uppercase().replace('-', "_"),
        what.to_uppercase()
    )
}

/// The item's publish time: 2026-12-03 10:00 Europe/London (UTC in winter).
fn due() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap()
}

/// How long a scenario waits for an answer that will never come. Short,
/// since the hang is certain; long enough that a loaded machine does not
/// turn a real answer into a timeout.
const LOST_ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// One network, its channel built from a workspace on disk, and one real
/// delivery leased from the store.
pub struct Rig<N: Network> {
    pub net: N,
    _dir: tempfile::TempDir,
    pub workspace: Workspace,
    pub services: Services,
    pub delivery: Delivery,
    pub variant: Variant,
}

impl<N: Network> Rig<N> {
    /// The standard rig: a short item, one message on every network.
    pub async fn new() -> Rig<N> {
        let rig = Rig::<N>::with_body(SHORT_BODY).await;
        assert_eq!(
            rig.variant.parts.len(),
            1,
            "{}: the compliance item fits one message",
            rig.net.name()
        );
        rig
    }

    /// A rig whose item has this body (for a network's own tests, e.g. threads).
    pub async fn with_body(body: &str) -> Rig<N> {
        Rig::<N>::with_item(body, false).await
    }

    /// The standard item with one image ([`IMAGE`], described by [`ALT`]).
    pub async fn with_image() -> Rig<N> {
        Rig::<N>::with_item(SHORT_BODY, true).await
    }

    pub async fn with_item(body: &str, image: bool) -> Rig<N> {
        let net = N::start().await;
        for (name, value) in net.env() {
            // Unique names: no other test reads or writes these.
            std::env::set_var(name, value);
        }
        let dir = tempfile::tempdir().unwrap();
        write_workspace(dir.path(), net.name(), &net.channel_toml(), body, image);
        let mut report = Report::default();
        let workspace = Workspace::load(&dir.path().join("channels.toml"), &mut report)
            .expect("the compliance workspace loads");
        assert_eq!(report.error_count(), 0, "{}: {report:?}", net.name());
        let planned = crier::plan::plan(&workspace, &mut report);
        assert_eq!(report.error_count(), 0, "{}: {report:?}", net.name());
        assert_eq!(planned.len(), 1, "one item, one channel, one occasion");

        let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
        store.sync_plan(&planned, due()).await.unwrap();
        let mut leased = store
            .lease_due(due(), 10, Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(leased.len(), 1, "the delivery is due");
        let delivery = leased.remove(0);
        store
            .mark_request_started(delivery.id, due())
            .await
            .unwrap();
        let variant: Variant = delivery.variant.clone();

        let services = Services {
            http: http::client(),
            publish_dir: dir.path().join("public"),
            public_url: "http://127.0.0.1:8080".into(),
            store,
            clock: Arc::new(ManualClock::new(due())),
            credentials: crier::credentials::Credentials::new(&dir.path().join("data")),
            campaigns_dir: workspace.config.campaigns_dir(),
            stopping: crier::channels::stopping::Stopping::never(),
        };
        Rig {
            net,
            _dir: dir,
            workspace,
            services,
            delivery,
            variant,
        }
    }

    pub fn channel(&self) -> &Configured {
        self.workspace
            .channel(self.net.name())
            .expect("the channel was built")
    }

    fn publisher(&self) -> &dyn Publisher {
        self.channel().publisher()
    }

    fn job(&self) -> Job<'_> {
        Job {
            delivery: &self.delivery,
            variant: &self.variant,
        }
    }

    /// One attempt, as the dispatcher makes it; checks it leaks no secret.
    pub async fn publish(&self) -> Result<Receipt, PublishError> {
        let result = self.publisher().publish(&self.job(), &self.services).await;
        self.assert_secret_free(&format!("{result:?}"));
        if let Err(e) = &result {
            self.assert_secret_free(&e.to_string());
        }
        result
    }

    /// An attempt with a short client timeout, for answers that never come.
    pub async fn publish_impatiently(&self) -> Result<Receipt, PublishError> {
        let mut services = self.services.clone();
        services.http = http::builder()
            .timeout(LOST_ANSWER_TIMEOUT)
            .build()
            .unwrap();
        let result = self.publisher().publish(&self.job(), &services).await;
        self.assert_secret_free(&format!("{result:?}"));
        if let Err(e) = &result {
            self.assert_secret_free(&e.to_string());
        }
        result
    }

    pub async fn reconcile(&self) -> Reconciled {
        let verdict = self
            .publisher()
            .reconcile(&self.job(), &self.services)
            .await;
        self.assert_secret_free(&format!("{verdict:?}"));
        verdict
    }

    pub async fn check(&self) -> Result<String, PublishError> {
        let result = self.publisher().check(&self.services).await;
        self.assert_secret_free(&format!("{result:?}"));
        if let Ok(text) | Err(PublishError::Permanent { message: text, .. }) = &result {
            self.assert_secret_free(text);
        }
        result
    }

    /// No secret value — nor, for a URL, its path, where webhook tokens
    /// live — appears in `shown`.
    pub fn assert_secret_free(&self, shown: &str) {
        for (name, value) in self.net.env() {
            assert!(
                !shown.contains(&value),
                "{}: the value of {name} leaked: {shown}",
                self.net.name()
            );
            if let Some((_, rest)) = value.split_once("://") {
                if let Some(at) = rest.find('/') {
                    let path = &rest[at..];
                    assert!(
                        path.len() < 8 || !shown.contains(path),
                        "{}: the URL path in {name} leaked: {shown}",
                        self.net.name()
                    );
                }
            }
        }
    }

    pub fn posts(&self) -> usize {
        self.net.posts().len()
    }
}

/// Short enough to be one message on every network (X's 280 included).
const SHORT_BODY: &str = "Read the new guidance and share it with families you support.";

fn write_workspace(dir: &Path, channel: &str, channel_toml: &str, body: &str, image: bool) {
    let config = format!(
        "[organisation]\nname = \"Compliance Partnership\"\nwebsite = \"https://example.org\"\n\
         timezone = \"Europe/London\"\nlanguage = \"en-GB\"\n\n\
         [daemon]\ndata_dir = \"data\"\npublic_url = \"http://127.0.0.1:8080\"\n\n{channel_toml}\n"
    );
    std::fs::write(dir.join("channels.toml"), config).unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
        &dir.join("templates"),
    );
    std::fs::create_dir_all(dir.join("campaigns/images")).unwrap();
    let mut item = format!(
        r#"[[item]]
id = "compliance-notice"
kind = "notice"
title = "Safer sleep week"
summary = "New safer sleep guidance for practitioners."
at = "2026-12-03 10:00"
channels = ["{channel}"]
topics = ["news"]
link = "https://example.org/news/safer-sleep"
hashtags = ["SaferSleep"]
body = """
{body}
"""
"#
    );
    if image {
        // A real PNG, since some networks look at the bytes.
        let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/images/amnesty-bin.png");
        std::fs::copy(png, dir.join("campaigns").join(IMAGE)).unwrap();
        item += &format!("[[item.images]]\nsrc = \"{IMAGE}\"\nalt = \"{ALT}\"\n");
    }
    std::fs::write(dir.join("campaigns/compliance.toml"), item).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

// ---- The scenarios: each runs against every registered network. ----

/// Accepted: exactly one post, and the receipt names it.
pub async fn success<N: Network>() {
    let rig = Rig::<N>::new().await;
    let receipt = rig
        .publish()
        .await
        .unwrap_or_else(|e| panic!("{}: not accepted: {e:?}", rig.net.name()));
    assert_eq!(rig.posts(), 1, "{}: one post", rig.net.name());
    rig.net.verify_receipt(&receipt);
}

/// 429: wait as the network says, nothing posted; then the next attempt posts.
pub async fn rate_limited<N: Network>() {
    let rig = Rig::<N>::new().await;
    rig.net.inject(Fault::RateLimited {
        retry_after_secs: 7,
    });
    match rig.publish().await {
        Err(PublishError::Retry {
            after: Some(after), ..
        }) => assert!(
            (Duration::from_secs(7)..Duration::from_secs(8)).contains(&after),
            "{}: asked to wait 7 s, would wait {after:?}",
            rig.net.name()
        ),
        other => panic!(
            "{}: 429 should be Retry after 7 s, got {other:?}",
            rig.net.name()
        ),
    }
    assert_eq!(rig.posts(), 0, "{}: nothing posted yet", rig.net.name());
    rig.publish()
        .await
        .unwrap_or_else(|e| panic!("{}: the retry was refused: {e:?}", rig.net.name()));
    assert_eq!(rig.posts(), 1, "{}: one post", rig.net.name());
}

/// 5xx: retried later; nothing posted meanwhile.
pub async fn server_error<N: Network>() {
    let rig = Rig::<N>::new().await;
    rig.net.inject(Fault::ServerError);
    assert!(
        matches!(rig.publish().await, Err(PublishError::Retry { .. })),
        "{}: 5xx should be Retry",
        rig.net.name()
    );
    assert_eq!(rig.posts(), 0, "{}", rig.net.name());
    rig.publish()
        .await
        .unwrap_or_else(|e| panic!("{}: the retry was refused: {e:?}", rig.net.name()));
    assert_eq!(rig.posts(), 1, "{}", rig.net.name());
}

/// 4xx validation: failed for good, in the network's own words.
pub async fn invalid<N: Network>() {
    let rig = Rig::<N>::new().await;
    let message = "compliance-refusal-7f3a: text is too long".to_string();
    rig.net.inject(Fault::Invalid {
        message: message.clone(),
    });
    match rig.publish().await {
        Err(PublishError::Permanent { message: m, .. }) => assert!(
            m.contains("compliance-refusal-7f3a"),
            "{}: the network's message is lost: {m}",
            rig.net.name()
        ),
        other => panic!("{}: should be Permanent, got {other:?}", rig.net.name()),
    }
    assert_eq!(rig.posts(), 0, "{}", rig.net.name());
}

/// Expired or revoked credentials: the channel needs new ones.
pub async fn expired_credentials<N: Network>() {
    let rig = Rig::<N>::new().await;
    rig.net.inject(Fault::ExpiredCredentials);
    match rig.publish().await {
        Err(PublishError::Credentials { .. }) => {}
        other => panic!("{}: should be Credentials, got {other:?}", rig.net.name()),
    }
    assert_eq!(rig.posts(), 0, "{}", rig.net.name());
}

/// The request arrived, the answer was lost: never a second post. A network
/// without idempotency says Uncertain; one with it finds the post on
/// reconciling, or recognises the repeat.
pub async fn answer_lost<N: Network>() {
    let rig = Rig::<N>::new().await;
    rig.net.inject(Fault::HangAfterReceive);
    let name = rig.net.name();
    let first = rig.publish_impatiently().await;
    assert_eq!(rig.posts(), 1, "{name}: the server took the post");
    if !rig.net.idempotent() {
        assert!(
            matches!(first, Err(PublishError::Uncertain { .. })),
            "{name}: a lost answer should be Uncertain, got {first:?}"
        );
        // After a crash the dispatcher asks: the post exists, so "never
        // sent" would post it twice.
        let verdict = rig.reconcile().await;
        assert!(
            !matches!(verdict, Reconciled::NotSent),
            "{name}: reconcile said NotSent for a post the server has"
        );
        if let Reconciled::Sent(receipt) = verdict {
            rig.net.verify_receipt(&receipt);
        }
        return;
    }
    // A network with an idempotency key may repeat the request at once
    // and get the same post back: fine, as long as there is one post.
    if let Ok(receipt) = &first {
        rig.net.verify_receipt(receipt);
        assert_eq!(rig.posts(), 1, "{name}: the repeat made a second post");
        return;
    }
    assert!(
        matches!(
            first,
            Err(PublishError::Uncertain { .. } | PublishError::Retry { .. })
        ),
        "{name}: a lost answer should be Uncertain or Retry, got {first:?}"
    );
    match rig.reconcile().await {
        Reconciled::Sent(receipt) => rig.net.verify_receipt(&receipt),
        Reconciled::NotSent => panic!("{name}: reconcile said NotSent for a post it has"),
        Reconciled::Unknown => {
            let receipt = rig
                .publish()
                .await
                .unwrap_or_else(|e| panic!("{name}: the repeat was refused: {e:?}"));
            rig.net.verify_receipt(&receipt);
        }
    }
    assert_eq!(rig.posts(), 1, "{name}: still exactly one post");
}

/// An item with an image: one post, carrying the image and its alt text.
pub async fn with_image<N: Network>() {
    if !N::TAKES_IMAGES {
        return;
    }
    let rig = Rig::<N>::with_image().await;
    assert_eq!(rig.variant.images.len(), 1, "{}", rig.net.name());
    let receipt = rig
        .publish()
        .await
        .unwrap_or_else(|e| panic!("{}: not accepted: {e:?}", rig.net.name()));
    assert_eq!(rig.posts(), 1, "{}: one post", rig.net.name());
    rig.net.verify_receipt(&receipt);
    rig.net.verify_image(ALT);
}

/// `crier channels test` (check, then learning the network's limits, as
/// the daemon also does at start) never posts, and says nothing secret.
pub async fn check_posts_nothing<N: Network>() {
    let rig = Rig::<N>::new().await;
    let _ = rig.check().await;
    let learned = rig.publisher().learn(&rig.services).await;
    rig.assert_secret_free(&format!("{learned:?}"));
    assert_eq!(rig.posts(), 0, "{}: check posted", rig.net.name());
}
