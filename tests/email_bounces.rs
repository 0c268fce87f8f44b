//! Email after the send: every list message's envelope sender names its
//! (delivery, subscriber), signed (VERP), so a bounce is attributed without
//! guessing; bounces read from a real IMAP mailbox (Dovecot) and provider
//! events change the list.

mod support;

use std::time::Duration;

use crier::channels::email::verp;
use crier::secret::Secret;
use support::daemon::{in_secs, Workspace};
use support::smtp::{header, Sink};

fn workspace(port: u16, extra: &str) -> Workspace {
    let ws = Workspace::new(
        &format!(
            "[channels.news]\nkind = \"email\"\nfrom = \"Test Partnership <news@example.org>\"\n\
             list_id = \"news.example.org\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n\
             tls = \"none\"\ntimeout_seconds = 5\n{extra}\n\
             [[channels.news.topics]]\nid = \"news\"\nname = \"News updates\"\n\n\
             [[channels.news.topics]]\nid = \"training\"\nname = \"Training\"\n"
        ),
        "",
    );
    ws.write("templates/email/default.subject.hbs", "{{item.title}}");
    ws.write("templates/email/default.txt.hbs", "{{item.body_text}}\n");
    ws.write("templates/email/default.html.hbs", "{{{item.body_html}}}\n");
    ws
}

fn item(id: &str, at: &str) -> String {
    format!(
        "[[item]]\nid = \"{id}\"\nkind = \"notice\"\ntitle = \"News {id}\"\nbody = \"Body.\"\n\
         at = \"{at}\"\nchannels = [\"news\"]\ntopics = [\"news\"]\n"
    )
}

