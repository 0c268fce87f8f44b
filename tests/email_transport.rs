//! How email leaves crier, against a real SMTP server (aiosmtpd) on
//! loopback: STARTTLS required by the server and implicit TLS, with a CA
//! made for this run and trusted through `tls_ca_file` (and refused
//! without it, as is a server that offers no STARTTLS); AUTH with secrets from environment variables, and a wrong
//! password held with a message that never shows it; DKIM (RSA-2048 and
//! Ed25519) checked by dkimpy, a real verifier; and `crier queue show
//! --follow` watching a send.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::daemon::{in_secs, Workspace};
use support::smtp::{free_port, header, Keys, Sink};

const LONG: Duration = Duration::from_secs(60);
const USER: &str = "crier-relay";
/// Distinctive, so finding it anywhere in output is unambiguous.
const PASSWORD: &str = "Pw-7kQz2-relay-secret";

fn channel(name: &str, port: u16, extra: &str) -> String {
    format!(
        "[channels.{name}]\nkind = \"email\"\nfrom = \"Test Partnership <news@example.org>\"\n\
         list_id = \"{name}.example.org\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n\
         concurrency = 2\ntimeout_seconds = 5\n{extra}\n\
         [[channels.{name}.topics]]\nid = \"news\"\nname = \"News updates\"\n\n"
    )
}

