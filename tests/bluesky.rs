//! Bluesky against the real reference PDS (`@atproto/pds`, started on
//! 127.0.0.1 by `scripts/test.sh`, which exports `CRIER_PDS_URL`): posts go
//! through the real `crier` binary (or, for the replay test, the library
//! exactly as the dispatcher calls it) and are read back from the PDS.
//!
//! A proxy between crier and the PDS counts session calls and can lose an
//! answer after the PDS has acted on the request.

#[path = "bluesky/proxy.rs"]
mod proxy;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crier::channels::{http, Job, Reconciled, Services};
use crier::diagnostics::Report;
use crier::store::sqlite::SqliteStore;
use crier::store::Store;
use crier::variant::Variant;
use proxy::Proxy;
use serde_json::{json, Value};
use support::daemon::{in_secs, Workspace};

const CREATE_SESSION: &str = "com.atproto.server.createSession";
const REFRESH_SESSION: &str = "com.atproto.server.refreshSession";
const IMAGE: &str = "images/bin.png";
const ALT: &str = "A blue metal knife amnesty bin fixed to a wall.";

fn pds() -> Option<String> {
    match std::env::var("CRIER_PDS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipping: CRIER_PDS_URL not set (scripts/test.sh starts a PDS)");
            None
        }
    }
}

struct Account {
    handle: String,
    did: String,
    password: String,
}

/// A fresh account on the PDS (handles there end in `.test`).
async fn account(pds: &str, prefix: &str) -> Account {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    let handle = format!("{prefix}{nanos}{n}.test");
    let password = format!("app-pw-{nanos}-{n}-never-printed");
    let answer: Value = http::client()
        .post(format!("{pds}/xrpc/com.atproto.server.createAccount"))
        .json(&json!({"handle": handle, "email": format!("{prefix}{nanos}{n}@example.test"), "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let did = answer["did"]
        .as_str()
        .unwrap_or_else(|| panic!("createAccount: {answer}"))
        .to_string();
    Account {
        handle,
        did,
        password,
    }
}

/// Every post in the account's repository, in record-key order.
async fn records(pds: &str, did: &str) -> Vec<Value> {
    let url = format!("{pds}/xrpc/com.atproto.repo.listRecords?repo={did}&collection=app.bsky.feed.post&limit=100");
    let answer: Value = http::client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut list = answer["records"].as_array().cloned().unwrap_or_default();
    list.sort_by_key(|r| r["uri"].as_str().unwrap().to_string());
    list
}

fn env_var(account: &Account) -> (String, String) {
    let name: String = account
        .handle
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    (format!("CRIER_TEST_BSKY_{name}"), account.password.clone())
}

fn channel(service: &str, account: &Account, env: &str) -> String {
    format!(
        "[channels.bsky]\nkind = \"bluesky\"\nservice = \"{service}\"\nidentifier = \"{}\"\napp_password_env = \"{env}\"\n",
        account.handle
    )
}

fn item(id: &str, at: &str, title: &str, body: &str, extra: &str) -> String {
    format!(
        "[[item]]\nid = \"{id}\"\nkind = \"notice\"\ntitle = \"{title}\"\nat = \"{at}\"\nchannels = [\"bsky\"]\n\
         language = \"en-GB\"\n{extra}\nbody = \"\"\"\n{body}\n\"\"\"\n\n"
    )
}

fn image_bytes() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/campaigns/images/amnesty-bin.png"
    ))
    .unwrap()
}

/// The text a facet covers, checked against the byte range it claims.
fn covered<'a>(text: &'a str, facet: &Value) -> &'a str {
    let (s, e) = (
        facet["index"]["byteStart"].as_u64().unwrap() as usize,
        facet["index"]["byteEnd"].as_u64().unwrap() as usize,
    );
    text.get(s..e).expect("a facet on character boundaries")
}

