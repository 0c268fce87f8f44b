//! Several `crier serve` processes sharing one PostgreSQL queue: they
//! split the work, and when one is killed mid-burst the others finish it,
//! every delivery reaching the receiver exactly once or held `uncertain`
//! (only what the killed process had in flight).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::daemon::{in_secs, Workspace};
use support::postgres::Schema;
use support::receiver::Receiver;

const SECRET: (&str, &str) = ("TEST_HOOK_SECRET", "hook-signing-secret-value");
const DELIVERIES: usize = 2000;
const CONCURRENCY: usize = 8;

fn config(schema: &Schema, hook_url: &str) -> String {
    format!(
        "[store]\nurl = \"{}\"\n\n\
         [channels.hook]\nkind = \"webhook\"\nurl = \"{hook_url}\"\n\
         signing_secret_env = \"TEST_HOOK_SECRET\"\ntimeout_seconds = 5\n",
        schema.url()
    )
}

fn items(n: usize) -> String {
    (0..n)
        .map(|i| {
            // Due across three seconds, a few seconds from now.
            let at = in_secs(6 + (i % 3) as i64);
            format!(
                "[[item]]\nid = \"n{i:04}\"\nkind = \"notice\"\ntitle = \"Notice {i}\"\n\
                 body = \"Body {i}.\"\nat = \"{at}\"\nchannels = [\"hook\"]\n\n"
            )
        })
        .collect()
}