/// A workspace with `channels`, `people` subscribers (confirmed, with
/// consent evidence) on each channel, and one item to all of them due at
/// `at`.
fn workspace(channels: &[(&str, String)], people: usize, at: &str) -> Workspace {
    let tables: String = channels.iter().map(|(_, t)| t.as_str()).collect();
    let ws = Workspace::new(&tables, "");
    ws.write("templates/email/default.subject.hbs", "{{item.title}}");
    ws.write(
        "templates/email/default.txt.hbs",
        "{{item.title}}\n\n{{item.body_text}}\n",
    );
    ws.write(
        "templates/email/default.html.hbs",
        "<h1>{{item.title}}</h1>\n{{{item.body_html}}}\n",
    );
    let mut csv = String::from("email,consent_at\n");
    for i in 0..people {
        csv += &format!("person{i}@example.org,2026-01-01T09:00:00Z\n");
    }
    ws.write("people.csv", &csv);
    let file = ws.path().join("people.csv");
    for (name, _) in channels {
        let out = ws.crier(&[
            "subscribers",
            "import",
            file.to_str().unwrap(),
            "--topics",
            "news",
            "--channel",
            name,
        ]);
        assert!(out.status.success(), "{out:?}");
    }
    let names: Vec<String> = channels.iter().map(|(n, _)| format!("{n:?}")).collect();
    ws.write(
        "campaigns/a.toml",
        &format!(
            "[[item]]\nid = \"hello\"\nkind = \"notice\"\ntitle = \"Hello\"\nbody = \"Body.\"\n\
             at = \"{at}\"\nchannels = [{}]\ntopics = [\"news\"]\n",
            names.join(", ")
        ),
    );
    ws
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn auth_env() -> [(&'static str, &'static str); 2] {
    [("CRIER_SMTP_USER", USER), ("CRIER_SMTP_PASSWORD", PASSWORD)]
}

const AUTH_OPTIONS: &str =
    "username_env = \"CRIER_SMTP_USER\"\npassword_env = \"CRIER_SMTP_PASSWORD\"\n";

#[tokio::test(flavor = "multi_thread")]
async fn starttls_required_with_a_private_ca_and_auth_delivers_encrypted_and_authenticated() {
    let keys = Keys::new();
    let (ca, cert, key) = keys.tls();
    let secret = format!("{USER}:{PASSWORD}");
    let sink = Sink::start_with(
        free_port(),
        &[
            "--starttls",
            "--tls-cert",
            &path(&cert),
            "--tls-key",
            &path(&key),
            "--auth-env",
            "SINK_AUTH",
        ],
        &[("SINK_AUTH", &secret)],
    );
    let extra = format!(
        "tls = \"starttls\"\ntls_ca_file = {:?}\n{AUTH_OPTIONS}",
        path(&ca)
    );
    let ws = workspace(
        &[("news", channel("news", sink.port, &extra))],
        3,
        &in_secs(1),
    );
    let daemon = ws.start(&auth_env());
    ws.wait_delivery(1, "sent");
    let messages = sink.messages();
    assert_eq!(messages.len(), 3);
    for m in &messages {
        assert_eq!(m["tls"], true, "{m}");
        assert_eq!(m["authenticated"], true, "{m}");
    }
    // `channels test` takes the same path: TLS verified, AUTH accepted.
    let out = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("--config")
        .arg(ws.config())
        .args(["channels", "test", "news"])
        .envs(auth_env())
        // Its DNS checks ask a closed loopback port: no query leaves.
        .env(
            "CRIER_TEST_NAMESERVER",
            format!("127.0.0.1:{}", free_port()),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("AUTH accepted"), "{}", text(&out));
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread")]
async fn implicit_tls_with_auth_delivers() {
    let keys = Keys::new();
    let (ca, cert, key) = keys.tls();
    let secret = format!("{USER}:{PASSWORD}");
    let sink = Sink::start_with(
        free_port(),
        &[
            "--implicit-tls",
            "--tls-cert",
            &path(&cert),
            "--tls-key",
            &path(&key),
            "--auth-env",
            "SINK_AUTH",
        ],
        &[("SINK_AUTH", &secret)],
    );
    let extra = format!(
        "tls = \"implicit\"\ntls_ca_file = {:?}\n{AUTH_OPTIONS}",
        path(&ca)
    );
    let ws = workspace(
        &[("news", channel("news", sink.port, &extra))],
        2,
        &in_secs(1),
    );
    let daemon = ws.start(&auth_env());
    ws.wait_delivery(1, "sent");
    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    assert!(messages
        .iter()
        .all(|m| m["tls"] == true && m["authenticated"] == true));
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_or_a_server_without_starttls_gets_nothing() {
    let keys = Keys::new();
    let (_ca, cert, key) = keys.tls();
    let sink = Sink::start(&[
        "--starttls",
        "--tls-cert",
        &path(&cert),
        "--tls-key",
        &path(&key),
    ]);
    // No tls_ca_file: the test CA is not among the public roots.
    let ws = workspace(
        &[("news", channel("news", sink.port, "tls = \"starttls\"\n"))],
        2,
        &in_secs(1),
    );
    let daemon = ws.start(&[]);
    let row = ws.wait_delivery(1, "retrying");
    let error = row["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("STARTTLS") && error.contains("certificate"),
        "{row}"
    );
    let show = text(&ws.crier(&["queue", "show", "1"]));
    assert!(show.contains("state:    retrying"), "{show}");
    assert_eq!(sink.accepted(), 0);

    // A server that does not offer STARTTLS is not sent to in the clear.
    let plain = Sink::start(&[]);
    let ws2 = workspace(
        &[("news", channel("news", plain.port, "tls = \"starttls\"\n"))],
        1,
        &in_secs(1),
    );
    let daemon2 = ws2.start(&[]);
    let row = ws2.wait_delivery(1, "retrying");
    assert!(
        row["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("STARTTLS is not supported"),
        "{row}"
    );
    assert_eq!(plain.accepted(), 0);
    drop(daemon2);

    // A CA file that holds no certificate is a configuration error, named.
    ws.write("empty.pem", "not a certificate\n");
    let bad = channel(
        "news",
        sink.port,
        &format!(
            "tls = \"starttls\"\ntls_ca_file = {:?}\n",
            path(&ws.path().join("empty.pem"))
        ),
    );
    let check = Workspace::new(&bad, "");
    let out = check.crier(&["check"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("channels.news.tls_ca_file") && text(&out).contains("no PEM"),
        "{}",
        text(&out)
    );
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_holds_the_delivery_with_a_clear_message_that_never_shows_it() {
    let keys = Keys::new();
    let (ca, cert, key) = keys.tls();
    let secret = format!("{USER}:{PASSWORD}");
    let sink = Sink::start_with(
        free_port(),
        &[
            "--starttls",
            "--tls-cert",
            &path(&cert),
            "--tls-key",
            &path(&key),
            "--auth-env",
            "SINK_AUTH",
        ],
        &[("SINK_AUTH", &secret)],
    );
    let extra = format!(
        "tls = \"starttls\"\ntls_ca_file = {:?}\n{AUTH_OPTIONS}",
        path(&ca)
    );
    let ws = workspace(
        &[("news", channel("news", sink.port, &extra))],
        2,
        &in_secs(1),
    );
    let wrong = "Wrong-9xPq-password";
    let daemon = ws.start(&[("CRIER_SMTP_USER", USER), ("CRIER_SMTP_PASSWORD", wrong)]);
    // Following waits for the outcome: it stops at once when the delivery
    // is held, says why and exits 1 (a delivery left retrying would keep
    // it running past the limit).
    let (ok, followed) = follow(&ws, "1", LONG);
    assert!(!ok);
    assert!(
        followed.contains("held:credentials")
            && followed.contains("error: ")
            && followed.contains("535"),
        "{followed}"
    );
    // The daemon's own line about it is in the log checked below (the state
    // is already held:credentials: this waits only for the line).
    let logged = daemon.wait_log("credentials refused", 1);
    assert!(
        logged[0].contains("AUTH") && logged[0].contains("535"),
        "{logged:?}"
    );

    let show = text(&ws.crier(&["queue", "show", "1"]));
    assert!(show.contains("state:    held:credentials"), "{show}");
    assert!(show.contains("AUTH") && show.contains("535"), "{show}");
    let list = text(&ws.crier(&["queue"]));
    assert!(list.contains("needs new credentials"), "{list}");
    assert_eq!(sink.accepted(), 0);

    // Neither the password nor the AUTH exchange that carries it (base64 of
    // PLAIN's "\0user\0password" or LOGIN's password) appears anywhere.
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let forbidden = [
        wrong.to_string(),
        b64(&format!("\0{USER}\0{wrong}")),
        b64(wrong),
    ];
    let json = text(&ws.crier(&["queue", "show", "1", "--format", "json"]));
    for output in [&show, &list, &json, &followed, &daemon.log()] {
        for f in &forbidden {
            assert!(!output.contains(f.as_str()), "{f} leaked into:\n{output}");
        }
    }
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread")]
async fn dkim_rsa_and_ed25519_signatures_verify_and_cover_the_list_headers() {
    let keys = Keys::new();
    let (rsa_key, rsa_txt) = keys.dkim("rsa");
    let (ed_key, ed_txt) = keys.dkim("ed25519");
    let sink = Sink::start(&[]);
    let dkim = |selector: &str, key: &Path, algorithm: &str| {
        format!(
            "tls = \"none\"\n[channels.{selector}.dkim]\ndomain = \"example.org\"\n\
             selector = \"{selector}\"\nkey_file = {:?}\nalgorithm = \"{algorithm}\"\n",
            path(key)
        )
    };
    let ws = workspace(
        &[
            (
                "rsa",
                channel("rsa", sink.port, &dkim("rsa", &rsa_key, "rsa")),
            ),
            (
                "ed",
                channel("ed", sink.port, &dkim("ed", &ed_key, "ed25519")),
            ),
        ],
        1,
        &in_secs(1),
    );
    let daemon = ws.start(&[]);
    // Both deliveries recorded as sent, so both messages are in the sink (it
    // stores a message before its 250). Waiting for two log lines holding
    // `"sent"` did not mean that: one email delivery logs two (the publisher's
    // "email send finished" line has a `"sent":1` field, then the
    // dispatcher's "sent"), so the wait could end with the other channel's
    // message still in flight.
    ws.wait_state("sent", 2);
    let dns = [
        ("rsa._domainkey.example.org", rsa_txt.as_str()),
        ("ed._domainkey.example.org", ed_txt.as_str()),
    ];
    let messages = sink.messages_dkim(&dns);
    assert_eq!(messages.len(), 2);
    let mut algorithms = vec![];
    for m in &messages {
        let d = &m["dkim"];
        assert_eq!(d["signatures"], 1, "{m}");
        assert_eq!(d["valid"], true, "{d}");
        assert_eq!(d["tags"]["d"], "example.org");
        let signed: Vec<String> = d["tags"]["h"]
            .as_str()
            .unwrap()
            .split(':')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        for h in [
            "list-unsubscribe",
            "list-unsubscribe-post",
            "list-id",
            "from",
            "subject",
        ] {
            assert!(signed.iter().any(|s| s == h), "{h} not in h= {signed:?}");
        }
        // The signed List-Id is the channel's own (not a default).
        let list_id = header(m, "List-Id").unwrap();
        let selector = d["tags"]["s"].as_str().unwrap();
        assert!(list_id.contains(&format!("<{selector}.example.org>")));
        algorithms.push(d["tags"]["a"].as_str().unwrap().to_string());
    }
    algorithms.sort();
    assert_eq!(algorithms, ["ed25519-sha256", "rsa-sha256"]);

    // The verifier really checks: the other selector's key fails, and so
    // does a message whose List-Unsubscribe was changed after signing.
    let swapped = sink.messages_dkim(&[
        ("rsa._domainkey.example.org", ed_txt.as_str()),
        ("ed._domainkey.example.org", rsa_txt.as_str()),
    ]);
    assert!(swapped.iter().all(|m| m["dkim"]["valid"] == false));
    let new = sink.dir.join("new");
    for entry in std::fs::read_dir(&new).unwrap() {
        let p = entry.unwrap().path();
        let raw = std::fs::read_to_string(&p).unwrap();
        let tampered = raw.replacen(
            "List-Unsubscribe: <http",
            "List-Unsubscribe: <https://evil.example/x>, <http",
            1,
        );
        assert_ne!(raw, tampered);
        std::fs::write(&p, tampered).unwrap();
    }
    let tampered = sink.messages_dkim(&dns);
    assert!(
        tampered.iter().all(|m| m["dkim"]["valid"] == false),
        "{tampered:?}"
    );
    drop(daemon);
}

/// Runs `crier queue show ID --follow` and returns (success, stdout),
/// failing the test if it has not finished within `limit`.
fn follow(ws: &Workspace, id: &str, limit: Duration) -> (bool, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("--config")
        .arg(ws.config())
        .args(["queue", "show", id, "--follow", "--every", "0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()));
    match rx.recv_timeout(limit) {
        Ok(out) => (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("`queue show {id} --follow` still running after {limit:?}");
        }
    }
}

/// `(sent, pending, total)` from a follow line, if it has counts.
fn counts(line: &str) -> Option<(u64, u64, u64)> {
    let after = line.split_once("): ")?.1.split_once(": ")?.1;
    let nums: Vec<u64> = after
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    match nums[..] {
        [sent, _refused, _deferred, pending, total] => Some((sent, pending, total)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_show_follow_prints_progress_lines_until_the_send_is_done() {
    const N: u64 = 20;
    let sink = Sink::start(&[]);
    // Paced at 8 messages a second, so the send lasts a few polls.
    let ws = workspace(
        &[(
            "news",
            channel("news", sink.port, "tls = \"none\"\nmax_per_second = 8\n"),
        )],
        N as usize,
        &in_secs(4),
    );
    let daemon = ws.start(&[]);
    let (ok, out) = follow(&ws, "1", LONG);
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.iter().all(|l| l.starts_with("delivery 1 (news): ")),
        "{out}"
    );
    let seen: Vec<(u64, u64, u64)> = lines.iter().map(|l| counts(l).unwrap()).collect();
    assert!(seen.iter().all(|&(_, _, total)| total == N), "{out}");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{out}");
    assert_eq!(seen[0].0, 0, "followed from before the send:\n{out}");
    assert!(
        seen.iter().any(|&(sent, _, _)| sent > 0 && sent < N),
        "no line during the send:\n{out}"
    );
    let last = lines.last().unwrap();
    assert!(
        last.starts_with(
            "delivery 1 (news): sent: 20 sent, 0 refused, 0 deferred, 0 pending of 20"
        ),
        "{out}"
    );
    assert_eq!(sink.accepted(), N);

    // A finished delivery: one line, at once; an unknown one is an error.
    let (ok, again) = follow(&ws, "1", Duration::from_secs(20));
    assert!(ok);
    assert_eq!(again.trim(), *last);
    let (ok, _) = follow(&ws, "99", Duration::from_secs(20));
    assert!(!ok);
    drop(daemon);
}