fn find<'a>(posts: &'a [Value], needle: &str) -> Vec<&'a Value> {
    posts
        .iter()
        .filter(|r| r["value"]["text"].as_str().unwrap().contains(needle))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn daemon_posts_facets_langs_card_thread_and_image_with_one_session() {
    let Some(pds) = pds() else { return };
    let me = account(&pds, "mars").await;
    let friend = account(&pds, "friend").await;
    let proxy = Proxy::start(&pds).await;
    let (env, password) = env_var(&me);
    let ws = Workspace::new(&channel(&proxy.url, &me, &env), "");
    std::fs::create_dir_all(ws.path().join("campaigns/images")).unwrap();
    std::fs::write(ws.path().join("campaigns").join(IMAGE), image_bytes()).unwrap();
    let soon = in_secs(3);
    let facets_body = format!(
        "Crèche café guidance — read https://example.org/café-guide and share #SaferSleep with @{} today.",
        friend.handle
    );
    let long =
        "Every practitioner who visits a family home has a part to play in safer sleep. ".repeat(6);
    let mut content = item(
        "facets",
        &soon,
        "Safer sleep week",
        &facets_body,
        "link = \"https://example.org/news/safer-sleep\"\nsummary = \"New safer sleep guidance.\"",
    );
    content += &item("thread", &soon, "Safer sleep in depth", &long, "");
    content += &item(
        "picture",
        &soon,
        "Amnesty bins",
        "Find your nearest bin.",
        "",
    );
    content += &format!("[[item.images]]\nsrc = \"{IMAGE}\"\nalt = \"{ALT}\"\n");
    ws.write("campaigns/items.toml", &content);

    let daemon = ws.start(&[(env.as_str(), password.as_str())]);
    ws.wait_state("sent", 3);
    let posts = records(&pds, &me.did).await;

    // Facets: exact UTF-8 byte ranges, after multi-byte characters.
    let post = &find(&posts, "Crèche café")[0]["value"];
    let text = post["text"].as_str().unwrap();
    let facets = post["facets"].as_array().expect("facets");
    let mut seen = Vec::new();
    for f in facets {
        let feature = &f["features"][0];
        let span = covered(text, f);
        let start = f["index"]["byteStart"].as_u64().unwrap() as usize;
        assert_ne!(
            start,
            text[..start].chars().count(),
            "offsets are bytes, not characters"
        );
        match feature["$type"].as_str().unwrap() {
            "app.bsky.richtext.facet#link" => {
                assert_eq!(span, "https://example.org/café-guide");
                assert_eq!(feature["uri"], span);
            }
            "app.bsky.richtext.facet#tag" => {
                assert_eq!(span, "#SaferSleep");
                assert_eq!(feature["tag"], "SaferSleep");
            }
            "app.bsky.richtext.facet#mention" => {
                assert_eq!(span, format!("@{}", friend.handle));
                assert_eq!(
                    feature["did"],
                    friend.did.as_str(),
                    "the mention resolved to a DID"
                );
            }
            other => panic!("unexpected facet {other}"),
        }
        seen.push(feature["$type"].as_str().unwrap().to_string());
    }
    seen.sort();
    assert_eq!(seen.len(), 3, "{facets:?}");
    assert_eq!(post["langs"], json!(["en-GB"]));
    // The card is the item's own title and summary: nothing was fetched.
    assert_eq!(
        post["embed"],
        json!({"$type": "app.bsky.embed.external", "external": {
            "uri": "https://example.org/news/safer-sleep", "title": "Safer sleep week",
            "description": "New safer sleep guidance."}})
    );

    // The thread: each part replies to the one before, all to the first.
    let parts: Vec<&Value> = posts
        .iter()
        .filter(|p| {
            let t = p["value"]["text"].as_str().unwrap();
            !t.contains("Crèche") && !t.contains("nearest bin")
        })
        .collect();
    assert!(parts.len() >= 2, "a thread: {parts:?}");
    let strong = |p: &Value| json!({"uri": p["uri"], "cid": p["cid"]});
    assert!(parts[0]["value"].get("reply").is_none());
    for i in 1..parts.len() {
        assert_eq!(
            parts[i]["value"]["reply"]["root"],
            strong(parts[0]),
            "part {i} root"
        );
        assert_eq!(
            parts[i]["value"]["reply"]["parent"],
            strong(parts[i - 1]),
            "part {i} parent"
        );
    }

    // The image: a blob with its alt text, the bytes we sent.
    let pic = &find(&posts, "nearest bin")[0]["value"]["embed"];
    assert_eq!(pic["$type"], "app.bsky.embed.images");
    assert_eq!(pic["images"][0]["alt"], ALT);
    let blob = &pic["images"][0]["image"];
    assert_eq!(blob["mimeType"], "image/png");
    assert_eq!(blob["size"], image_bytes().len());
    let cid = blob["ref"]["$link"].as_str().unwrap();
    let url = format!(
        "{pds}/xrpc/com.atproto.sync.getBlob?did={}&cid={cid}",
        me.did
    );
    let got = http::client()
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.to_vec(), image_bytes());

    assert_eq!(posts.len(), 2 + parts.len(), "nothing posted twice");
    assert_eq!(proxy.calls(CREATE_SESSION), 1, "one session for every post");
    for d in ws.queue() {
        assert_eq!(d["state"], "sent", "{d}");
        let url = d["remote_url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("https://bsky.app/profile/{}/post/", me.did)),
            "{url}"
        );
    }

    // A restart refreshes the stored session instead of signing in again.
    let (exit, first_log) = daemon.stop();
    assert!(exit.success());
    assert!(
        ws.path().join("data/credentials/bsky.refresh_jwt").exists(),
        "the refresh token is kept for the next start"
    );
    let more = item(
        "after-restart",
        &in_secs(2),
        "After a restart",
        "Still one session.",
        "",
    );
    ws.write("campaigns/items.toml", &(content + &more));
    let daemon = ws.start(&[(env.as_str(), password.as_str())]);
    ws.wait_item("after-restart", "sent");
    assert_eq!(
        proxy.calls(CREATE_SESSION),
        1,
        "no new session after a restart"
    );
    assert_eq!(
        proxy.calls(REFRESH_SESSION),
        1,
        "the stored session was refreshed"
    );
    assert_eq!(records(&pds, &me.did).await.len(), posts.len() + 1);
    // Both runs' whole logs, to their last lines.
    let (_, second_log) = daemon.stop();
    let log = [first_log, second_log].concat().join("\n");
    assert!(
        !log.contains(&password),
        "the app password leaked into the log"
    );
    let queue = String::from_utf8_lossy(&ws.crier(&["queue"]).stdout).into_owned();
    assert!(!queue.contains(&password));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_after_the_pds_wrote_the_post_reconciles_to_one_record() {
    let Some(pds) = pds() else { return };
    let me = account(&pds, "crash").await;
    let proxy = Proxy::start(&pds).await;
    let (env, password) = env_var(&me);
    let ws = Workspace::new(&channel(&proxy.url, &me, &env), "concurrency = 1");
    ws.write(
        "campaigns/items.toml",
        &item("lost", &in_secs(2), "Lost answer", "Posted once.", ""),
    );
    proxy.lose_next_answer_of("com.atproto.repo.putRecord");
    let daemon = ws.start(&[(env.as_str(), password.as_str())]);
    proxy.wait_for_lost_answer().await;
    daemon.kill();
    assert_eq!(
        records(&pds, &me.did).await.len(),
        1,
        "the PDS has the post"
    );

    let _daemon = ws.start(&[(env.as_str(), password.as_str())]);
    // reconciled: the record is found and the delivery recorded as sent
    let q = ws.wait_queue("the interrupted delivery reconciled as sent", |rows| {
        rows[0]["state"] == "sent"
    });
    let posts = records(&pds, &me.did).await;
    assert_eq!(posts.len(), 1, "still exactly one record");
    assert_eq!(q[0]["remote_id"], posts[0]["uri"]);
}

