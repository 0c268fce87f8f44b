//! Digests with an injected clock: the real planner, store and email
//! publisher, a real SMTP server (aiosmtpd) on loopback, and a manual
//! clock walked through two weeks across the October clock change
//! (Europe/London, Sunday 25 October 2026). Each person gets what they
//! chose: every item, one daily digest a day, or one weekly digest a
//! week, on Monday at 07:00 on the wall whatever the offset.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use crier::channels::stopping::Stopping;
use crier::channels::{Job, Services};
use crier::delivery::State;
use crier::diagnostics::Report;
use crier::store::lists::{Lists, NewSubscriber};
use crier::store::sqlite::SqliteStore;
use crier::store::{QueueFilter, Store};
use crier::workspace::Workspace;
use crier_schedule::{Clock, ManualClock};
use support::daemon::Workspace as Ws;
use support::smtp::{header, Sink};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn config(root: &Path, port: u16) -> String {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    format!(
        r#"
[organisation]
name = "Test Partnership"
website = "https://www.example.org"
timezone = "Europe/London"

[daemon]
public_url = "http://127.0.0.1:8080"
data_dir = "{data}"

[content]
campaigns = "campaigns"
templates = "{templates}"

[channels.news]
kind = "email"
from = "Test Partnership <news@example.org>"
list_id = "news.example.org"
smtp_host = "127.0.0.1"
smtp_port = {port}
tls = "none"
concurrency = 2
timeout_seconds = 5

[channels.news.digests]
daily = "07:00"
weekly = "Mon 07:00"

[[channels.news.topics]]
id = "news"
name = "News updates"

[[channels.news.topics]]
id = "training"
name = "Training"
"#,
        data = root.join("data").display(),
        templates = templates.display(),
    )
}

/// One notice a day at noon UTC, Monday 19 October to Sunday 1 November,
/// and two at the edges of the first week: 07:30 BST on its first Monday
/// (06:30 UTC, before 07:00 UTC) and 06:30 GMT on the Monday it ends.
fn campaign() -> String {
    let mut out = String::new();
    let days = (0..14).map(|day| {
        (
            day.to_string(),
            at("2026-10-19T12:00:00Z") + TimeDelta::days(day),
        )
    });
    let edges = [
        ("early".to_string(), at("2026-10-19T06:30:00Z")),
        ("late".to_string(), at("2026-10-26T06:30:00Z")),
    ];
    for (day, t) in days.chain(edges) {
        out += &format!(
            "[[item]]\nid = \"day-{day}\"\nkind = \"notice\"\ntitle = \"Notice {day}\"\n\
             summary = \"Summary {day}.\"\nlink = \"https://www.example.org/{day}\"\n\
             body = \"Body {day}.\"\nat = \"{}\"\nchannels = [\"news\"]\ntopics = [\"news\"]\n\n",
            t.to_rfc3339()
        );
    }
    out
}

