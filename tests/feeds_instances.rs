//! Feeds on a shared PostgreSQL store: whichever instance publishes an
//! entry, every instance's `/feeds/` serves it, from the database, with no
//! shared folder (each instance here has a data folder of its own). The
//! documents are read back by the real parsers (`scripts/check_feeds.py`,
//! through `CRIER_PYTHON`).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::daemon::{in_secs, Workspace};
use support::postgres::Schema;

const FILES: [&str; 4] = ["news.rss.xml", "news.atom.xml", "news.json", "news.ics"];

fn config(schema: &Schema) -> String {
    format!(
        "[store]\nurl = \"{}\"\n\n\
         [channels.site]\nkind = \"feed\"\ntitle = \"News\"\npath = \"news\"\n\
         formats = [\"rss\", \"atom\", \"json\", \"ical\"]\n",
        schema.url()
    )
}

fn items() -> String {
    let mut out = String::new();
    for (id, secs) in [("first", 2), ("second", 3)] {
        out += &format!(
            "[[item]]\nid = \"{id}\"\nkind = \"notice\"\ntitle = \"Title of {id}\"\n\
             body = \"Body of {id} & more.\"\nat = \"{}\"\nchannels = [\"site\"]\n\n",
            in_secs(secs)
        );
    }
    out
}

/// `GET path` on the daemon at `port`: status and body.
async fn get(port: u16, path: &str) -> (u16, String) {
    let url = format!("http://127.0.0.1:{port}{path}");
    let answer = crier::channels::http::client()
        .get(url)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// Polls `/feeds/FILE` on `port` until it carries `needle`, or fails.
async fn wait_for_entry(port: u16, file: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(port, &format!("/feeds/{file}")).await;
        if status == 200 && body.contains(needle) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "port {port}'s /feeds/{file} never carried {needle:?} (status {status}):\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the parsers read of `documents` (name → body), entries only: the
/// feed's own links name the instance's public URL.
fn parsed_entries(dir: &Path, documents: &[(&str, String)]) -> Vec<(String, Value)> {
    let files: Vec<PathBuf> = documents
        .iter()
        .map(|(name, body)| {
            let path = dir.join(name);
            std::fs::write(&path, body).unwrap();
            path
        })
        .collect();
    let python = std::env::var("CRIER_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_feeds.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args(&files)
        .output()
        .expect("python runs (scripts/test.sh sets CRIER_PYTHON)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    files
        .iter()
        .zip(documents)
        .map(|(path, (name, _))| {
            let s = &summary[path.to_str().unwrap()];
            let list = if name.ends_with(".ics") {
                "events"
            } else {
                "entries"
            };
            (name.to_string(), s[list].clone())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_instance_serves_the_same_feed_from_the_database() {
    let Some(schema) = Schema::new() else { return };
    let ws = Workspace::new(&config(&schema), "");
    ws.write("campaigns/items.toml", "");
    let _a = ws.start(&[]);
    let b = ws.instance("b");
    let _b = ws.start_instance(&b, &[]);

    ws.write("campaigns/items.toml", &items());
    let deadline = Instant::now() + Duration::from_secs(60);
    while schema
        .query("SELECT state FROM deliveries WHERE state = 'sent'")
        .len()
        < 2
    {
        assert!(Instant::now() < deadline, "the two items were never sent");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut served = Vec::new();
    for port in [ws.port, b.port] {
        let mut documents = Vec::new();
        for file in FILES {
            // Notices are no events: the calendar stays empty.
            let needle = match file {
                "news.ics" => "BEGIN:VCALENDAR",
                _ => "Title of second",
            };
            documents.push((file, wait_for_entry(port, file, needle).await));
        }
        let dir = tempfile::tempdir().unwrap();
        served.push(parsed_entries(dir.path(), &documents));
    }
    let rss = &served[0][0].1;
    let titles: Vec<&str> = rss
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Title of second", "Title of first"]);
    assert_eq!(
        served[0], served[1],
        "the two instances serve different feeds"
    );
}

/// Neither instance needs its files: with the publish folders emptied,
/// both still serve every entry.
#[tokio::test(flavor = "multi_thread")]
async fn feeds_are_served_without_their_files() {
    let Some(schema) = Schema::new() else { return };
    let ws = Workspace::new(&config(&schema), "");
    ws.write("campaigns/items.toml", &items());
    let _a = ws.start(&[]);
    let b = ws.instance("b");
    let _b = ws.start_instance(&b, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while schema
        .query("SELECT state FROM deliveries WHERE state = 'sent'")
        .len()
        < 2
    {
        assert!(Instant::now() < deadline, "the two items were never sent");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for data in ["data", "data-b"] {
        let feeds = ws.path().join(data).join("public/feeds");
        if feeds.exists() {
            std::fs::remove_dir_all(&feeds).unwrap();
        }
    }
    for port in [ws.port, b.port] {
        let body = wait_for_entry(port, "news.atom.xml", "Title of first").await;
        assert!(body.contains("Title of second"), "{body}");
    }
}
