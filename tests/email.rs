//! Email lists end to end: the real `crier` binary sends to a real SMTP
//! server (aiosmtpd) on loopback, and what it received is read back with
//! Python's MIME parser. Subscribe through the form, confirm through the
//! emailed link, receive exactly one message, leave with one click, export
//! and erase; a crash mid-send; SMTP faults; hostile input.

mod support;

use std::time::Duration;

use support::daemon::{in_secs, Workspace};
use support::smtp::{free_port, header, Sink};

const LONG: Duration = Duration::from_secs(60);

fn http() -> reqwest::Client {
    crier::channels::http::client()
}

/// application/x-www-form-urlencoded, as a browser sends a form.
fn form_body(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn post_form(url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(fields))
        .send()
        .await
        .unwrap()
}

fn email_channel(port: u16, extra: &str) -> String {
    format!(
        "[channels.news]\nkind = \"email\"\nfrom = \"Test Partnership <news@example.org>\"\n\
         list_id = \"news.example.org\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\ntls = \"none\"\n\
         concurrency = 4\ntimeout_seconds = 5\n{extra}\n\
         [[channels.news.topics]]\nid = \"news\"\nname = \"News updates\"\n\n\
         [[channels.news.topics]]\nid = \"training\"\nname = \"Training\"\n"
    )
}

fn workspace(port: u16, extra: &str) -> Workspace {
    let ws = Workspace::new(&email_channel(port, extra), "");
    ws.write("templates/email/default.subject.hbs", "{{item.title}}");
    ws.write(
        "templates/email/default.txt.hbs",
        "{{item.title}}\n\n{{item.body_text}}\n",
    );
    ws.write(
        "templates/email/default.html.hbs",
        "<h1>{{item.title}}</h1>\n{{{item.body_html}}}\n",
    );
    ws.write("campaigns/none.toml", "");
    ws
}

fn item(id: &str, title: &str, at: &str) -> String {
    format!(
        "[[item]]\nid = \"{id}\"\nkind = \"notice\"\ntitle = {title:?}\nbody = \"Body of {id}.\"\n\
         at = \"{at}\"\nchannels = [\"news\"]\ntopics = [\"news\"]\n\n"
    )
}

fn text_part(m: &serde_json::Value) -> &str {
    m["parts"][0]["text"].as_str().unwrap()
}

fn link_in(text: &str, path: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains(path))
        .unwrap_or_else(|| panic!("no {path} link in:\n{text}"))
        .to_string()
}

/// `List-Unsubscribe: <https://…>, <mailto:…>` → the https URL.
fn one_click_url(m: &serde_json::Value) -> String {
    let h = header(m, "List-Unsubscribe").unwrap();
    h.split(['<', '>'])
        .find(|s| s.starts_with("http"))
        .unwrap()
        .to_string()
}

