//! Mastodon's limits as a user meets them: `check` counts with Mastodon's
//! default until the instance has been asked, then with the instance's own
//! (saved by `crier channels test` or the daemon), and says which it used.

use std::process::{Command, Output};

use crate::compliance::harness::Network;
use crate::compliance::mastodon::Mastodon;
use crate::support::daemon::Workspace;

/// An item whose one status is `chars` characters long (no thread).
fn item(chars: usize) -> String {
    let title = "Limits";
    // The template is "{{item.title}}\n\n{{item.body_text}}".
    let body: String = "Safer sleep: back to sleep, in a clear cot. "
        .chars()
        .cycle()
        .take(chars - title.len() - 2)
        .collect();
    format!(
        "[[item]]\nid = \"long\"\nkind = \"notice\"\ntitle = \"{title}\"\nbody = \"{}\"\n\
         at = \"2027-06-01T10:00:00Z\"\nchannels = [\"mastodon\"]\nthread = false\n",
        body.trim_end()
    )
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn channels_test(ws: &Workspace, net: &Mastodon) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("--config")
        .arg(ws.config())
        .args(["channels", "test", "mastodon"])
        .env_remove("CRIER_CONFIG")
        .envs(net.env())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_counts_with_the_instances_own_limit_once_it_has_been_read() {
    let net = Mastodon::start().await;
    net.instance.lock().unwrap().max_characters = Some(1000);
    let ws = Workspace::new(&net.channel_toml(), "");
    ws.write("campaigns/items.toml", &item(700));

    let before = ws.crier(&["check"]);
    let said = text(&before);
    assert_eq!(before.status.code(), Some(1), "{said}");
    assert!(said.contains("over the limit of 500"), "{said}");
    assert!(said.contains("Mastodon's defaults"), "{said}");
    assert!(said.contains("crier channels test mastodon"), "{said}");

    let tested = channels_test(&ws, &net);
    let said = text(&tested);
    assert!(tested.status.success(), "{said}");
    assert!(said.contains("1000 characters"), "{said}");
    assert!(said.contains("saved its limits"), "{said}");
    assert!(!said.contains(crate::compliance::mastodon::TOKEN), "{said}");
    let saved: serde_json::Value = serde_json::from_slice(
        &std::fs::read(ws.path().join("data/learned/mastodon.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["kind"], "mastodon");
    assert_eq!(saved["facts"]["max_characters"], 1000);
    let raw = std::fs::read_to_string(ws.path().join("data/learned/mastodon.json")).unwrap();
    assert!(!raw.contains(crate::compliance::mastodon::TOKEN));
    assert!(net.posts().is_empty(), "nothing posted");

    let after = ws.crier(&["check"]);
    let said = text(&after);
    assert!(after.status.success(), "{said}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        said.contains(&format!(
            "1000 characters per status (URLs count 23), 4 images (the instance's own, fetched {today})"
        )),
        "{said}"
    );

    let preview = ws.crier(&["preview", "long"]);
    let said = text(&preview);
    assert!(preview.status.success(), "{said}");
    assert!(said.contains("· 700/1000 graphemes"), "{said}");
    assert!(said.contains("limits: 1000 characters"), "{said}");
    let json = ws.crier(&["preview", "long", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let limits = json[0]["limits"].as_str().unwrap_or_default();
    assert!(limits.contains("the instance's own, fetched"), "{json}");

    // Over the instance's limit: refused, naming whose limit it is.
    ws.write("campaigns/items.toml", &item(1100));
    let over = ws.crier(&["check"]);
    let said = text(&over);
    assert_eq!(over.status.code(), Some(1), "{said}");
    assert!(
        said.contains("100 over the limit of 1000")
            && said.contains("(limits: the instance's own, fetched"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reads_the_instances_limits_when_it_starts() {
    let net = Mastodon::start().await;
    net.instance.lock().unwrap().max_characters = Some(1000);
    let ws = Workspace::new(&net.channel_toml(), "");
    ws.write("campaigns/items.toml", &item(300));
    let env = net.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let daemon = ws.start(&env);
    // New limits: the content is shaped again against them, and the pending
    // delivery's stored variant says so.
    ws.wait_queue("the variant reshaped to the instance's 1000", |rows| {
        let id = rows[0]["id"].to_string();
        let shown = ws.crier(&["queue", "show", id.as_str(), "--format", "json"]);
        serde_json::from_slice::<serde_json::Value>(&shown.stdout)
            .is_ok_and(|v| v["variant"]["limit"] == 1000)
    });
    daemon.terminate();
    let check = ws.crier(&["check"]);
    let said = text(&check);
    assert!(said.contains("1000 characters per status"), "{said}");
    assert!(net.posts().is_empty(), "the item is not due");
}
