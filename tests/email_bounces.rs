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
