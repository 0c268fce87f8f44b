//! `crier channels test` for an email list: after connect (and STARTTLS,
//! AUTH, tested in email_transport.rs), the From domain's SPF, the DKIM
//! selector's key and DMARC, read from a real DNS server on loopback
//! (`scripts/dns_peer.py`) holding good and bad records; and, with no DNS
//! to ask, a report that says so rather than an error.

mod support;

use std::process::Output;

use serde_json::json;
use support::daemon::Workspace;
use support::peer::Peer;
use support::smtp::{free_port, Keys, Sink};

fn channel(name: &str, domain: &str, port: u16, dkim: &str) -> String {
    format!(
        "[channels.{name}]\nkind = \"email\"\nfrom = \"Test Partnership <{name}@{domain}>\"\n\
         list_id = \"{name}.{domain}\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n\
         tls = \"none\"\ntimeout_seconds = 5\n{dkim}\n\
         [[channels.{name}.topics]]\nid = \"news\"\nname = \"News updates\"\n\n"
    )
}

fn dkim(domain: &str, file: &std::path::Path) -> String {
    format!(
        "dkim = {{ domain = \"{domain}\", selector = \"crier\", key_file = {:?}, algorithm = \"rsa\" }}\n",
        file.to_str().unwrap()
    )
}

fn workspace(channels: &str) -> Workspace {
    let ws = Workspace::new(channels, "");
    ws.write("templates/email/default.subject.hbs", "{{item.title}}");
    ws.write("templates/email/default.txt.hbs", "{{item.body_text}}\n");
    ws.write("templates/email/default.html.hbs", "{{{item.body_html}}}\n");
    ws
}

fn test(ws: &Workspace, name: &str, nameserver: &str) -> (Output, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("--config")
        .arg(ws.config())
        .args(["channels", "test", name])
        .env("CRIER_TEST_NAMESERVER", nameserver)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

#[test]
fn spf_dkim_and_dmarc_are_read_and_what_is_wrong_is_said() {
    let keys = Keys::new();
    let (key, txt) = keys.dkim("rsa");
    // Another key (its own folder): published where `key` signs.
    let other = Keys::new();
    let (_, other_txt) = other.dkim("rsa");
    let sink = Sink::start(&[]);
    let ws = workspace(&format!(
        "{}{}{}",
        channel("news", "example.org", sink.port, &dkim("example.org", &key)),
        channel(
            "alerts",
            "example.net",
            sink.port,
            &dkim("example.net", &key)
        ),
        channel("plain", "example.com", sink.port, ""),
    ));
    let dns = Peer::dns(
        &ws.path().join("zone.json"),
        &json!({
            "example.org": ["v=spf1 ip4:127.0.0.1 include:_spf.example.org -all",
                            "google-site-verification=abc"],
            "crier._domainkey.example.org": [txt],
            "_dmarc.example.org": ["v=DMARC1; p=reject; rua=mailto:dmarc@example.org"],
            // Two SPF records, a key that is not ours, no DMARC.
            "example.net": ["v=spf1 ip4:127.0.0.1 -all", "v=spf1 include:relay.example -all"],
            "crier._domainkey.example.net": [other_txt],
            // SPF letting anyone send; DMARC without a policy.
            "example.com": ["v=spf1 +all"],
            "_dmarc.example.com": ["v=DMARC1; rua=mailto:d@example.com"],
        }),
    );

    let (out, text) = test(&ws, "news", &dns.addr());
    assert!(out.status.success(), "{text}");
    assert!(text.contains("connected to 127.0.0.1"), "{text}");
    assert!(
        text.contains(
            "SPF ok: example.org has `v=spf1 ip4:127.0.0.1 include:_spf.example.org -all`"
        ),
        "{text}"
    );
    assert!(
        text.contains("DKIM ok: crier._domainkey.example.org publishes the rsa key"),
        "{text}"
    );
    assert!(
        text.contains("DMARC ok: _dmarc.example.org has `v=DMARC1; p=reject"),
        "{text}"
    );
    assert!(!text.contains("PROBLEM"), "{text}");

    let (out, text) = test(&ws, "alerts", &dns.addr());
    // The SMTP side works: the records are reported, not a failure.
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("SPF PROBLEM: 2 SPF records at example.net"),
        "{text}"
    );
    assert!(
        text.contains(
            "DKIM PROBLEM: the key at crier._domainkey.example.net is not the public half"
        ),
        "{text}"
    );
    assert!(
        text.contains("DMARC PROBLEM: no DMARC record at _dmarc.example.net"),
        "{text}"
    );

    let (_, text) = test(&ws, "plain", &dns.addr());
    assert!(
        text.contains("SPF PROBLEM: `v=spf1 +all` at example.com ends in `+all`"),
        "{text}"
    );
    assert!(text.contains("DKIM ok: crier does not sign"), "{text}");
    assert!(
        text.contains("DMARC PROBLEM: `v=DMARC1; rua=mailto:d@example.com` at _dmarc.example.com has no valid policy"),
        "{text}"
    );
}

#[test]
fn without_dns_the_check_says_it_could_not_look_up() {
    let sink = Sink::start(&[]);
    let ws = workspace(&channel("news", "example.org", sink.port, ""));
    // Nothing listens there: as on a machine with no DNS.
    let (out, text) = test(&ws, "news", &format!("127.0.0.1:{}", free_port()));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("connected to 127.0.0.1"), "{text}");
    assert!(
        text.contains("DNS: could not look up DNS here") && text.contains("were not checked"),
        "{text}"
    );
    assert!(
        !text.contains("SPF ok") && !text.contains("SPF PROBLEM"),
        "{text}"
    );
}
