//! `crier send-test`: the real rendered email of an item, marked `[TEST]`,
//! to a few addresses through the channel's real SMTP settings (a real
//! aiosmtpd server here), touching no subscriber and no delivery.

mod support;

use std::time::Duration;

use support::daemon::Workspace;
use support::smtp::{free_port, header, Sink};

fn workspace(port: u16) -> Workspace {
    let ws = Workspace::new(
        &format!(
            "[channels.news]\nkind = \"email\"\nfrom = \"Test Partnership <news@example.org>\"\n\
             list_id = \"news.example.org\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n\
             tls = \"none\"\ntimeout_seconds = 5\n\n\
             [[channels.news.topics]]\nid = \"news\"\nname = \"News updates\"\n"
        ),
        "",
    );
    ws.write("templates/email/default.subject.hbs", "{{item.title}}");
    ws.write(
        "templates/email/default.txt.hbs",
        "{{item.title}}\n\n{{item.body_text}}\n",
    );
    ws.write(
        "templates/email/default.html.hbs",
        "<h1>{{item.title}}</h1>\n{{{item.body_html}}}\n",
    );
    // Far in the future: only the test send may send it.
    ws.write(
        "campaigns/a.toml",
        "[[item]]\nid = \"first\"\nkind = \"notice\"\ntitle = \"First news\"\n\
         body = \"Read [the report](https://example.org/report).\"\n\
         at = \"2030-01-01T10:00:00Z\"\nchannels = [\"news\"]\ntopics = [\"news\"]\n",
    );
    ws.write(
        "people.csv",
        "email,consent_at\nann@example.org,2026-01-01\n",
    );
    ws
}

fn run(ws: &Workspace, args: &[&str]) -> (bool, String, String) {
    let out = ws.crier(args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_test_send_is_the_real_message_marked_test_and_records_nothing() {
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port);
    let csv = ws.path().join("people.csv");
    let (ok, _, err) = run(
        &ws,
        &[
            "subscribers",
            "import",
            csv.to_str().unwrap(),
            "--topics",
            "news",
        ],
    );
    assert!(ok, "{err}");
    let (_, before, _) = run(&ws, &["subscribers", "export", "ann@example.org"]);

    let (ok, out, err) = run(
        &ws,
        &[
            "send-test",
            "first",
            "--channel",
            "news",
            "--to",
            "Editor@Example.org",
            "--to",
            "checker@example.net",
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("editor@example.org, checker@example.net"),
        "{out}"
    );
    sink.wait_for(2, Duration::from_secs(30));
    let mut messages = sink.messages();
    assert_eq!(messages.len(), 2);
    // The Maildir's order is not the sending order.
    messages.sort_by_key(|m| m["rcpt"][0].as_str().unwrap().starts_with('c'));
    let base = format!("http://127.0.0.1:{}/lists/news/", ws.port);
    for (m, to) in messages
        .iter()
        .zip(["editor@example.org", "checker@example.net"])
    {
        assert_eq!(m["rcpt"], serde_json::json!([to]));
        assert_eq!(header(m, "Subject"), Some("[TEST] First news"));
        assert_eq!(header(m, "To"), Some(to));
        assert_eq!(m["type"], "multipart/alternative");
        let text = m["parts"][0]["text"].as_str().unwrap();
        let html = m["parts"][1]["text"].as_str().unwrap();
        // The item's own link works as it is; no signed link for anyone.
        assert!(text.contains("https://example.org/report"), "{text}");
        assert!(
            html.contains("href=\"https://example.org/report\""),
            "{html}"
        );
        assert!(!text.contains("?t=") && !html.contains("?t="), "{text}");
        assert!(text.contains(&base), "{text}");
        assert!(header(m, "List-Unsubscribe").unwrap().contains(&base));
    }
    assert_ne!(
        header(&messages[0], "Message-ID"),
        header(&messages[1], "Message-ID")
    );

    // Nobody's record moved: the subscriber's export is as it was, and the
    // queue holds no delivery (nothing was planned or sent).
    let (_, after, _) = run(&ws, &["subscribers", "export", "ann@example.org"]);
    assert_eq!(before, after);
    assert!(ws.queue().is_empty(), "{:?}", ws.queue());
}

#[test]
fn a_test_send_refuses_bad_requests_and_says_which_address_the_server_refused() {
    let sink = Sink::start(&["--reject-rcpt", "nobody"]);
    let ws = workspace(sink.port);
    let eleven: Vec<String> = (0..11).map(|i| format!("p{i}@example.org")).collect();
    let mut args = vec!["send-test", "first", "--channel", "news", "--to"];
    let joined = eleven.join(",");
    args.push(&joined);
    let (ok, _, err) = run(&ws, &args);
    assert!(!ok && err.contains("at most 10"), "{err}");
    let (ok, _, err) = run(
        &ws,
        &[
            "send-test",
            "first",
            "--channel",
            "news",
            "--to",
            "not-an-address",
        ],
    );
    assert!(
        !ok && err.contains("`not-an-address` is not an email address"),
        "{err}"
    );
    let (ok, _, err) = run(
        &ws,
        &[
            "send-test",
            "missing",
            "--channel",
            "news",
            "--to",
            "a@example.org",
        ],
    );
    assert!(!ok && err.contains("no item `missing`"), "{err}");
    assert_eq!(sink.accepted(), 0, "nothing sent for a refused request");

    let (ok, out, _) = run(
        &ws,
        &[
            "send-test",
            "first",
            "--channel",
            "news",
            "--to",
            "nobody@example.org,editor@example.org",
        ],
    );
    assert!(!ok, "a refused address fails the command");
    assert!(out.contains("accepted for editor@example.org"), "{out}");
    assert!(
        out.contains("refused for nobody@example.org: permanent error (550)"),
        "{out}"
    );
    sink.wait_for(1, Duration::from_secs(30));
}

#[test]
fn a_test_send_with_no_server_says_so() {
    let ws = workspace(free_port());
    let (ok, _, err) = run(
        &ws,
        &[
            "send-test",
            "first",
            "--channel",
            "news",
            "--to",
            "a@example.org",
        ],
    );
    assert!(!ok);
    assert!(err.contains("nothing was recorded"), "{err}");
}

/// The API's test send is the same operation: an author sends it, a
/// `test` token (which must change nothing) may not.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_sends_the_same_test_message_for_an_author_and_not_for_a_test_token() {
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port);
    let daemon = ws.start(&[]);
    let token = |name: &str, kind: &str| {
        let (ok, out, err) = run(
            &ws,
            &["tokens", "create", name, "--role", "author", "--kind", kind],
        );
        assert!(ok, "{err}");
        out.split_whitespace()
            .find(|w| w.starts_with("crier_"))
            .unwrap()
            .to_string()
    };
    crier::channels::http::install_crypto_provider();
    let client = reqwest::Client::new();
    let send = |token: String| {
        client
            .post(ws.url("/api/v1/items/first/send-test"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "channel": "news", "to": ["editor@example.org"] }))
            .send()
    };
    let refused = send(token("look", "test")).await.unwrap();
    assert_eq!(refused.status(), 403);
    let sent = send(token("author", "live")).await.unwrap();
    assert_eq!(sent.status(), 200);
    let body: serde_json::Value = sent.json().await.unwrap();
    assert_eq!(body["accepted"][0], "editor@example.org", "{body}");
    sink.wait_for(1, Duration::from_secs(30));
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert!(header(&messages[0], "Subject").is_some_and(|s| s.starts_with("[TEST]")));
    drop(daemon);
}