async fn subscribe(store: &SqliteStore, who: &str, cadence: &str) {
    let new = NewSubscriber {
        channel: "news".into(),
        email: format!("{who}@example.org"),
        name: None,
        organisation: None,
        topics: vec!["news".into(), "training".into()],
        method: "import".into(),
        wording: "w".into(),
        client_addr: None,
        confirmed_at: Some(at("2026-10-01T00:00:00Z")),
        override_suppression: false,
    };
    let added = store.add_subscriber(&new, at("2026-10-01T00:00:00Z")).await;
    let sub = store.subscriber("news", &new.email).await.unwrap().unwrap();
    assert!(added.is_ok());
    store
        .set_cadences(
            &[(sub.id, "news".into(), cadence.into())],
            at("2026-10-01T00:00:00Z"),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_week_of_items_makes_one_weekly_digest_per_subscriber_on_monday_across_the_change() {
    let sink = Sink::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("campaigns")).unwrap();
    std::fs::write(root.join("channels.toml"), config(root, sink.port)).unwrap();
    std::fs::write(root.join("campaigns/items.toml"), campaign()).unwrap();
    let mut report = Report::default();
    let ws = Workspace::load(&root.join("channels.toml"), &mut report).unwrap();
    let plan = crier::plan::plan(&ws, &mut report);
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);

    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2026-10-19T00:00:00Z")));
    store.sync_plan(&plan, clock.now()).await.unwrap();
    for (who, cadence) in [("ann", "item"), ("bob", "weekly"), ("cat", "daily")] {
        subscribe(&store, who, cadence).await;
    }
    let services = Services {
        store: store.clone(),
        clock: clock.clone(),
        credentials: crier::credentials::Credentials::new(&root.join("data")),
        ..Services::new(&ws.config, store.clone(), Stopping::never())
    };

    // Every due delivery, in due order, as the dispatcher would send it.
    let mut dues: Vec<DateTime<Utc>> = plan.iter().map(|p| p.due_at).collect();
    dues.sort();
    dues.dedup();
    for due in dues {
        clock.set(due);
        for d in store
            .lease_due(due, 100, Duration::from_secs(300))
            .await
            .unwrap()
        {
            let channel = ws.channel(&d.channel).unwrap();
            let job = Job {
                delivery: &d,
                variant: &d.variant,
            };
            let receipt = channel.publisher().publish(&job, &services).await;
            let receipt = receipt.unwrap_or_else(|e| panic!("{}: {e}", d.item));
            store
                .record_sent(d.id, &receipt, due, "published")
                .await
                .unwrap();
        }
    }

    let queue = store.list(&QueueFilter::default()).await.unwrap();
    assert!(queue.iter().all(|d| d.state == State::Sent), "{queue:?}");
    let weekly: Vec<_> = queue.iter().filter(|d| d.occasion == "weekly").collect();
    // Weeks from Monday 07:00 local: BST (06:00 UTC) before the change,
    // GMT (07:00 UTC) after. The digests go when their week ends.
    let weeks: Vec<(&str, DateTime<Utc>)> =
        weekly.iter().map(|d| (d.item.as_str(), d.due_at)).collect();
    assert_eq!(
        weeks,
        [
            ("digest/news/2026-10-19T07:00", at("2026-10-26T07:00:00Z")),
            ("digest/news/2026-10-26T07:00", at("2026-11-02T07:00:00Z")),
        ]
    );
    let daily = queue.iter().filter(|d| d.occasion == "daily").count();
    assert_eq!(daily, 14, "one a day with an item");
    assert!(
        queue.iter().all(|d| !d.item.starts_with("digest/training")),
        "no digest without items"
    );

    let messages = sink.messages();
    let to = |who: &str| -> Vec<&serde_json::Value> {
        messages
            .iter()
            .filter(|m| m["rcpt"][0] == format!("{who}@example.org"))
            .collect()
    };
    let ann = to("ann");
    assert_eq!(ann.len(), 16, "every item, no digest");
    assert!(ann
        .iter()
        .all(|m| header(m, "Subject").unwrap().starts_with("Notice")));
    let mut bob = to("bob");
    assert_eq!(bob.len(), 2, "one weekly digest a week, no item email");
    // The sink keeps no order: the week is the one the subject ends on.
    bob.sort_by_key(|m| !header(m, "Subject").unwrap().contains("26 October"));
    for (week, m) in bob.iter().enumerate() {
        let text = m["parts"][0]["text"].as_str().unwrap();
        let days = (0..14).map(|day| (day.to_string(), day / 7));
        for (day, in_week) in days.chain([("early".into(), 0), ("late".into(), 0)]) {
            let title = format!("Notice {day}");
            let listed = text.lines().any(|l| l.trim_end() == title);
            assert_eq!(listed, in_week == week, "week {week}, {title}:\n{text}");
        }
        assert!(text.contains("https://www.example.org/"), "{text}");
    }
    assert!(header(bob[0], "Subject")
        .unwrap()
        .contains("Monday 26 October 2026"));
    let cat = to("cat");
    assert_eq!(cat.len(), 14, "one daily digest a day");
    assert!(cat
        .iter()
        .all(|m| header(m, "Subject").unwrap().starts_with("News updates")));
    // A week later nothing more is due: each period went once.
    let later = clock.now() + TimeDelta::days(7);
    assert!(store
        .lease_due(later, 100, Duration::from_secs(300))
        .await
        .unwrap()
        .is_empty());
}