/// A CLI command; a `.csv` argument is a file in the workspace.
fn run(ws: &Workspace, args: &[&str]) -> (bool, String, String) {
    let paths: Vec<String> = args
        .iter()
        .map(|a| {
            if a.ends_with(".csv") {
                ws.path().join(a).display().to_string()
            } else {
                a.to_string()
            }
        })
        .collect();
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let out = ws.crier(&args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_confirm_receive_once_leave_with_one_click_then_export_and_erase() {
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port, "");
    let daemon = ws.start(&[]);
    let form = ws.url("/lists/news/subscribe");

    let page = http()
        .get(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<label for=\"email\">") && !page.contains("<script"),
        "{page}"
    );

    // Hostile input first: a malformed address is refused with a clear error.
    let bad = post_form(&form, &[("email", "not-an-address"), ("topics", "news")]).await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("valid email address"));

    let fields = [
        ("email", "Ann@Example.org"),
        ("name", "<b>Ann</b>\r\nBcc: eve@evil.example"),
        ("organisation", "School & Co"),
        ("topics", "news"),
        ("topics", "training"),
    ];
    let ok = post_form(&form, &fields).await;
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("Check your inbox"));
    sink.wait_for(1, LONG);
    let confirmation = &sink.messages()[0];
    assert_eq!(confirmation["rcpt"][0], "ann@example.org");
    assert!(header(confirmation, "Bcc").is_none(), "{confirmation}");
    assert!(header(confirmation, "List-Unsubscribe-Post").is_some());
    let confirm = link_in(text_part(confirmation), "/confirm?t=");
    let r = http().post(&confirm).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are subscribed"));

    ws.write(
        "campaigns/a.toml",
        &item("first", "First news", &in_secs(1)),
    );
    ws.wait_item("first", "sent");
    let messages = sink.messages();
    assert_eq!(messages.len(), 2, "confirmation + exactly one message");
    let m = &messages[1];
    assert_eq!(m["rcpt"], serde_json::json!(["ann@example.org"]));
    assert_eq!(m["type"], "multipart/alternative");
    assert_eq!(m["parts"][0]["type"], "text/plain");
    assert_eq!(m["parts"][1]["type"], "text/html");
    assert_eq!(header(m, "Subject"), Some("First news"));
    assert_eq!(header(m, "Precedence"), Some("bulk"));
    assert_eq!(
        header(m, "List-Id"),
        Some("Test Partnership <news.example.org>")
    );
    assert_eq!(
        header(m, "List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(header(m, "List-Unsubscribe")
        .unwrap()
        .contains("<mailto:news@example.org?subject=unsubscribe>"));
    assert!(header(m, "Message-ID").unwrap().ends_with("@example.org>"));
    assert!(header(m, "Date").is_some());
    assert!(header(m, "Bcc").is_none());
    assert_eq!(m["defects"], serde_json::json!([]));
    // The visible link is the header's link, and is this person's own.
    let url = one_click_url(m);
    assert!(text_part(m).contains(&url));
    let html = m["parts"][1]["text"].as_str().unwrap();
    assert!(
        html.contains("&lt;b&gt;Ann&lt;/b&gt;") && !html.contains("<b>Ann"),
        "{html}"
    );

    // GET shows a button and changes nothing; POST leaves, with no redirect.
    let get = http().get(&url).send().await.unwrap();
    assert_eq!(get.status(), 200);
    assert!(get.text().await.unwrap().contains("<button"));
    let (_, list, _) = run(&ws, &["subscribers", "list"]);
    assert!(
        list.contains("ann@example.org") && list.contains(",confirmed,"),
        "{list}"
    );
    let post = http()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    assert!(post.headers().get("location").is_none());

    ws.write(
        "campaigns/b.toml",
        &item("second", "Second news", &in_secs(1)),
    );
    // (two log lines holding `"sent"` were already there from the first
    // send, so the log wait did not wait for this one at all)
    ws.wait_item("second", "sent");
    assert_eq!(sink.messages().len(), 2, "nothing sent after leaving");

    let (ok, export, _) = run(&ws, &["subscribers", "export", "ann@example.org"]);
    assert!(ok);
    let export: serde_json::Value = serde_json::from_str(&export).unwrap();
    let consent = &export["subscriptions"][0]["consents"][0];
    assert_eq!(consent["method"], "form");
    assert_eq!(consent["client_addr"], "127.0.0.1");
    assert!(consent["confirmed_at"].is_string() && consent["withdrawn_at"].is_string());
    assert_eq!(export["subscriptions"][0]["messages"][0]["item"], "first");

    let (ok, _, _) = run(&ws, &["subscribers", "erase", "ann@example.org"]);
    assert!(ok);
    let (_, export, _) = run(&ws, &["subscribers", "export", "ann@example.org"]);
    assert!(!export.contains("School"), "{export}");
    ws.write(
        "back.csv",
        "email,consent_at\nann@example.org,2026-01-01\nbob@example.org,2026-01-01\n",
    );
    let (ok, out, err) = run(
        &ws,
        &["subscribers", "import", "back.csv", "--topics", "news"],
    );
    assert!(!ok);
    assert!(err.contains("line 2: ann@example.org was erased"), "{err}");
    assert!(out.contains("imported 1"), "{out}");
    daemon.terminate();
}

