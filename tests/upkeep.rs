//! The store looking after itself: `crier backup FILE` while the daemon
//! runs, and the restore the deploy guide gives (the restored store holds
//! the queue as it was); `[daemon] keep_history_months` forgetting the
//! history of what was settled long ago.

mod support;

use support::daemon::{in_secs, Workspace};

fn items(n: usize, at: &str) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[[item]]\nid = \"n{i}\"\nkind = \"notice\"\ntitle = \"Notice {i}\"\n\
                 body = \"Body {i}.\"\nat = \"{at}\"\nchannels = [\"log\"]\n\n"
            )
        })
        .collect()
}

fn rows(ws: &Workspace) -> Vec<(String, String)> {
    let mut v: Vec<_> = ws
        .queue()
        .iter()
        .map(|d| {
            (
                d["item"].as_str().unwrap().into(),
                d["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_backup_taken_while_the_daemon_runs_restores_the_queue() {
    let ws = Workspace::new("[channels.log]\nkind = \"discard\"\n", "");
    ws.write("campaigns/now.toml", &items(3, &in_secs(1)));
    let later = items(5, &in_secs(3600)).replace("id = \"n", "id = \"later-n");
    ws.write("campaigns/later.toml", "");
    let daemon = ws.start(&[]);
    ws.wait_state("sent", 3);
    ws.write("campaigns/later.toml", &later);
    ws.wait_queue("3 sent, 5 planned", |rows| {
        let n = |s: &str| rows.iter().filter(|r| r["state"] == s).count();
        n("sent") == 3 && n("planned") == 5
    });
    let copy = ws.path().join("backup.db");
    let out = ws.crier(&["backup", copy.to_str().unwrap()]);
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.contains("backup.db"), "{said}");
    let again = ws.crier(&["backup", copy.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    let before = rows(&ws);
    assert_eq!(before.len(), 8, "{before:?}");
    drop(daemon);

    // The restore (docs/deploy.md): the copy in place of the store, then start.
    let restored = Workspace::new("[channels.log]\nkind = \"discard\"\n", "");
    for f in ["now.toml", "later.toml"] {
        let text = std::fs::read_to_string(ws.path().join("campaigns").join(f)).unwrap();
        restored.write(&format!("campaigns/{f}"), &text);
    }
    std::fs::create_dir_all(restored.path().join("data")).unwrap();
    std::fs::copy(&copy, restored.path().join("data/crier.db")).unwrap();
    assert_eq!(rows(&restored), before);
}

/// A delivery sent three months ago, written by the store's own API with
/// that day's clock, then a daemon keeping one month of history.
#[test]
fn the_daemon_forgets_history_older_than_it_keeps() {
    use chrono::{Duration, Utc};
    use crier::delivery::{Planned, Receipt};
    use crier::store::Store;
    use crier::variant::Variant;

    let ws = Workspace::new(
        "[channels.log]\nkind = \"discard\"\n",
        "keep_history_months = 1",
    );
    let then = Utc::now() - Duration::days(92);
    let id = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = crier::store::sqlite::SqliteStore::open(&ws.path().join("data/crier.db"))
            .await
            .unwrap();
        let old = Planned {
            item: "old".into(),
            channel: "log".into(),
            occasion: "at".into(),
            due_at: then,
            variant: Some(Variant::document("old", "log", "notice", "Old news".into()).into()),
            fingerprint: "f".into(),
            requires_approval: false,
        };
        store.sync_plan(&[old], then).await.unwrap();
        let leased = store
            .lease_due(then, 1, std::time::Duration::from_secs(60))
            .await
            .unwrap();
        let id = leased[0].id;
        store.mark_request_started(id, then).await.unwrap();
        store
            .record_sent(id, &Receipt::default(), then, "posted")
            .await
            .unwrap();
        store.close().await;
        id
    });
    let history = |ws: &Workspace| -> Vec<serde_json::Value> {
        let out = ws.crier(&["queue", "show", &id.to_string(), "--format", "json"]);
        let row: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        row["history"].as_array().unwrap().clone()
    };
    assert_eq!(history(&ws).len(), 4, "planned, leased, started, sent");
    std::fs::create_dir_all(ws.path().join("campaigns")).unwrap();
    let _daemon = ws.start(&[]);
    ws.wait_queue("the old delivery's history forgotten", |rows| {
        rows.len() == 1 && history(&ws).is_empty()
    });
    let row = &ws.queue()[0];
    assert_eq!(row["state"], "sent", "the delivery itself stays");
}

/// `crier store copy --to URL` (README): a queue on SQLite, copied into a
/// new PostgreSQL database, is the same queue there, with its history; a
/// second copy into it is refused; and a daemon on PostgreSQL carries on
/// with it, sending nothing again.
#[test]
fn a_sqlite_queue_copied_to_postgres_carries_on_there() {
    let Some(schema) = support::postgres::Schema::new() else {
        return;
    };
    let ws = Workspace::new("[channels.log]\nkind = \"discard\"\n", "");
    ws.write("campaigns/now.toml", &items(3, &in_secs(1)));
    let later = items(5, &in_secs(3600)).replace("id = \"n", "id = \"later-n");
    ws.write("campaigns/later.toml", &later);
    let daemon = ws.start(&[]);
    ws.wait_queue("3 sent, 5 planned", |rows| {
        let n = |s: &str| rows.iter().filter(|r| r["state"] == s).count();
        n("sent") == 3 && n("planned") == 5
    });
    daemon.terminate();
    let before = rows(&ws);
    let history = |ws: &Workspace| {
        let out = ws.crier(&["queue", "show", "1", "--format", "json"]);
        let row: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        row["history"].as_array().unwrap().len()
    };
    let sqlite_history = history(&ws);

    let out = ws.crier(&["store", "copy", "--to", &schema.url()]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.lines()
            .any(|l| l.starts_with("deliveries") && l.contains(" 8 ")),
        "{said}"
    );
    let again = ws.crier(&["store", "copy", "--to", &schema.url()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds crier data"));

    // Pointed at PostgreSQL: the same queue and history, and a daemon that
    // carries on with it.
    let config = std::fs::read_to_string(ws.config()).unwrap();
    ws.write(
        "channels.toml",
        &format!("{config}\n[store]\nurl = \"{}\"\n", schema.url()),
    );
    assert_eq!(rows(&ws), before);
    assert_eq!(history(&ws), sqlite_history);
    let _daemon = ws.start(&[]);
    assert_eq!(rows(&ws), before, "nothing sent again, nothing lost");
}