/// The real daemon, a daily digest due an hour ago over an item sent two
/// hours ago, 2,000 people taking it; killed (SIGKILL) mid-send and
/// started again.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_mid_digest_skips_no_one_and_repeats_at_most_the_messages_in_flight() {
    const N: usize = 2000;
    let sink = Sink::start(&[]);
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let hour_ago = (Utc::now() - TimeDelta::hours(1)).with_timezone(&tz);
    let channel = format!(
        "[channels.news]\nkind = \"email\"\nfrom = \"Test Partnership <news@example.org>\"\n\
         list_id = \"news.example.org\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"none\"\n\
         concurrency = 4\ntimeout_seconds = 5\n\n[channels.news.digests]\ndaily = \"{}\"\n\n\
         [[channels.news.topics]]\nid = \"news\"\nname = \"News updates\"\n",
        sink.port,
        hour_ago.format("%H:%M")
    );
    let ws = Ws::new(&channel, "grace_minutes = 600");
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    for name in ["default", "digest"] {
        for suffix in ["subject", "txt", "html"] {
            let file = format!("email/{name}.{suffix}.hbs");
            ws.write(
                &format!("templates/{file}"),
                &std::fs::read_to_string(templates.join(&file)).unwrap(),
            );
        }
    }
    for partial in ["footer_text", "footer_html"] {
        let file = format!("partials/{partial}.hbs");
        ws.write(
            &format!("templates/{file}"),
            &std::fs::read_to_string(templates.join(&file)).unwrap(),
        );
    }
    let two_hours_ago = (Utc::now() - TimeDelta::hours(2)).to_rfc3339();
    ws.write(
        "campaigns/a.toml",
        &format!(
            "[[item]]\nid = \"big\"\nkind = \"notice\"\ntitle = \"Big news\"\nbody = \"Body.\"\n\
             at = \"{two_hours_ago}\"\nchannels = [\"news\"]\ntopics = [\"news\"]\n"
        ),
    );
    let mut csv = String::from("email,consent_at\n");
    for i in 0..N {
        csv += &format!("person{i}@example.org,2026-01-01T09:00:00Z\n");
    }
    ws.write("people.csv", &csv);
    let people = ws.path().join("people.csv").display().to_string();
    let out = ws.crier(&[
        "subscribers",
        "import",
        &people,
        "--topics",
        "news",
        "--digest",
        "daily",
    ]);
    assert!(out.status.success(), "{out:?}");

    let daemon = ws.start(&[]);
    sink.wait_for(400, LONG);
    daemon.kill();
    let at_crash = sink.accepted();
    assert!(at_crash < N as u64, "the send finished before the crash");

    let daemon = ws.start(&[]);
    let digest = wait_digest_sent(&ws, &sink);
    let messages = sink.messages();
    let mut per: std::collections::HashMap<String, usize> = Default::default();
    for m in &messages {
        assert!(
            header(m, "Subject").unwrap().starts_with("News updates"),
            "only the digest goes: {m}"
        );
        *per.entry(m["rcpt"][0].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per.len(), N, "every subscriber at least once");
    let duplicates = messages.len() - N;
    assert!(
        duplicates <= 4,
        "{duplicates} duplicates, more than the concurrency"
    );
    let show = ws.crier(&["queue", "show", &digest.to_string()]);
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.contains(&format!("recipients: {N} sent")), "{show}");
    drop(daemon);
}

const LONG: Duration = Duration::from_secs(60);

/// Waits, for as long as messages keep being accepted, until the digest
/// shows as sent in `crier queue`; its delivery id.
fn wait_digest_sent(ws: &Ws, sink: &Sink) -> i64 {
    let (mut seen, mut progress) = (sink.accepted(), std::time::Instant::now());
    loop {
        let rows = ws.queue();
        let digest = rows.iter().find(|r| r["occasion"] == "daily");
        if let Some(d) = digest.filter(|d| d["state"] == "sent") {
            return d["id"].as_i64().unwrap();
        }
        if sink.accepted() > seen {
            (seen, progress) = (sink.accepted(), std::time::Instant::now());
        }
        assert!(
            progress.elapsed() < LONG,
            "digest not sent; queue: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