/// Waits for a big send to finish for as long as it makes progress: the
/// time it takes depends on the machine's load, so the limit is on a
/// stall (no message accepted for `LONG`), not on the whole send.
fn wait_sent_while_sending(ws: &Workspace, sink: &Sink, item: &str) {
    let (mut seen, mut last_progress) = (sink.accepted(), std::time::Instant::now());
    loop {
        let rows = ws.queue();
        if rows
            .iter()
            .any(|r| r["item"] == item && r["state"] == "sent")
        {
            return;
        }
        let now = sink.accepted();
        if now > seen {
            (seen, last_progress) = (now, std::time::Instant::now());
        }
        assert!(
            last_progress.elapsed() < LONG,
            "no message accepted for {LONG:?} and {item} not sent; queue: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_mid_send_skips_no_one_and_repeats_at_most_the_messages_in_flight() {
    // Large enough that the kill after 1,000 lands mid-send.
    const N: usize = 2500;
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port, "");
    let mut csv = String::from("email,name,consent_at\n");
    for i in 0..N {
        csv += &format!("person{i}@example.org,Person {i},2026-01-01T09:00:00Z\n");
    }
    ws.write("people.csv", &csv);
    let (ok, out, err) = run(
        &ws,
        &["subscribers", "import", "people.csv", "--topics", "news"],
    );
    assert!(ok, "{out}{err}");
    ws.write("campaigns/a.toml", &item("big", "Big news", &in_secs(1)));
    let daemon = ws.start(&[]);
    sink.wait_for(1000, LONG);
    daemon.kill();
    let at_crash = sink.accepted();
    assert!(at_crash < N as u64, "the send finished before the crash");

    let daemon = ws.start(&[]);
    wait_sent_while_sending(&ws, &sink, "big");
    let messages = sink.messages();
    let mut per: std::collections::HashMap<String, usize> = Default::default();
    for m in &messages {
        *per.entry(m["rcpt"][0].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per.len(), N, "every subscriber at least once");
    let duplicates = messages.len() - N;
    assert!(
        duplicates <= 4,
        "{duplicates} duplicates, more than the concurrency"
    );
    let (_, show, _) = run(&ws, &["queue", "show", "1"]);
    assert!(show.contains(&format!("recipients: {N} sent")), "{show}");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_faults_refuse_one_defer_one_and_survive_disconnects_and_downtime() {
    // Nothing listens yet: the send waits and resumes when the server is up.
    let port = free_port();
    let ws = workspace(port, "");
    let mut csv = String::from("email,consent_at\n");
    for who in ["a", "b", "bounce", "slow", "c", "d", "e", "f"] {
        csv += &format!("{who}@example.org,2026-01-01\n");
    }
    ws.write("people.csv", &csv);
    assert!(
        run(
            &ws,
            &["subscribers", "import", "people.csv", "--topics", "news"]
        )
        .0
    );
    ws.write("campaigns/a.toml", &item("x", "X", &in_secs(1)));
    let daemon = ws.start(&[]);
    ws.wait_item("x", "retrying");

    let sink = Sink::start_on(
        port,
        &[
            "--reject-rcpt",
            "bounce@",
            "--tempfail-rcpt",
            "slow@",
            "--close-every",
            "2",
        ],
    );
    sink.wait_for(6, LONG);
    let mut got: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m["rcpt"][0].as_str().unwrap().to_string())
        .collect();
    got.sort();
    got.dedup();
    assert_eq!(
        got,
        ["a", "b", "c", "d", "e", "f"].map(|w| format!("{w}@example.org"))
    );
    // The 451 keeps the delivery retrying; the 550 is recorded as refused.
    ws.wait_queue("the send to end with one deferred", |rows| {
        rows.iter().any(|r| {
            r["state"] == "retrying"
                && r["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("deferred ones go again"))
        })
    });
    let (_, show, _) = run(&ws, &["queue", "show", "1"]);
    assert!(
        show.contains("recipients: 6 sent, 1 refused, 1 deferred"),
        "{show}"
    );
    assert!(
        show.contains("bounce@example.org: permanent error (550)"),
        "{show}"
    );
    assert!(
        show.contains("slow@example.org: transient error (451)"),
        "{show}"
    );
    assert!(daemon.log().contains("SMTP connection lost, reconnecting"));
    let metrics = http()
        .get(ws.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("crier_recipients{channel=\"news\",state=\"sent\"} 6"),
        "{metrics}"
    );
    let (_, list, _) = run(&ws, &["subscribers", "list"]);
    assert!(list.contains("bounce@example.org,,,unsubscribed"), "{list}");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_is_refused_or_neutralised_and_nothing_is_lost() {
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port, "");
    ws.write(
        "rows.csv",
        "email,name,consent_at\n\
         good@example.org,\"Eve\r\nBcc: x@evil.example\",2026-01-01\n\
         not an address,Bad,2026-01-01\n\
         \"a@b.org\r\nBcc: x@evil.example\",Bad,2026-01-01\n\
         late@example.org,Late,yesterday\n\
         fine@example.org,\"<script>alert(1)</script>\",2026-01-01\n\
         future@example.org,Future,2099-01-01\n",
    );
    let (ok, out, err) = run(
        &ws,
        &["subscribers", "import", "rows.csv", "--topics", "news"],
    );
    assert!(!ok);
    assert!(
        err.contains("line 4: `not an address` is not an email address"),
        "{err}"
    );
    assert!(
        err.contains("line 5:") && err.contains("line 7: consent_at `yesterday`"),
        "{err}"
    );
    // Evidence of consent is of the past.
    assert!(
        err.contains("line 9: consent_at `2099-01-01` is in the future"),
        "{err}"
    );
    assert!(out.contains("imported 2"), "{out}");

    let big = ws.path().join("big.csv");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(11 * 1024 * 1024).unwrap();
    let (ok, _, err) = run(
        &ws,
        &["subscribers", "import", "big.csv", "--topics", "news"],
    );
    assert!(
        !ok && err.contains("at most 10 MB") && err.contains("nothing was imported"),
        "{err}"
    );
    let (_, list, _) = run(&ws, &["subscribers", "list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    ws.write(
        "campaigns/a.toml",
        &item("x", "Hello\r\nBcc: x@evil.example", &in_secs(1)),
    );
    let daemon = ws.start(&[]);
    ws.wait_item("x", "sent");
    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    for m in &messages {
        assert!(header(m, "Bcc").is_none(), "{m}");
        assert_eq!(header(m, "Subject"), Some("Hello Bcc: x@evil.example"));
        assert_eq!(m["rcpt"].as_array().unwrap().len(), 1);
        let html = m["parts"][1]["text"].as_str().unwrap();
        assert!(!html.contains("<script>"), "{html}");
    }
    drop(daemon);
}

/// Leaving during a long send is honoured at once: a paced send to 120
/// people, one of whom clicks one-click unsubscribe (from their
/// confirmation email) while it runs, before their turn. They get nothing
/// more; everyone else gets exactly one message.
#[tokio::test(flavor = "multi_thread")]
async fn leaving_during_a_send_stops_the_message_not_yet_sent() {
    const N: usize = 120;
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port, "max_per_second = 20\n");
    let mut csv = String::from("email,consent_at\n");
    for i in 0..N {
        csv += &format!("person{i}@example.org,2026-01-01T09:00:00Z\n");
    }
    ws.write("people.csv", &csv);
    let (ok, out, err) = run(
        &ws,
        &["subscribers", "import", "people.csv", "--topics", "news"],
    );
    assert!(ok, "{out}{err}");
    let daemon = ws.start(&[]);

    // The last to join, so the last in the send's order.
    let form = ws.url("/lists/news/subscribe");
    let ok = post_form(&form, &[("email", "late@example.org"), ("topics", "news")]).await;
    assert_eq!(ok.status(), 200);
    sink.wait_for(1, LONG);
    let confirmation = sink.messages().remove(0);
    let confirm = link_in(text_part(&confirmation), "/confirm?t=");
    assert_eq!(http().post(&confirm).send().await.unwrap().status(), 200);
    let leave = one_click_url(&confirmation);

    ws.write(
        "campaigns/a.toml",
        &item("paced", "Paced news", &in_secs(1)),
    );
    // Under way (20 a second: the whole send takes about six seconds).
    sink.wait_for(21, LONG);
    let post = http()
        .post(&leave)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    let before = sink.accepted();
    assert!(
        before < N as u64,
        "the send finished before the click ({before} received)"
    );
    ws.wait_item("paced", "sent");

    let messages = sink.messages();
    let to = |who: &str| {
        messages
            .iter()
            .filter(|m| m["rcpt"][0] == who && header(m, "Subject") == Some("Paced news"))
            .count()
    };
    assert_eq!(to("late@example.org"), 0, "the leaver still got the item");
    for i in 0..N {
        assert_eq!(to(&format!("person{i}@example.org")), 1, "person{i}");
    }
    daemon.terminate();
}

/// An import's `consent_at` is when consent was given and confirmed (the
/// evidence stated); the import is its own, later event.
#[tokio::test(flavor = "multi_thread")]
async fn imported_consent_is_given_and_confirmed_at_the_stated_time_and_imported_later() {
    let ws = workspace(free_port(), "");
    ws.write(
        "people.csv",
        "email,consent_at,consent_wording\n\
         ann@example.org,2026-01-01T09:00:00Z,Ticked the box at the March event\n\
         bob@example.org,2026-02-03,\n",
    );
    let before = chrono::Utc::now();
    let (ok, out, err) = run(
        &ws,
        &["subscribers", "import", "people.csv", "--topics", "news"],
    );
    assert!(ok, "{out}{err}");
    let time = |v: &serde_json::Value| support::daemon::parse_time(v.as_str().unwrap());
    for (who, stated, wording) in [
        (
            "ann@example.org",
            "2026-01-01T09:00:00Z",
            "Ticked the box at the March event",
        ),
        ("bob@example.org", "2026-02-03T00:00:00Z", "imported from"),
    ] {
        let (ok, export, _) = run(&ws, &["subscribers", "export", who]);
        assert!(ok);
        let export: serde_json::Value = serde_json::from_str(&export).unwrap();
        let sub = &export["subscriptions"][0];
        let consent = &sub["consents"][0];
        let stated = support::daemon::parse_time(stated);
        assert_eq!(consent["method"], "import", "{consent}");
        assert!(
            consent["wording"].as_str().unwrap().starts_with(wording),
            "{consent}"
        );
        assert_eq!(time(&consent["given_at"]), stated, "{consent}");
        assert_eq!(time(&consent["confirmed_at"]), stated, "{consent}");
        assert_eq!(time(&sub["subscriber"]["confirmed_at"]), stated, "{sub}");
        let imported = time(&consent["imported_at"]);
        assert!(
            imported >= before - chrono::TimeDelta::seconds(1) && imported > stated,
            "{consent}"
        );
    }
}

/// The subscriber's status in `crier subscribers list --format json`.
fn status(ws: &Workspace, email: &str) -> String {
    let (ok, out, err) = run(ws, &["subscribers", "list", "--format", "json"]);
    assert!(ok, "{err}");
    let all: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    all.iter()
        .find(|s| s["email"] == email)
        .map_or("absent".into(), |s| {
            s["status"].as_str().unwrap().to_string()
        })
}

fn confirmations_to(sink: &Sink, who: &str) -> Vec<serde_json::Value> {
    sink.messages()
        .into_iter()
        .filter(|m| m["rcpt"][0] == who && text_part(m).contains("/confirm?t="))
        .collect()
}

/// A lost or expired confirmation is not the end: subscribing again while
/// pending sends a fresh one, at most once per `confirm_resend_minutes`,
/// and the answer is the same whatever the address's state.
#[tokio::test(flavor = "multi_thread")]
async fn subscribing_again_while_pending_sends_a_fresh_confirmation_rate_limited() {
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port, "");
    let daemon = ws.start(&[]);
    let form = ws.url("/lists/news/subscribe");
    let subscribe = |who: &'static str| {
        let form = form.clone();
        async move {
            let r = post_form(&form, &[("email", who), ("topics", "news")]).await;
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };

    let new = subscribe("ann@example.org").await;
    sink.wait_for(1, LONG);
    assert_eq!(subscribe("ann@example.org").await, new, "pending");
    sink.wait_for(2, LONG);
    // A third at once is over the limit: answered the same, nothing sent.
    assert_eq!(subscribe("ann@example.org").await, new, "pending, limited");
    // Someone else's confirmation after it marks that the third was not
    // sent (it was asked for first).
    assert_eq!(subscribe("bob@example.org").await, new, "new");
    sink.wait_for(3, LONG);
    let to_ann = confirmations_to(&sink, "ann@example.org");
    assert_eq!(to_ann.len(), 2, "two confirmations to ann, no more");
    assert_eq!(sink.messages().len(), 3);
    assert_eq!(status(&ws, "ann@example.org"), "pending");

    // The second one's link works.
    let link = link_in(text_part(&to_ann[1]), "/confirm?t=");
    let r = http().post(&link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(status(&ws, "ann@example.org"), "confirmed");
    assert_eq!(subscribe("ann@example.org").await, new, "confirmed");

    // Erased: only the hash is left on the suppression list.
    let (ok, _, err) = run(&ws, &["subscribers", "erase", "bob@example.org"]);
    assert!(ok, "{err}");
    assert_eq!(subscribe("bob@example.org").await, new, "suppressed");
    daemon.terminate();
}

/// Mail scanners open every link: the confirmation link shows a page whose
/// button confirms (a POST); opening it confirms nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_confirmation_link_shows_a_button_and_only_the_button_confirms() {
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port, "");
    let daemon = ws.start(&[]);
    let ok = post_form(
        &ws.url("/lists/news/subscribe"),
        &[("email", "ann@example.org"), ("topics", "news")],
    )
    .await;
    assert_eq!(ok.status(), 200);
    sink.wait_for(1, LONG);
    let link = link_in(text_part(&sink.messages()[0]), "/confirm?t=");

    // Opened twice, as a scanner and then the person might.
    for _ in 0..2 {
        let r = http().get(&link).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert_eq!(page.matches("<h1").count(), 1, "{page}");
        assert!(
            page.contains("<form method=\"post\"") && page.contains("<button type=\"submit\""),
            "{page}"
        );
        assert!(page.contains("News updates"), "names the topics: {page}");
        assert_eq!(status(&ws, "ann@example.org"), "pending");
    }
    // A forged token is refused on POST as on GET, confirming nothing.
    let forged = link.replace("/confirm?t=c", "/confirm?t=c9");
    assert_eq!(http().post(&forged).send().await.unwrap().status(), 400);
    assert_eq!(status(&ws, "ann@example.org"), "pending");

    let r = http()
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are subscribed"));
    assert_eq!(status(&ws, "ann@example.org"), "confirmed");
    daemon.terminate();
}

/// `crier queue show ID --format json`, parsed.
fn show(ws: &Workspace, id: i64) -> serde_json::Value {
    let (ok, out, err) = run(ws, &["queue", "show", &id.to_string(), "--format", "json"]);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// SIGTERM in the middle of a long paced send (400 people at 20 a second:
/// 20 s) stops it at a recipient boundary within seconds, not when the
/// send is done: the messages already accepted are recorded, the delivery
/// is left to resume (not sent, the attempt not counted), and the next
/// start sends to exactly the people left. Everyone gets one message.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_send_stops_at_a_recipient_and_the_next_start_sends_the_rest_once() {
    const N: usize = 200;
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port, "max_per_second = 20\n");
    let mut csv = String::from("email,consent_at\n");
    for i in 0..N {
        csv += &format!("person{i}@example.org,2026-01-01T09:00:00Z\n");
    }
    ws.write("people.csv", &csv);
    let (ok, out, err) = run(
        &ws,
        &["subscribers", "import", "people.csv", "--topics", "news"],
    );
    assert!(ok, "{out}{err}");
    ws.write(
        "campaigns/a.toml",
        &item("paced", "Paced news", &in_secs(1)),
    );
    let daemon = ws.start(&[]);
    sink.wait_for(40, LONG);

    let asked = std::time::Instant::now();
    let status = daemon.terminate();
    let took = asked.elapsed();
    let received = sink.messages().len() as u64;
    assert!(
        took < Duration::from_secs(10),
        "SIGTERM took {took:?} to stop the daemon ({received} of {N} received)"
    );
    assert!(status.success(), "the daemon exited with {status:?}");
    assert!(
        received + 100 <= N as u64,
        "{received} received: the rest would take 5 s more at 20 a second"
    );
    let d = show(&ws, 1);
    assert_eq!(d["state"], "retrying", "{d:#}");
    assert_eq!(d["attempts"], 0, "the stopped attempt counted: {d:#}");
    let note = d["last_error"].as_str().unwrap_or_default();
    assert!(note.contains("stopped by shutdown"), "{d:#}");
    assert_eq!(
        d["recipients"]["sent"].as_u64(),
        Some(received),
        "records differ from what the server accepted: {d:#}"
    );

    let daemon = ws.start(&[]);
    let deadline = std::time::Instant::now() + LONG;
    while show(&ws, 1)["state"] != "sent" {
        assert!(
            std::time::Instant::now() < deadline,
            "not sent after the restart: {:#}",
            show(&ws, 1)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let messages = sink.messages();
    let mut per: std::collections::HashMap<String, usize> = Default::default();
    for m in &messages {
        *per.entry(m["rcpt"][0].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for i in 0..N {
        assert_eq!(
            per.get(&format!("person{i}@example.org")).copied(),
            Some(1),
            "person{i}"
        );
    }
    assert_eq!(
        messages.len(),
        N,
        "{} messages for {N} people",
        messages.len()
    );
    daemon.terminate();
}

/// #9: `crier subscribers list --format json | head -1` (the command the
/// email kind adds) ends quietly when the reader goes away: no panic, no
/// exit code 101, nothing on stderr.
#[test]
fn subscribers_list_into_a_closed_pipe_ends_quietly() {
    use std::process::{Command, Stdio};
    let ws = workspace(free_port(), "");
    let mut csv = String::from("email,consent_at\n");
    for i in 0..1500 {
        csv += &format!("reader{i}@example.org,2026-01-01T09:00:00Z\n");
    }
    ws.write("people.csv", &csv);
    let (ok, out, err) = run(
        &ws,
        &["subscribers", "import", "people.csv", "--topics", "news"],
    );
    assert!(ok, "{out}{err}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("--config")
        .arg(ws.config())
        .args(["subscribers", "list", "--format", "json"])
        .env_remove("CRIER_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // More than a pipe's buffer of JSON: the write fails once the reader
    // is gone, whichever comes first.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
    assert!(err.is_empty(), "nothing to say about a closed pipe: {err}");
}