/// The console's "Send a test email" is the API's test send: a person
/// signed in with a session sends it from the item's page; a form without
/// an address gets the error summary and sends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_sends_the_same_test_message_for_a_signed_in_author() {
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port);
    let daemon = ws.start(&[]);
    let (ok, link, err) = run(
        &ws,
        &["users", "add", "ann@example.org", "--role", "author"],
    );
    assert!(ok, "{err}");
    crier::channels::http::install_crypto_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let password = "a long enough passphrase";
    let set = client
        .post(link.trim())
        .form(&[("password", password), ("confirm", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let signed = client
        .post(ws.url("/signin"))
        .form(&[
            ("email", "ann@example.org"),
            ("password", password),
            ("code", ""),
            ("next", "/console/"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let post = |to: &'static str| {
        client
            .post(ws.url("/console/items/first/send-test"))
            .header("cookie", cookie.clone())
            .header("origin", ws.url(""))
            .form(&[("channel", "news"), ("to", to)])
            .send()
    };
    let page = client
        .get(ws.url("/console/items/first/send-test"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("<h1 class=\"govuk-heading-l\">Send a test email</h1>"));
    let empty = post("").await.unwrap();
    assert_eq!(empty.status(), 400);
    let body = empty.text().await.unwrap();
    assert!(
        body.contains("There is a problem") && body.contains("href=\"#to\""),
        "{body}"
    );
    let sent = post("editor@example.org").await.unwrap();
    assert_eq!(sent.status(), 303);
    assert_eq!(
        sent.headers()["location"],
        "/console/items/first?done=test-sent"
    );
    sink.wait_for(1, Duration::from_secs(30));
    let messages = sink.messages();
    assert_eq!(
        messages.len(),
        1,
        "the form without an address sent nothing"
    );
    assert!(header(&messages[0], "Subject").is_some_and(|s| s.starts_with("[TEST]")));
    drop(daemon);
}
