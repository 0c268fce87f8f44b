//! Sign-in over the real daemon: the first-run setup link, passwords set
//! with one-time links, sessions, sign-out, cross-site refusals, rate
//! limiting, no user enumeration, and the `users` and `tokens` commands.
//! The pages are audited in Chromium with axe-core (`tests/signin_pages.rs`).

mod support;

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use support::daemon::{Daemon, Workspace};

const PASSWORD: &str = "correct horse battery staple";

fn workspace() -> Workspace {
    let ws = Workspace::new("[channels.out]\nkind = \"discard\"\n", "");
    ws.write("campaigns/none.toml", "");
    ws
}

fn client() -> reqwest::Client {
    crier::channels::http::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }

    /// The session cookie this answer sets: (`name=value`, the whole header).
    fn session(&self) -> Option<(String, String)> {
        self.headers.get_all(SET_COOKIE).iter().find_map(|v| {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next()?.to_string();
            (pair.starts_with("crier_session=") && pair.len() > 20).then(|| (pair, v.to_string()))
        })
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let r = req.send().await.unwrap();
    Answer {
        status: r.status(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

async fn get(ws: &Workspace, path: &str, cookie: Option<&str>) -> Answer {
    let mut req = client().get(ws.url(path));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    send(req).await
}

async fn post(
    ws: &Workspace,
    path: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = client().post(ws.url(path)).form(form);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(req).await
}

fn crier_ok(ws: &Workspace, args: &[&str]) -> (String, String) {
    let out = ws.crier(args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(out.status.success(), "crier {args:?}: {stderr}");
    (stdout, stderr)
}

/// `crier users add` and its link followed: an account with a password.
async fn person(ws: &Workspace, email: &str, role: &str) {
    let (link, _) = crier_ok(ws, &["users", "add", email, "--role", role]);
    let path = link
        .trim()
        .strip_prefix(&ws.url(""))
        .expect("a link to this daemon");
    assert!(path.starts_with("/password/"), "{link}");
    let form = [("password", PASSWORD), ("confirm", PASSWORD)];
    let set = post(ws, path, &form, None, &[]).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert!(set.body.contains("Your password is set"), "{}", set.body);
}

async fn sign_in(ws: &Workspace, email: &str, password: &str) -> Answer {
    let form = [
        ("email", email),
        ("password", password),
        ("code", ""),
        ("next", "/account"),
    ];
    post(ws, "/signin", &form, None, &[]).await
}

async fn signed_in(ws: &Workspace, email: &str) -> String {
    let ok = sign_in(ws, email, PASSWORD).await;
    assert_eq!(
        (ok.status, ok.location()),
        (StatusCode::SEE_OTHER, "/account"),
        "{}",
        ok.body
    );
    ok.session().expect("a session cookie").0
}

fn users(ws: &Workspace) -> Vec<serde_json::Value> {
    let (out, _) = crier_ok(ws, &["users", "list", "--format", "json"]);
    serde_json::from_str(&out).unwrap()
}

fn setup_link(daemon: &Daemon) -> String {
    let line = daemon.wait_log("setup_link", 1).remove(0);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    v["fields"]["setup_link"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_run_link_creates_the_first_admin_once() {
    let ws = workspace();
    let daemon = ws.start(&[]);
    let link = setup_link(&daemon);
    let path = link.strip_prefix(&ws.url("")).unwrap().to_string();
    assert!(path.starts_with("/setup/"), "{link}");
    let form = get(&ws, &path, None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<h1>Set up crier</h1>"), "{}", form.body);
    let short = [
        ("email", "ada@example.org"),
        ("password", "short"),
        ("confirm", "short"),
    ];
    let refused = post(&ws, &path, &short, None, &[]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("There is a problem") && refused.body.contains("href=\"#password\"")
    );
    assert!(users(&ws).is_empty(), "nothing made from a refused form");

    let good = [
        ("email", "Ada@Example.org"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    let made = post(&ws, &path, &good, None, &[]).await;
    assert_eq!(
        (made.status, made.location()),
        (StatusCode::SEE_OTHER, "/account")
    );
    let (cookie, header) = made.session().unwrap();
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Lax") && header.contains("Path=/"),
        "{header}"
    );
    assert!(
        !header.contains("Secure"),
        "plain http on loopback: {header}"
    );
    let account = get(&ws, "/account", Some(&cookie)).await;
    assert!(
        account.body.contains("ada@example.org") && account.body.contains("admin"),
        "{}",
        account.body
    );
    let all = users(&ws);
    assert_eq!(
        (all.len(), &all[0]["role"], &all[0]["password"]),
        (1, &"admin".into(), &true.into())
    );

    // Used: the link is dead, for a GET and a second POST alike.
    assert_eq!(get(&ws, &path, None).await.status, StatusCode::NOT_FOUND);
    let again = [
        ("email", "eve@example.org"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    assert_eq!(
        post(&ws, &path, &again, None, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(users(&ws).len(), 1);
    let (_, log) = daemon.stop();
    // With an account, the next start prints no link.
    let daemon = ws.start(&[]);
    assert!(get(&ws, "/signin", None).await.status.is_success());
    let (_, second) = daemon.stop();
    assert!(
        !second.iter().any(|l| l.contains("setup_link")),
        "{second:?}"
    );
    // The link was written once, in the start message; the password and
    // the session id never.
    let secret = path.trim_start_matches("/setup/");
    assert_eq!(
        log.iter().filter(|l| l.contains(secret)).count(),
        1,
        "{log:?}"
    );
    let session = cookie.trim_start_matches("crier_session=");
    for line in log.iter().chain(&second) {
        assert!(
            !line.contains(PASSWORD) && !line.contains(session),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_accounts_and_wrong_passwords_get_the_same_answer_until_limited() {
    let ws = workspace();
    let _daemon = ws.start(&[]);
    person(&ws, "ann@example.org", "publisher").await;
    let wrong = sign_in(&ws, "ann@example.org", "not the password at all").await;
    let unknown = sign_in(&ws, "nobody@example.org", "not the password at all").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.status, wrong.status);
    assert!(wrong.session().is_none() && unknown.session().is_none());
    assert_eq!(
        unknown.body.replace("nobody@example.org", "EMAIL"),
        wrong.body.replace("ann@example.org", "EMAIL"),
        "the page never says whether an account exists"
    );
    // Nine more failures (ten in the window), then even the right password waits.
    for _ in 0..9 {
        let r = sign_in(&ws, "ann@example.org", "still not the password").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let limited = sign_in(&ws, "ann@example.org", PASSWORD).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    assert!(limited.session().is_none());
    // An unknown address is limited the same way.
    for _ in 0..9 {
        sign_in(&ws, "nobody@example.org", "guess").await;
    }
    let limited_unknown = sign_in(&ws, "nobody@example.org", "guess").await;
    assert_eq!(limited_unknown.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited_unknown.body, limited.body);
    // A reset link sets a new password and lifts the account's limit.
    let (link, _) = crier_ok(&ws, &["users", "reset", "ANN@example.org"]);
    let path = link.trim().strip_prefix(&ws.url("")).unwrap().to_string();
    let form = [("password", PASSWORD), ("confirm", PASSWORD)];
    assert_eq!(
        post(&ws, &path, &form, None, &[]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        post(&ws, &path, &form, None, &[]).await.status,
        StatusCode::NOT_FOUND,
        "once"
    );
    // Another reset ends the sessions opened with the old password.
    let old = signed_in(&ws, "ann@example.org").await;
    let (link, _) = crier_ok(&ws, &["users", "reset", "ann@example.org"]);
    let path = link.trim().strip_prefix(&ws.url("")).unwrap().to_string();
    assert_eq!(
        post(&ws, &path, &form, None, &[]).await.status,
        StatusCode::OK
    );
    let after = get(&ws, "/account", Some(&old)).await;
    assert_eq!(
        after.status,
        StatusCode::SEE_OTHER,
        "signed out by the reset"
    );
    signed_in(&ws, "ann@example.org").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_ends_the_session_and_cross_site_writes_are_refused() {
    let ws = workspace();
    let _daemon = ws.start(&[]);
    person(&ws, "ann@example.org", "author").await;
    let cookie = signed_in(&ws, "ann@example.org").await;
    let account = get(&ws, "/account", Some(&cookie)).await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("ann@example.org") && account.body.contains("author"));

    // Another site's form posting with the person's cookie is refused and
    // changes nothing.
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "null")],
    ] {
        let r = post(&ws, "/signout", &[], Some(&cookie), &headers).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}");
        let r = post(
            &ws,
            "/account/totp",
            &[
                ("secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
                ("code", "000000"),
            ],
            Some(&cookie),
            &headers,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}");
    }
    assert_eq!(
        get(&ws, "/account", Some(&cookie)).await.status,
        StatusCode::OK,
        "still signed in"
    );

    // Its own page signs out: the session is gone on the server, so the
    // old cookie, replayed, is worth nothing.
    let own = ws.url("");
    let origin = own.trim_end_matches('/');
    let out = post(
        &ws,
        "/signout",
        &[],
        Some(&cookie),
        &[("origin", origin), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(
        (out.status, out.location()),
        (StatusCode::SEE_OTHER, "/signin")
    );
    let cleared = out.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let after = get(&ws, "/account", Some(&cookie)).await;
    assert_eq!(
        (after.status, after.location()),
        (StatusCode::SEE_OTHER, "/signin?next=/account")
    );

    // Removing a person ends their sessions at once.
    let cookie = signed_in(&ws, "ann@example.org").await;
    crier_ok(&ws, &["users", "remove", "ann@example.org"]);
    assert_eq!(
        get(&ws, "/account", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[test]
fn users_and_tokens_commands() {
    let ws = workspace();
    let (link, note) = crier_ok(
        &ws,
        &["users", "add", "Bob@Example.org", "--role", "approver"],
    );
    assert!(link.trim().starts_with(&ws.url("/password/")), "{link}");
    assert!(note.contains("7 days"), "{note}");
    let dup = ws.crier(&["users", "add", "bob@example.org", "--role", "admin"]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already an account for bob@example.org"));
    let bad = ws.crier(&["users", "add", "carol@example.org", "--role", "owner"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown role `owner`"));
    let all = users(&ws);
    assert_eq!(
        (all.len(), &all[0]["email"], &all[0]["password"]),
        (1, &"bob@example.org".into(), &false.into())
    );
    let (text, _) = crier_ok(&ws, &["users", "list"]);
    assert!(
        text.contains("bob@example.org") && text.contains("approver"),
        "{text}"
    );

    let (token, note) = crier_ok(
        &ws,
        &[
            "tokens",
            "create",
            "ci",
            "--role",
            "publisher",
            "--kind",
            "test",
            "--expires",
            "30",
        ],
    );
    let token = token.trim();
    assert!(
        token.starts_with("crier_test_") && token.len() == "crier_test_".len() + 43,
        "{token}"
    );
    assert!(note.contains("not shown again"), "{note}");
    let (live, _) = crier_ok(&ws, &["tokens", "create", "deploy", "--role", "admin"]);
    assert!(live.trim().starts_with("crier_live_"));
    let taken = ws.crier(&["tokens", "create", "ci", "--role", "author"]);
    assert!(String::from_utf8_lossy(&taken.stderr).contains("already a token named ci"));

    let (json, _) = crier_ok(&ws, &["tokens", "list", "--format", "json"]);
    let (text, _) = crier_ok(&ws, &["tokens", "list"]);
    for listing in [&json, &text] {
        assert!(
            !listing.contains(token) && !listing.contains(&token["crier_test_".len()..]),
            "{listing}"
        );
        assert!(!listing.contains(live.trim()));
    }
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (&rows[0]["name"], &rows[0]["kind"], &rows[0]["last_used_at"]),
        (&"ci".into(), &"test".into(), &serde_json::Value::Null)
    );
    assert!(rows[0]["expires_at"].is_string());
    crier_ok(&ws, &["tokens", "revoke", "ci"]);
    let again = ws.crier(&["tokens", "revoke", "ci"]);
    assert!(!again.status.success());
    let (json, _) = crier_ok(&ws, &["tokens", "list", "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert!(rows[0]["revoked_at"].is_string());

    crier_ok(&ws, &["users", "remove", "BOB@example.org"]);
    assert!(users(&ws).is_empty());
    assert!(!ws
        .crier(&["users", "reset", "bob@example.org"])
        .status
        .success());
}

/// The API through the daemon: a token or a session cookie is the caller;
/// a cookie write from another site, a test token's write, a revoked
/// token and no credentials at all are refused before anything changes.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_takes_tokens_and_sessions() {
    let ws = workspace();
    let _daemon = ws.start(&[]);
    let api = |path: &str| client().request(reqwest::Method::GET, ws.url(path));
    let (token, _) = crier_ok(
        &ws,
        &[
            "tokens", "create", "ci", "--role", "admin", "--kind", "test",
        ],
    );
    let bearer = format!("Bearer {}", token.trim());
    assert_eq!(
        send(api("/api/v1/pause")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let read = send(api("/api/v1/pause").header("authorization", &bearer)).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let write = send(
        client()
            .post(ws.url("/api/v1/pause"))
            .header("authorization", &bearer),
    )
    .await;
    assert_eq!(
        write.status,
        StatusCode::FORBIDDEN,
        "a test token changes nothing"
    );
    let (listed, _) = crier_ok(&ws, &["tokens", "list", "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert!(rows[0]["last_used_at"].is_string(), "{listed}");

    person(&ws, "ann@example.org", "publisher").await;
    let cookie = signed_in(&ws, "ann@example.org").await;
    let with_cookie = |origin: &str| {
        client()
            .post(ws.url("/api/v1/pause"))
            .header("cookie", &cookie)
            .header("origin", origin)
    };
    let cross = send(with_cookie("https://evil.example")).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN, "{}", cross.body);
    assert!(cross.body.contains("cross-site"), "{}", cross.body);
    let read = send(api("/api/v1/pause").header("authorization", &bearer)).await;
    assert!(read.body.contains("\"all\":false"), "{}", read.body);
    let own = ws.url("");
    let ok = send(with_cookie(own.trim_end_matches('/'))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let read = send(api("/api/v1/pause").header("authorization", &bearer)).await;
    assert!(read.body.contains("\"all\":true"), "{}", read.body);

    crier_ok(&ws, &["tokens", "revoke", "ci"]);
    let revoked = send(api("/api/v1/pause").header("authorization", &bearer)).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
}