fn crier_ok(ws: &Workspace, args: &[&str]) -> String {
    let out = ws.crier(args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Subscribers with consent evidence, confirmed at once.
fn import(ws: &Workspace, people: &[&str]) {
    let csv: String = people.iter().map(|p| format!("{p},2026-01-01\n")).collect();
    ws.write("people.csv", &format!("email,consent_at\n{csv}"));
    let file = ws.path().join("people.csv");
    crier_ok(
        ws,
        &[
            "subscribers",
            "import",
            file.to_str().unwrap(),
            "--topics",
            "news,training",
        ],
    );
}

/// Subscriber ids by address.
fn subscriber_ids(ws: &Workspace) -> std::collections::HashMap<String, i64> {
    let list: serde_json::Value =
        serde_json::from_str(&crier_ok(ws, &["subscribers", "list", "--format", "json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["email"].as_str().unwrap().to_string(),
                s["id"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The channel's link key, which also signs the VERP tokens.
fn link_key(ws: &Workspace) -> Secret {
    let key = std::fs::read_to_string(ws.path().join("data/credentials/news.link_key")).unwrap();
    Secret::new(key.trim_end().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn each_message_has_a_signed_envelope_sender_naming_its_delivery_and_subscriber() {
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port, "bounce_domain = \"bounces.example.org\"\n");
    import(&ws, &["ann@example.org", "bob@example.net"]);
    ws.write("campaigns/a.toml", &item("first", &in_secs(1)));
    let daemon = ws.start(&[]);
    let sent = ws.wait_item("first", "sent");
    let delivery = sent["id"].as_i64().unwrap();
    sink.wait_for(2, Duration::from_secs(30));
    let ids = subscriber_ids(&ws);
    let key = link_key(&ws);
    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    for m in &messages {
        let to = m["rcpt"][0].as_str().unwrap();
        let from = m["mail_from"].as_str().unwrap();
        // The From header is the list's; only the envelope changes.
        assert_eq!(
            header(m, "From"),
            Some("Test Partnership <news@example.org>")
        );
        let token = from
            .strip_prefix("bounces+")
            .and_then(|t| t.strip_suffix("@bounces.example.org"))
            .unwrap_or_else(|| panic!("envelope sender {from}"));
        let want = verp::Sent {
            delivery,
            subscriber: ids[to],
        };
        assert_eq!(verp::decode(&key, "news", token), Some(want), "{from}");
        assert_eq!(header(m, "X-Crier-Ref"), Some(token));
        // A tampered token names no one.
        let mut forged = token.to_string().into_bytes();
        let last = forged.len() - 3;
        forged[last] = if forged[last] == b'a' { b'b' } else { b'a' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(verp::decode(&key, "news", &forged), None);
        assert_eq!(verp::decode(&key, "other", token), None);
    }
    daemon.terminate();
}

/// A fixture from `tests/fixtures/bounces/`, filled in for one recipient:
/// the VERP address its message was sent from, the token, the address and
/// a Message-ID of its own.
fn fixture(name: &str, verp_address: &str, rcpt: &str, msgid: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/bounces/{name}.eml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let token = verp_address
        .strip_prefix("bounces+")
        .and_then(|t| t.split_once('@'))
        .map_or("", |(t, _)| t);
    text.replace("{{VERP}}", verp_address)
        .replace("{{REF}}", token)
        .replace("{{RCPT}}", rcpt)
        .replace("{{MSGID}}", msgid)
}

#[test]
fn real_bounce_formats_are_read_as_hard_soft_complaint_or_nothing() {
    use crier::channels::email::bounce::parse::read;
    use crier::store::lists::BounceKind;
    let key = Secret::new("k".repeat(64));
    let sent = verp::Sent {
        delivery: 3,
        subscriber: 41,
    };
    let verp_address = verp::address(&key, "news", "example.org", sent);
    let cases = [
        (
            "postfix-hard",
            Some((BounceKind::Hard, Some("5.1.1"))),
            true,
        ),
        (
            "exchange-hard",
            Some((BounceKind::Hard, Some("5.1.10"))),
            true,
        ),
        ("gmail-delay", Some((BounceKind::Soft, Some("4.2.2"))), true),
        (
            "gmail-plain-hard",
            Some((BounceKind::Hard, Some("5.1.1"))),
            true,
        ),
        ("arf-complaint", Some((BounceKind::Complaint, None)), true),
        ("out-of-office", None, true),
        (
            "forged-hard",
            Some((BounceKind::Hard, Some("5.1.1"))),
            false,
        ),
    ];
    for (name, want, attributed) in cases {
        let raw = fixture(name, &verp_address, "ann@school.example", name);
        let got = read(raw.replace('\n', "\r\n").as_bytes(), &key, "news");
        assert_eq!(
            got.report.as_ref().map(|r| (r.kind, r.status.as_deref())),
            want,
            "{name}: {got:?}"
        );
        assert_eq!(got.sent, attributed.then_some(sent), "{name}");
        assert_eq!(
            got.key,
            format!(
                "<{name}@{}>",
                got.key.split('@').nth(1).unwrap().trim_end_matches('>')
            )
        );
        // Another channel's key finds no token: nothing is attributed.
        assert_eq!(read(raw.as_bytes(), &key, "other").sent, None, "{name}");
    }
}

const IMAP_USER: &str = "CRIER_TEST_IMAP_USER";
const IMAP_PASSWORD: &str = "CRIER_TEST_IMAP_PASSWORD";

/// The channel's `[channels.news.bounces]` table for a mailbox folder.
fn bounces_table(imap: &support::imap::Imap, folder: &str) -> String {
    format!(
        "[channels.news.bounces]\nimap = \"imap://{}:{}/{folder}\"\nuser_env = \"{IMAP_USER}\"\n\
         password_env = \"{IMAP_PASSWORD}\"\nprocessed_folder = \"{folder}-done\"\npoll_seconds = 1\n",
        imap.host, imap.port
    )
}

fn imap_env(imap: &support::imap::Imap) -> [(&'static str, String); 2] {
    [
        (IMAP_USER, imap.user.clone()),
        (IMAP_PASSWORD, imap.password.clone()),
    ]
}

/// Each recipient's envelope sender, by address.
fn envelopes(sink: &Sink) -> std::collections::HashMap<String, String> {
    sink.messages()
        .iter()
        .map(|m| {
            (
                m["rcpt"][0].as_str().unwrap().to_string(),
                m["mail_from"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn subscribers(ws: &Workspace) -> std::collections::HashMap<String, serde_json::Value> {
    let list: serde_json::Value =
        serde_json::from_str(&crier_ok(ws, &["subscribers", "list", "--format", "json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| (s["email"].as_str().unwrap().to_string(), s.clone()))
        .collect()
}

fn export(ws: &Workspace, email: &str) -> serde_json::Value {
    serde_json::from_str(&crier_ok(ws, &["subscribers", "export", email])).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bounce_mailbox_applies_each_report_once_then_moves_it() {
    let Some(imap) = support::imap::Imap::from_env() else {
        eprintln!("skipped: CRIER_IMAP_URL is not set (scripts/test.sh starts Dovecot)");
        return;
    };
    let folder = support::imap::Imap::unique_folder("b");
    imap.create(&folder).await;
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port, &bounces_table(&imap, &folder));
    let people = [
        "ann@school.example",
        "bob@corp.example",
        "cat@gmail.example",
        "dan@mailbox.example",
        "eve@school.example",
        "fay@gmail.example",
    ];
    import(&ws, &people);
    ws.write("campaigns/a.toml", &item("first", &in_secs(1)));
    let env = imap_env(&imap);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = ws.start(&env);
    ws.wait_item("first", "sent");
    sink.wait_for(people.len() as u64, Duration::from_secs(30));
    let verps = envelopes(&sink);
    let reports = [
        ("postfix-hard", "ann@school.example"),
        ("exchange-hard", "bob@corp.example"),
        ("gmail-delay", "cat@gmail.example"),
        ("arf-complaint", "dan@mailbox.example"),
        ("out-of-office", "eve@school.example"),
        ("forged-hard", "eve@school.example"),
        ("gmail-plain-hard", "fay@gmail.example"),
    ];
    let messages: Vec<String> = reports
        .iter()
        .map(|(name, who)| fixture(name, &verps[*who], who, &format!("{name}.{folder}")))
        .collect();
    imap.append(&folder, &messages).await;

    // Every message ends in the processed folder, after its outcome.
    let done = format!("{folder}-done");
    imap.wait_count(&done, reports.len() as u32, Duration::from_secs(30))
        .await;
    assert_eq!(imap.count(&folder).await, 0);
    let subs = subscribers(&ws);
    for hard in [
        "ann@school.example",
        "bob@corp.example",
        "fay@gmail.example",
    ] {
        assert_eq!(subs[hard]["status"], "unsubscribed", "{hard}");
        assert_eq!(subs[hard]["bounces"], 1, "{hard}");
    }
    assert_eq!(subs["dan@mailbox.example"]["status"], "unsubscribed");
    assert_eq!(subs["dan@mailbox.example"]["topics"], serde_json::json!([]));
    // One soft bounce is counted, not suppressed; an auto-reply and a
    // forged bounce change nothing.
    assert_eq!(subs["cat@gmail.example"]["status"], "confirmed");
    assert_eq!(subs["eve@school.example"]["status"], "confirmed");
    let cat = export(&ws, "cat@gmail.example");
    let bounces = &cat["subscriptions"][0]["bounces"];
    assert_eq!(bounces[0]["kind"], "soft", "{cat}");
    assert_eq!(bounces[0]["item"], "first");
    assert_eq!(bounces[0]["status"], "4.2.2");
    let dan = export(&ws, "dan@mailbox.example");
    assert_eq!(dan["subscriptions"][0]["bounces"][0]["kind"], "complaint");
    let eve = export(&ws, "eve@school.example");
    assert_eq!(eve["subscriptions"][0]["bounces"], serde_json::json!([]));

    // The same bounce again (a crash before it was moved): recorded once.
    imap.append(&folder, &messages[..1]).await;
    imap.wait_count(&done, reports.len() as u32 + 1, Duration::from_secs(30))
        .await;
    let ann = export(&ws, "ann@school.example");
    assert_eq!(
        ann["subscriptions"][0]["bounces"].as_array().unwrap().len(),
        1,
        "{ann}"
    );
    assert_eq!(subscribers(&ws)["ann@school.example"]["bounces"], 1);
    daemon.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_during_mailbox_processing_loses_no_bounce_and_applies_none_twice() {
    const N: usize = 600;
    let Some(imap) = support::imap::Imap::from_env() else {
        eprintln!("skipped: CRIER_IMAP_URL is not set (scripts/test.sh starts Dovecot)");
        return;
    };
    let folder = support::imap::Imap::unique_folder("k");
    imap.create(&folder).await;
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port, &bounces_table(&imap, &folder));
    let people: Vec<String> = (0..N).map(|i| format!("p{i}@school.example")).collect();
    let refs: Vec<&str> = people.iter().map(String::as_str).collect();
    import(&ws, &refs);
    ws.write("campaigns/a.toml", &item("first", &in_secs(1)));
    let env = imap_env(&imap);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = ws.start(&env);
    ws.wait_item("first", "sent");
    daemon.kill();
    let verps = envelopes(&sink);
    let messages: Vec<String> = people
        .iter()
        .map(|p| fixture("postfix-hard", &verps[p], p, &format!("{p}.{folder}")))
        .collect();
    imap.append(&folder, &messages).await;

    // Killed once some messages were moved, before all were.
    let done = format!("{folder}-done");
    let daemon = ws.start(&env);
    let start = std::time::Instant::now();
    while imap.count(&done).await == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing processed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.kill();
    let moved = imap.count(&done).await;
    assert!(moved < N as u32, "the kill came after the last message");
    let daemon = ws.start(&env);
    imap.wait_count(&done, N as u32, Duration::from_secs(120))
        .await;
    assert_eq!(imap.count(&folder).await, 0, "none left behind");
    let subs = subscribers(&ws);
    for p in &people {
        assert_eq!(subs[p]["bounces"], 1, "{p}: applied once");
        assert_eq!(subs[p]["status"], "unsubscribed", "{p}");
    }
    eprintln!("killed with {moved} of {N} moved");
    daemon.terminate();
}