/// The dispatcher's own calls, made twice for one delivery (as after a lost
/// answer and a retry, or two processes racing): one record, one receipt.
#[tokio::test(flavor = "multi_thread")]
async fn publishing_the_same_delivery_twice_makes_one_record() {
    let Some(pds) = pds() else { return };
    let me = account(&pds, "twice").await;
    let proxy = Proxy::start(&pds).await;
    let (env, password) = env_var(&me);
    std::env::set_var(&env, &password);
    let ws = Workspace::new(&channel(&proxy.url, &me, &env), "");
    let long = "A thread, so that every part must be found again. ".repeat(8);
    ws.write(
        "campaigns/items.toml",
        &item("twice", "2026-12-03T10:00:00Z", "Twice", &long, ""),
    );
    let mut report = Report::default();
    let workspace = crier::workspace::Workspace::load(&ws.config(), &mut report).unwrap();
    let planned = crier::plan::plan(&workspace, &mut report);
    let due = planned[0].due_at;
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    store.sync_plan(&planned, due).await.unwrap();
    let delivery = store
        .lease_due(due, 1, Duration::from_secs(600))
        .await
        .unwrap()
        .remove(0);
    store.mark_request_started(delivery.id, due).await.unwrap();
    let variant: Variant = delivery.variant.clone();
    assert!(variant.parts.len() > 1, "a thread");
    let services = Services {
        http: http::client(),
        publish_dir: ws.path().join("public"),
        public_url: "http://127.0.0.1:8080".into(),
        store,
        clock: Arc::new(crier_schedule::SystemClock),
        credentials: crier::credentials::Credentials::new(&ws.path().join("data")),
        campaigns_dir: workspace.config.campaigns_dir(),
        stopping: crier::channels::stopping::Stopping::never(),
    };
    let job = Job {
        delivery: &delivery,
        variant: &variant,
    };
    let publisher = workspace.channel("bsky").unwrap().publisher();

    let first = publisher
        .publish(&job, &services)
        .await
        .expect("first attempt");
    let again = publisher
        .publish(&job, &services)
        .await
        .expect("a repeat is read back, not refused");
    assert_eq!(first, again);
    assert_eq!(
        publisher.reconcile(&job, &services).await,
        Reconciled::Sent(first.clone())
    );

    // A new channel instance (a reload or restart) finds the same records.
    let reloaded = crier::workspace::Workspace::load(&ws.config(), &mut report).unwrap();
    let other = reloaded.channel("bsky").unwrap().publisher();
    assert_eq!(other.publish(&job, &services).await.unwrap(), first);

    let posts = records(&pds, &me.did).await;
    assert_eq!(
        posts.len(),
        variant.parts.len(),
        "one record per part, none twice"
    );
    assert_eq!(first.remote_id.as_deref(), posts[0]["uri"].as_str());
    assert_eq!(
        proxy.calls(CREATE_SESSION),
        1,
        "the reloaded channel refreshed the stored session"
    );
    assert_eq!(proxy.calls(REFRESH_SESSION), 1);
    assert!(!format!("{first:?}").contains(&password));
}
