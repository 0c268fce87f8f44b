//! End to end with the real `crier` binary: items due seconds ahead reach a
//! local webhook receiver exactly once and appear in the feeds at their
//! time; a crash mid-request never causes a second post; retries follow the
//! receiver's instructions; bad input never loses what is queued.

mod support;

use serde_json::json;
use support::daemon::{in_secs, Workspace};
use support::receiver::{Receiver, Reply};

fn http() -> reqwest::Client {
    crier::channels::http::client()
}

const SECRET: (&str, &str) = ("TEST_HOOK_SECRET", "hook-signing-secret-value");

fn channels(hook_url: &str) -> String {
    format!(
        "[channels.hook]\nkind = \"webhook\"\nurl = \"{hook_url}\"\nsigning_secret_env = \"TEST_HOOK_SECRET\"\ntimeout_seconds = 5\n\n\
         [channels.site]\nkind = \"feed\"\ntitle = \"News\"\npath = \"news\"\n"
    )
}

fn item(id: &str, at: &str, channels: &str) -> String {
    format!(
        "[[item]]\nid = \"{id}\"\nkind = \"notice\"\ntitle = \"Title of {id}\"\nbody = \"Body of {id}.\"\nat = \"{at}\"\nchannels = [{channels}]\n\n"
    )
}