/// Deliveries by state, read from the database itself.
fn states(schema: &Schema) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for s in schema.query(
        "SELECT CASE WHEN hold_reason IS NULL THEN state ELSE state || ':' || hold_reason END
         FROM deliveries",
    ) {
        *by.entry(s).or_default() += 1;
    }
    by
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_instances_one_killed_mid_burst_each_delivery_arrives_once_or_is_held() {
    let Some(schema) = Schema::new() else { return };
    let rx = Receiver::start([]).await;
    let ws = Workspace::new(
        &config(&schema, &rx.url("/hook")),
        &format!("concurrency = {CONCURRENCY}\nlease_seconds = 20"),
    );
    ws.write("campaigns/burst.toml", "");
    let _a = ws.start(&[SECRET]);
    let b = ws.start_instance(&ws.instance("b"), &[SECRET]);
    let _c = ws.start_instance(&ws.instance("c"), &[SECRET]);

    // The leader (a, the first) plans the burst when the file changes.
    ws.write("campaigns/burst.toml", &items(DELIVERIES));
    wait_until("the burst to be planned", Duration::from_secs(60), || {
        states(&schema).values().sum::<usize>() == DELIVERIES
    });
    wait_until("the burst to be under way", Duration::from_secs(60), || {
        rx.requests().len() >= DELIVERIES / 4
    });
    // Killed while it holds leases, so the others must take them over.
    let b_pid = b.pid();
    let held_by_b = || {
        schema.query(&format!(
            "SELECT id::text FROM deliveries
             WHERE state = 'in_flight' AND leased_from LIKE '%:{b_pid}:%'"
        ))
    };
    wait_until("b to hold leases", Duration::from_secs(60), || {
        !held_by_b().is_empty()
    });
    b.kill();
    let at_kill = rx.requests().len();
    assert!(at_kill < DELIVERIES, "the burst finished before the kill");
    let orphaned = held_by_b().len();

    // Survivors take over b's lapsed leases (20 s) and finish the burst.
    wait_until(
        "every delivery to be settled",
        Duration::from_secs(180),
        || {
            let s = states(&schema);
            s.get("sent").copied().unwrap_or(0) + s.get("held:uncertain").copied().unwrap_or(0)
                == DELIVERIES
        },
    );
    let uncertain: Vec<String> = schema
        .query("SELECT item FROM deliveries WHERE state = 'held' AND hold_reason = 'uncertain'");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in rx.requests() {
        *seen
            .entry(r.json()["id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "received more than once: {twice:?}");
    for item in schema.query("SELECT item FROM deliveries WHERE state = 'sent'") {
        assert_eq!(
            seen.get(&item),
            Some(&1),
            "{item} is sent but was not received"
        );
    }
    eprintln!(
        "received {at_kill} before the kill; the killed instance held {orphaned} leases; \
         {} uncertain; {} received in all",
        uncertain.len(),
        seen.len()
    );
    // Uncertain: only deliveries the killed process had marked "request
    // started" without a recorded outcome: its requests in flight (at most
    // `concurrency`) and those answered whose outcome waited for the next
    // group commit (at most as many again).
    let not_b: Vec<String> = schema.query(&format!(
        "SELECT item FROM deliveries WHERE state = 'held' AND hold_reason = 'uncertain'
           AND leased_from NOT LIKE '%:{b_pid}:%'"
    ));
    assert!(
        not_b.is_empty(),
        "uncertain but not the killed process's: {not_b:?}"
    );
    assert!(
        uncertain.len() <= 2 * CONCURRENCY,
        "more uncertain than the killed process can have had unrecorded: {uncertain:?}"
    );
    assert_eq!(
        seen.len() + uncertain.iter().filter(|i| !seen.contains_key(*i)).count(),
        DELIVERIES
    );
}

fn email_config(schema: &Schema, smtp_port: u16) -> String {
    format!(
        "[store]\nurl = \"{}\"\n\n\
         [channels.news]\nkind = \"email\"\nfrom = \"Test Partnership <news@example.org>\"\n\
         list_id = \"news.example.org\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp_port}\n\
         tls = \"none\"\nconcurrency = 4\ntimeout_seconds = 5\n\n\
         [[channels.news.topics]]\nid = \"news\"\nname = \"News updates\"\n",
        schema.url()
    )
}

/// The process holding a delivery's lease, by the pid in its owner name.
fn leaseholder(schema: &Schema, item: &str) -> Option<u32> {
    let owner = schema.query(&format!(
        "SELECT leased_from FROM deliveries WHERE item = '{item}' AND state = 'in_flight'"
    ));
    owner.first()?.split(':').nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_send_whose_instance_dies_is_finished_by_another_repeating_at_most_its_concurrency(
) {
    use support::smtp::Sink;
    const N: usize = 2500;
    let Some(schema) = Schema::new() else { return };
    let sink = Sink::start(&[]);
    let ws = Workspace::new(&email_config(&schema, sink.port), "lease_seconds = 5");
    ws.write("templates/email/default.subject.hbs", "{{item.title}}");
    ws.write(
        "templates/email/default.txt.hbs",
        "{{item.title}}\n\n{{item.body_text}}\n",
    );
    ws.write(
        "templates/email/default.html.hbs",
        "<h1>{{item.title}}</h1>\n{{{item.body_html}}}\n",
    );
    ws.write("campaigns/a.toml", "");
    let mut csv = String::from("email,name,consent_at\n");
    for i in 0..N {
        csv += &format!("person{i}@example.org,Person {i},2026-01-01T09:00:00Z\n");
    }
    ws.write("people.csv", &csv);
    let people = ws.path().join("people.csv");
    let out = ws.crier(&[
        "subscribers",
        "import",
        people.to_str().unwrap(),
        "--topics",
        "news",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = ws.start(&[]);
    let b = ws.start_instance(&ws.instance("b"), &[]);

    ws.write(
        "campaigns/a.toml",
        &format!(
            "[[item]]\nid = \"big\"\nkind = \"notice\"\ntitle = \"Big news\"\nbody = \"Body.\"\n\
             at = \"{}\"\nchannels = [\"news\"]\ntopics = [\"news\"]\n",
            in_secs(3)
        ),
    );
    sink.wait_for(1000, Duration::from_secs(60));
    let holder = leaseholder(&schema, "big").expect("the send is in flight");
    let (dead, _survivor) = match holder {
        p if p == a.pid() => (a, b),
        p if p == b.pid() => (b, a),
        p => panic!("the lease is held by {p}, neither instance"),
    };
    dead.kill();
    let at_crash = sink.accepted();
    assert!(at_crash < N as u64, "the send finished before the crash");

    wait_until(
        "the survivor to finish the send",
        Duration::from_secs(180),
        || schema.query("SELECT state FROM deliveries WHERE item = 'big'") == ["sent"],
    );
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for m in sink.messages() {
        *per.entry(m["rcpt"][0].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per.len(), N, "every subscriber at least once");
    // Each time a send is interrupted and resumed, at most the messages in
    // flight (the channel's concurrency, 4) can go twice. The kill is one.
    // The 5 s lease is renewed within a third of what it has left, so it
    // lapses under a live holder only if that process stalls for seconds;
    // then the other resumes it (the holder stops at its next batch), and
    // each resumption is in the history. (Seen failing, 146 and 221
    // repeats, when the first renewal came 10 s in and every send lost its
    // 5 s lease, the two processes taking it from each other.)
    let resumed = schema
        .query(
            "SELECT t.reason FROM transitions t JOIN deliveries d ON d.id = t.delivery_id
             WHERE d.item = 'big' AND t.reason LIKE 'interrupted mid-send%'",
        )
        .len();
    assert!(resumed >= 1, "the survivor never resumed the send");
    let duplicates: usize = per.values().map(|n| n - 1).sum();
    eprintln!("{duplicates} repeats over {resumed} resumptions");
    assert!(
        duplicates <= 4 * resumed,
        "{duplicates} repeats over {resumed} resumptions: more than 4 (the channel's \
         concurrency) each"
    );
}

/// A leader stopped with SIGTERM gives the role up before it exits, so the
/// next process plans at its next claim, not after the row's time to live
/// (seen failing: the row still named the stopped process).
#[tokio::test(flavor = "multi_thread")]
async fn a_leader_that_stops_hands_over_and_the_next_one_plans() {
    let Some(schema) = Schema::new() else { return };
    let ws = Workspace::new(
        &format!(
            "[store]\nurl = \"{}\"\n\n[channels.log]\nkind = \"discard\"\n",
            schema.url()
        ),
        "",
    );
    ws.write("campaigns/items.toml", "");
    let a = ws.start(&[]);
    let b = ws.start_instance(&ws.instance("b"), &[]);
    let names = |pid: u32| {
        schema
            .query("SELECT owner FROM leader")
            .iter()
            .any(|o| o.contains(&format!(":{pid}:")))
    };
    assert!(names(a.pid()), "the first to start leads");
    let a_pid = a.pid();
    assert!(a.terminate().success());
    assert!(!names(a_pid), "a stopped leader still holds the role");
    // b takes the role at its next claim (every 10 s) and plans new content.
    wait_until("b to lead", Duration::from_secs(30), || names(b.pid()));
    ws.write(
        "campaigns/items.toml",
        &format!(
            "[[item]]\nid = \"later\"\nkind = \"notice\"\ntitle = \"Later\"\nbody = \"B.\"\n\
             at = \"{}\"\nchannels = [\"log\"]\n",
            in_secs(3600)
        ),
    );
    wait_until("b to plan the new item", Duration::from_secs(30), || {
        schema.query("SELECT state FROM deliveries WHERE item = 'later'") == ["planned"]
    });
}
