//! The real `crier` binary against the contract servers: what it keeps on
//! disk and what it prints (for every network: no secret anywhere). The servers run on the test's runtime workers
//! while the test thread waits on the daemon's log.

use std::path::Path;

use crate::compliance::bluesky::Bluesky;
use crate::compliance::discord::Discord;
use crate::compliance::facebook::Facebook;
use crate::compliance::harness::{Fault, Network};
use crate::compliance::linkedin::LinkedIn;
use crate::compliance::mastodon::Mastodon;
use crate::compliance::slack::Slack;
use crate::compliance::teams::Teams;
use crate::compliance::x::{XOAuth2, X};
use crate::support::daemon::{in_secs, Workspace};

fn workspace<N: Network>(net: &N) -> Workspace {
    let ws = Workspace::new(&net.channel_toml(), "");
    // Chat webhooks (Slack, Teams, Discord) take the chat family's template.
    ws.write(
        "templates/chat/default.txt.hbs",
        "{{item.title}}\n\n{{item.body_text}}\n",
    );
    ws.write(
        "campaigns/items.toml",
        &format!(
            "[[item]]\nid = \"safer-sleep\"\nkind = \"notice\"\ntitle = \"Safer sleep week\"\n\
             body = \"Read the new guidance.\"\nlink = \"https://example.org/news/safer-sleep\"\n\
             at = \"{}\"\nchannels = [\"{}\"]\n",
            in_secs(-1),
            net.name()
        ),
    );
    ws
}

/// Every file under `dir` (but the credentials folder), as bytes.
fn files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().unwrap() != "credentials" {
                files(&path, out);
            }
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
}

fn assert_absent(what: &str, secrets: &[String], shown: &[u8]) {
    for s in secrets {
        let hit = shown.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(!hit, "a secret ({}…) appears in {what}", &s[..8]);
    }
}

/// Runs `crier queue`, `crier queue show`, `crier channels test` and checks
/// none of them (nor the daemon's log) prints a secret.
fn assert_outputs_clean(
    ws: &Workspace,
    env: &[(&str, &str)],
    channel: &str,
    secrets: &[String],
    log: &str,
) {
    assert_absent("the daemon's log", secrets, log.as_bytes());
    let id = ws.queue()[0]["id"].to_string();
    for args in [
        vec!["queue"],
        vec!["queue", "--format", "json"],
        vec!["queue", "show", id.as_str()],
    ] {
        let out = ws.crier(&args);
        assert_absent(&format!("crier {args:?}"), secrets, &out.stdout);
        assert_absent(&format!("crier {args:?} (stderr)"), secrets, &out.stderr);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("--config")
        .arg(ws.config())
        .args(["channels", "test", channel])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_absent("crier channels test", secrets, &out.stdout);
    assert_absent("crier channels test (stderr)", secrets, &out.stderr);
}

fn env_of<N: Network>(net: &N) -> Vec<(String, String)> {
    net.env()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_oauth2_keeps_rotated_tokens_out_of_the_queue_and_out_of_every_output() {
    let net = XOAuth2::start().await;
    let ws = workspace(&net);
    let env = env_of(&net);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let daemon = ws.start(&env);
    ws.wait_state("sent", 1);
    // The whole log, to its last line (the stop's lines too).
    let (_, log) = daemon.stop();
    let log = log.join("\n");

    let state = net.shared.state();
    let current = state.refresh_token.clone().unwrap();
    let mut secrets: Vec<String> = state.issued_refresh.clone();
    secrets.extend(state.access_tokens.iter().cloned());
    drop(state);
    let stored = ws.path().join("data/credentials/x-oauth2.refresh_token");
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), current);

    let mut data = Vec::new();
    files(&ws.path().join("data"), &mut data);
    assert!(
        data.iter().any(|(p, _)| p.ends_with("crier.db")),
        "the queue is on disk"
    );
    for (path, bytes) in &data {
        assert_absent(path, &secrets, bytes);
    }
    assert_outputs_clean(&ws, &env, "x-oauth2", &secrets, &log);
}

/// A channel whose credentials are refused: held, and nothing printed
/// anywhere carries a secret.
async fn refused<N: Network>() {
    let net = N::start().await;
    net.inject(Fault::ExpiredCredentials);
    let ws = workspace(&net);
    let owned = env_of(&net);
    let env: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let daemon = ws.start(&env);
    ws.wait_state("held:credentials", 1);
    // the daemon's own line about it must be in the log checked below
    daemon.wait_log("credentials refused", 1);
    let (_, log) = daemon.stop();
    let log = log.join("\n");
    let queue = ws.queue();
    assert_eq!(queue[0]["state"], "held:credentials", "{queue:?}");
    let mut secrets: Vec<String> = owned.iter().map(|(_, v)| v.clone()).collect();
    // A webhook URL's secret is its path (the token), shown on its own too.
    for (_, v) in &owned {
        if let Some((_, rest)) = v.split_once("://") {
            if let Some(at) = rest.find('/') {
                if rest.len() - at >= 8 {
                    secrets.push(rest[at..].to_string());
                }
            }
        }
    }
    assert_outputs_clean(&ws, &env, net.name(), &secrets, &log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_oauth1_secrets_never_show() {
    refused::<X>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facebook_page_token_never_shows() {
    refused::<Facebook>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linkedin_token_never_shows() {
    refused::<LinkedIn>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_token_never_shows() {
    refused::<Mastodon>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluesky_app_password_never_shows() {
    refused::<Bluesky>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_webhook_url_never_shows() {
    refused::<Slack>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_webhook_url_never_shows() {
    refused::<Teams>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_webhook_url_never_shows() {
    refused::<Discord>().await;
}

/// A thread rate-limited after its first post: the daemon waits as X says,
/// then resumes with the second post — the first is never posted again —
/// and `crier queue show` lists every part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_rate_limited_half_way_resumes_in_the_daemon() {
    let net = X::start().await;
    net.shared.ledger.let_through();
    net.inject(Fault::RateLimited {
        retry_after_secs: 1,
    });
    let ws = Workspace::new(&net.channel_toml(), "");
    let body = "Every practitioner who visits a family with a baby should talk about safer \
                sleep. "
        .repeat(6);
    ws.write(
        "campaigns/items.toml",
        &format!(
            "[[item]]\nid = \"safer-sleep\"\nkind = \"notice\"\ntitle = \"Safer sleep week\"\n\
             body = \"{body}\"\nat = \"{}\"\nchannels = [\"{}\"]\n",
            in_secs(-1),
            net.name()
        ),
    );
    let owned = env_of(&net);
    let env: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let daemon = ws.start(&env);
    ws.wait_state("sent", 1);
    daemon.terminate();

    let queue = ws.queue();
    assert_eq!(queue[0]["state"], "sent", "{queue:?}");
    let id = queue[0]["id"].to_string();
    let shown = ws.crier(&["queue", "show", id.as_str(), "--format", "json"]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let parts = shown["variant"]["parts"].as_array().unwrap().len();
    assert!(parts >= 2, "the item is a thread: {shown}");
    let posts = net.posts();
    assert_eq!(posts.len(), parts, "each part posted once: {posts:?}");
    for pair in posts.windows(2) {
        assert_eq!(pair[1]["reply"]["in_reply_to_tweet_id"], pair[0]["id"]);
    }
    let recorded: Vec<&str> = shown["posted_parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["remote_id"].as_str().unwrap())
        .collect();
    let ids: Vec<&str> = posts.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(recorded, ids);
    assert_eq!(shown["attempts"], 2, "{shown}");
}