fn states(ws: &Workspace) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = ws
        .queue()
        .iter()
        .map(|d| {
            (
                d["item"].as_str().unwrap().to_string(),
                d["channel"].as_str().unwrap().to_string(),
                d["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn due_items_arrive_exactly_once_and_enter_the_feed_at_their_time() {
    let rx = Receiver::start([]).await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "");
    let soon = in_secs(3);
    let mut content = String::new();
    for id in ["a", "b", "c"] {
        content += &item(id, &soon, "\"hook\", \"site\"");
    }
    content += &item("later", &in_secs(3600), "\"hook\", \"site\"");
    ws.write("campaigns/items.toml", &content);
    let daemon = ws.start(&[SECRET]);

    // Before their time, the feed has none of them.
    let before = http()
        .get(ws.url("/feeds/news.rss.xml"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!before.contains("Title of a"), "{before}");

    let seen = rx.wait_for(3).await;
    ws.wait_state("sent", 6);
    let mut ids: Vec<String> = seen
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "b", "c"]);
    let keys: std::collections::HashSet<_> = seen
        .iter()
        .map(|r| r.header("x-crier-delivery").unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 3, "three distinct deliveries");

    let feed = http()
        .get(ws.url("/feeds/news.rss.xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        feed.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    let etag = feed.headers()["etag"].to_str().unwrap().to_string();
    let body = feed.text().await.unwrap();
    for id in ["a", "b", "c"] {
        assert!(body.contains(&format!("Title of {id}")), "{body}");
    }
    assert!(
        !body.contains("Title of later"),
        "an item appears only at its time"
    );
    let again = http()
        .get(ws.url("/feeds/news.rss.xml"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let s = states(&ws);
    assert_eq!(
        s.iter().filter(|(_, _, st)| st == "sent").count(),
        6,
        "{s:?}"
    );
    assert!(
        s.contains(&("later".into(), "hook".into(), "planned".into())),
        "{s:?}"
    );
    assert_eq!(rx.requests().len(), 3, "nothing sent twice, nothing early");
    assert!(!daemon.log().contains(SECRET.1));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_request_then_restart_posts_each_delivery_once() {
    // The first request is received but never answered: the daemon dies
    // while it is in flight. One send at a time makes the moment exact.
    let rx = Receiver::start([Reply::hang()]).await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "concurrency = 1");
    let soon = in_secs(2);
    let content: String = ["p", "q", "r", "s"]
        .iter()
        .map(|id| item(id, &soon, "\"hook\""))
        .collect();
    ws.write("campaigns/items.toml", &content);

    let daemon = ws.start(&[SECRET]);
    let first = rx.wait_for(1).await;
    daemon.kill();
    let stuck = first[0].json()["id"].as_str().unwrap().to_string();

    let _daemon = ws.start(&[SECRET]);
    ws.wait_queue("3 sent and the one in flight held as uncertain", |rows| {
        let n = |s: &str| rows.iter().filter(|r| r["state"] == s).count();
        n("sent") == 3 && n("held:uncertain") == 1
    });
    let seen = rx.wait_for(4).await;
    let mut ids: Vec<String> = seen
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["p", "q", "r", "s"],
        "every delivery arrived exactly once"
    );
    let s = states(&ws);
    for (item, _, state) in &s {
        let expected = if *item == stuck {
            "held:uncertain"
        } else {
            "sent"
        };
        assert_eq!(state, expected, "{s:?}");
    }
    // The uncertain one is explained in the queue, for a human to decide.
    let out = ws.crier(&["queue", "--state", "held"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("may have been posted"), "{text}");
    assert_eq!(rx.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_then_server_error_is_retried_as_told_and_succeeds() {
    let rx = Receiver::start([
        Reply::status(429).header("Retry-After", "2"),
        Reply::status(500),
    ])
    .await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "");
    ws.write("campaigns/items.toml", &item("x", &in_secs(2), "\"hook\""));
    let _daemon = ws.start(&[SECRET]);
    let seen = rx.wait_for(3).await;
    ws.wait_item("x", "sent");
    let key = seen[0].header("x-crier-delivery").unwrap();
    assert!(
        seen.iter()
            .all(|r| r.header("x-crier-delivery") == Some(key)),
        "one delivery, one key"
    );
    let t: Vec<i64> = seen
        .iter()
        .map(|r| r.header("x-crier-timestamp").unwrap().parse().unwrap())
        .collect();
    assert!(t[1] - t[0] >= 2, "waited as Retry-After said: {t:?}");
    let q = ws.queue();
    assert_eq!(q[0]["state"], "sent");
    assert_eq!(q[0]["attempts"], 3);
    assert_eq!(rx.requests().len(), 3);
    // Sent: no error left to show (#9); the history keeps the old ones.
    assert_eq!(q[0]["last_error"], json!(null), "{q:?}");
    let id = q[0]["id"].to_string();
    let show = String::from_utf8_lossy(&ws.crier(&["queue", "show", &id]).stdout).to_string();
    assert!(!show.contains("\nerror:"), "{show}");
    let show: serde_json::Value =
        serde_json::from_slice(&ws.crier(&["queue", "show", &id, "--format", "json"]).stdout)
            .unwrap();
    let retried = show["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["to"] == "retrying")
        .count();
    assert_eq!(retried, 2, "{show}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_400_fails_at_once_with_the_reason_in_the_queue() {
    let rx = Receiver::start([Reply::json(
        400,
        json!({"error": "summary is required by our intranet"}),
    )])
    .await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "");
    ws.write(
        "campaigns/items.toml",
        &item("bad", &in_secs(2), "\"hook\""),
    );
    let _daemon = ws.start(&[SECRET]);
    rx.wait_for(1).await;
    ws.wait_item("bad", "failed");
    let out = ws.crier(&["queue"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("failed") && text.contains("summary is required by our intranet"),
        "{text}"
    );
    let q = ws.queue();
    assert_eq!(q[0]["attempts"], 1, "permanent errors are not retried");
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_content_edit_that_fails_check_is_refused_and_the_queue_is_unchanged() {
    let rx = Receiver::start([]).await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "");
    ws.write(
        "campaigns/items.toml",
        &item("keep", &in_secs(3600), "\"hook\", \"site\""),
    );
    let daemon = ws.start(&[SECRET]);
    let before = ws.queue();
    assert_eq!(before.len(), 2);

    // An edit that removes the item and adds a broken one.
    ws.write(
        "campaigns/items.toml",
        &item("broken", "not a date", "\"hook\""),
    );
    // A refused change leaves the store as it was, so only the log says the
    // change was read and refused (the line is written after the decision).
    let refused = daemon.wait_log("content change refused", 1);
    assert!(
        refused[0].contains("not a date"),
        "the reason is logged: {}",
        refused[0]
    );
    // A plain value, not a Rust debug list (#9).
    let line: serde_json::Value = serde_json::from_str(&refused[0]).unwrap();
    let problems = line["fields"]["problems"].as_str().unwrap();
    assert!(
        !problems.starts_with('[') && !problems.contains("\\\""),
        "{problems}"
    );
    assert_eq!(ws.queue(), before, "the last good state is kept");

    // A good edit is taken: the time moves, the delivery is the same one.
    ws.write(
        "campaigns/items.toml",
        &item("keep", &in_secs(7200), "\"hook\", \"site\""),
    );
    let after = ws.wait_queue("the delivery moved to its new time", |rows| {
        rows.len() == 2 && rows[0]["due_at"] != before[0]["due_at"]
    });
    assert_eq!(after.len(), 2);
    assert_eq!(after[0]["id"], before[0]["id"]);
    assert_ne!(after[0]["due_at"], before[0]["due_at"]);

    // Removing the item cancels its deliveries, with the reason logged.
    ws.write("campaigns/items.toml", "");
    ws.wait_queue("every delivery cancelled", |rows| {
        rows.iter().all(|d| d["state"] == "cancelled")
    });
    let id = after[0]["id"].to_string();
    let out = ws.crier(&["queue", "show", &id]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_holds_everything_and_resume_sends_overdue_on_request() {
    let rx = Receiver::start([]).await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "");
    ws.write(
        "campaigns/items.toml",
        &item("calm", &in_secs(2), "\"hook\""),
    );
    let out = ws.crier(&["pause"]);
    assert!(out.status.success());
    let _daemon = ws.start(&[SECRET]);
    ws.wait_item("calm", "held:paused");
    assert!(rx.requests().is_empty(), "nothing goes out while paused");
    let health: serde_json::Value = http()
        .get(ws.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "attention");

    let out = ws.crier(&["resume", "--all", "send-now"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rx.wait_for(1).await;
    ws.wait_item("calm", "sent");
}

#[test]
fn corrupt_database_and_taken_port_give_clear_errors() {
    let ws = Workspace::new(&channels("https://partners.example.org/hook"), "");
    ws.write("campaigns/items.toml", "");
    ws.write(
        "data/crier.db",
        "this is not a database, it is a shopping list\n",
    );
    let out = ws.crier(&["queue"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("damaged") && !err.contains("panicked"),
        "{err}"
    );

    std::fs::remove_file(ws.path().join("data/crier.db")).unwrap();
    let _taken = std::net::TcpListener::bind(("127.0.0.1", ws.port)).unwrap();
    let out = ws.crier(&["serve"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("cannot listen on") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn unusable_data_dir_gives_a_clear_error() {
    let ws = Workspace::new(&channels("https://partners.example.org/hook"), "");
    ws.write("campaigns/items.toml", "");
    // A file where the data folder should be: not creatable, even for root.
    ws.write("blocked", "");
    let config = std::fs::read_to_string(ws.config())
        .unwrap()
        .replace("data_dir = \"data\"", "data_dir = \"blocked/data\"");
    ws.write("channels.toml", &config);
    let out = ws.crier(&["serve"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("data folder") && !err.contains("panicked"),
        "{err}"
    );
}

/// Two feeds with one path fail `check`, and the start is refused on that,
/// naming both: before routes are mounted, where the two feeds' identical
/// paths would be a panic.
#[test]
fn two_feeds_with_one_path_refuse_the_start_clearly() {
    let twice = channels("https://partners.example.org/hook")
        + "\n[channels.site-again]\nkind = \"feed\"\ntitle = \"Again\"\npath = \"news\"\n";
    let ws = Workspace::new(&twice, "");
    ws.write("campaigns/items.toml", "");
    let out = ws.crier(&["serve"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("fails `crier check`")
            && err.contains("channels.site-again: `path = \"news\"` is also channels.site's")
            && !err.contains("panicked"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_cleanly() {
    let ws = Workspace::new(&channels("https://partners.example.org/hook"), "");
    ws.write("campaigns/items.toml", "");
    let daemon = ws.start(&[SECRET]);
    let metrics = http()
        .get(ws.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("crier_dispatch_lateness_seconds_count"),
        "{metrics}"
    );
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn after_downtime_recent_deliveries_go_late_and_older_ones_wait_for_a_human() {
    let rx = Receiver::start([]).await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "grace_minutes = 60");
    let content = item("recent", &in_secs(-10 * 60), "\"hook\"")
        + &item("stale", &in_secs(-3 * 3600), "\"hook\"");
    ws.write("campaigns/items.toml", &content);
    let _daemon = ws.start(&[SECRET]);
    ws.wait_item("recent", "sent");
    ws.wait_item("stale", "held:missed");
    let seen = rx.wait_for(1).await;
    assert_eq!(seen[0].json()["id"], "recent");
    let s = states(&ws);
    assert_eq!(
        s,
        [
            ("recent".to_string(), "hook".to_string(), "sent".to_string()),
            (
                "stale".to_string(),
                "hook".to_string(),
                "held:missed".to_string()
            )
        ]
    );
    assert_eq!(
        rx.requests().len(),
        1,
        "the stale one is neither dropped nor sent late"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_item_needing_approval_is_held_until_approved() {
    let rx = Receiver::start([]).await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "");
    let content = item("sensitive", &in_secs(2), "\"hook\"")
        .replace("channels =", "require_approval = true\nchannels =");
    ws.write("campaigns/items.toml", &content);
    let _daemon = ws.start(&[SECRET]);
    ws.wait_item("sensitive", "held:approval");
    assert!(rx.requests().is_empty(), "never sent without approval");
    let out = ws.crier(&["approve", "--item", "sensitive"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rx.wait_for(1).await;
    ws.wait_item("sensitive", "sent");
    let id = ws.queue()[0]["id"].to_string();
    let history = String::from_utf8_lossy(&ws.crier(&["queue", "show", &id]).stdout).to_string();
    assert!(
        history.contains("by cli") && history.contains("approved"),
        "{history}"
    );
}

/// #9: `crier serve` from the workspace folder, with no `--config` or a
/// relative one (the README's own command), picks up a new item: the
/// watcher compared the absolute paths it is told with relative ones.
#[test]
fn a_new_item_is_picked_up_when_started_with_a_relative_config() {
    for args in [&[][..], &["--config", "channels.toml"][..]] {
        let ws = Workspace::new(&channels("https://partners.example.org/hook"), "");
        ws.write(
            "campaigns/items.toml",
            &item("first", &in_secs(3600), "\"site\""),
        );
        let _daemon = ws.start_here(args, &[SECRET]);
        assert_eq!(ws.queue().len(), 1);
        ws.write(
            "campaigns/more.toml",
            &item("added", &in_secs(3600), "\"site\""),
        );
        ws.wait_queue(&format!("the new item (serve {args:?})"), |q| {
            q.iter().any(|d| d["item"] == "added")
        });
    }
}

/// #9: recovery at start takes every lease a dead process left, but every
/// time it records is the clock's (it recorded the year 262142).
#[tokio::test(flavor = "multi_thread")]
async fn recovery_after_a_crash_records_real_times() {
    // One send at a time: the first request hangs while the second
    // delivery is leased ahead, never requested.
    let rx = Receiver::start([Reply::hang()]).await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "concurrency = 1");
    let soon = in_secs(2);
    let content: String = ["p", "q"]
        .iter()
        .map(|id| item(id, &soon, "\"hook\""))
        .collect();
    ws.write("campaigns/items.toml", &content);
    let started = chrono::Utc::now();
    let daemon = ws.start_here(&[], &[SECRET]);
    rx.wait_for(1).await;
    daemon.kill();

    let _daemon = ws.start_here(&[], &[SECRET]);
    let q = ws.wait_queue("one delivery uncertain, the other sent", |q| {
        let states: Vec<_> = q.iter().map(|d| d["state"].as_str().unwrap()).collect();
        states.contains(&"held:uncertain") && states.contains(&"sent")
    });
    let now = chrono::Utc::now();
    let real = |at: &serde_json::Value, what: &str| {
        let text = at.as_str().unwrap();
        let t = chrono::DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("{what} is {text} ({e}), not a time of this test"));
        assert!(
            t >= started - chrono::TimeDelta::minutes(1) && t <= now,
            "{what} is {t}, not a time of this test"
        );
    };
    for d in &q {
        let id = d["id"].to_string();
        let out = ws.crier(&["queue", "show", &id, "--format", "json"]);
        let show: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for t in show["history"].as_array().unwrap() {
            real(&t["at"], &format!("delivery {id}: {}", t["reason"]));
        }
        if !show["sent_at"].is_null() {
            real(&show["sent_at"], &format!("delivery {id}: sent_at"));
        }
    }
}

/// #9: `crier resume` cannot ask about overdue deliveries without a
/// terminal: it refuses, names `--all`, and changes nothing.
#[test]
fn resume_without_a_terminal_refuses_and_keeps_the_pause() {
    let ws = Workspace::new(&channels("https://partners.example.org/hook"), "");
    ws.write("campaigns/items.toml", "");
    assert!(ws.crier(&["pause"]).status.success());
    // `output()` gives the command no stdin (null): not a terminal.
    let out = ws.crier(&["resume"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--all"), "{err}");
    let queue = String::from_utf8_lossy(&ws.crier(&["queue"]).stdout).to_string();
    assert!(queue.contains("PAUSED: everything is paused"), "{queue}");
}

/// #9: with `--log-format json` every field is a plain value or absent,
/// never Rust debug text such as `Some("…")` or `None`.
#[tokio::test(flavor = "multi_thread")]
async fn json_logs_hold_plain_values() {
    let rx = Receiver::start([]).await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "");
    ws.write(
        "campaigns/items.toml",
        &item("logged", &in_secs(2), "\"hook\", \"site\""),
    );
    let daemon = ws.start_here(&[], &[SECRET]);
    ws.wait_queue("both deliveries sent", |q| {
        q.len() == 2 && q.iter().all(|d| d["state"] == "sent")
    });
    let (status, lines) = daemon.stop();
    assert!(status.success());
    let log: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        log.iter().any(|l| l["fields"]["message"] == "sent"),
        "{log:?}"
    );
    for line in &log {
        for (key, value) in line["fields"].as_object().unwrap() {
            if let Some(text) = value.as_str() {
                assert!(
                    !text.starts_with("Some(") && text != "None",
                    "{key} = {text:?} in {line}"
                );
            }
        }
    }
}

/// #9: a delivery held because publishing was paused, moved an hour later
/// by a content edit, is planned again for its new time: resuming with
/// `--all send-now` does not send it early.
#[tokio::test(flavor = "multi_thread")]
async fn a_paused_delivery_moved_later_is_not_sent_early_on_resume() {
    let rx = Receiver::start([]).await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "");
    ws.write(
        "campaigns/items.toml",
        &item("moved", &in_secs(2), "\"hook\""),
    );
    assert!(ws.crier(&["pause"]).status.success());
    let _daemon = ws.start_here(&[], &[SECRET]);
    ws.wait_queue("the delivery held as paused", |q| {
        q.len() == 1 && q[0]["state"] == "held:paused"
    });
    let later = in_secs(3600);
    ws.write("campaigns/items.toml", &item("moved", &later, "\"hook\""));
    let q = ws.wait_queue("the delivery planned for its new time", |q| {
        q.len() == 1 && q[0]["state"] == "planned"
    });
    assert_eq!(q[0]["due_at"], later.as_str(), "{q:?}");
    let out = ws.crier(&["resume", "--all", "send-now"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q = ws.queue();
    assert_eq!(
        (q[0]["state"].as_str(), q[0]["due_at"].as_str()),
        (Some("planned"), Some(later.as_str())),
        "{q:?}"
    );
    let id = q[0]["id"].to_string();
    let show = String::from_utf8_lossy(&ws.crier(&["queue", "show", &id]).stdout).to_string();
    assert!(show.contains("later"), "the history says why: {show}");
    assert!(rx.requests().is_empty(), "nothing was sent");
}

/// Once /healthz answers, SIGTERM (and SIGHUP) have their handlers: a
/// signal that arrives right then stops gracefully. The handlers used to be
/// registered only when first awaited, after the first-run setup link was
/// made, so a SIGTERM in between killed the process (exit 143).
#[test]
fn a_sigterm_as_soon_as_the_daemon_answers_stops_it_gracefully() {
    for _ in 0..10 {
        let ws = Workspace::new("[channels.log]\nkind = \"discard\"\n", "");
        ws.write("campaigns/a.toml", &item("a", &in_secs(3600), "\"log\""));
        let daemon = ws.start(&[]);
        let status = daemon.terminate();
        assert!(status.success(), "{status:?}");
    }
}
