//! Sign-in with a real OpenID provider (oidc-provider on loopback, started
//! by scripts/test.sh; `CRIER_OIDC_URL` names it): each test registers its
//! own client with the redirect URI of the daemon it starts, then walks
//! the authorization code flow as a browser would — crier's redirect, the
//! provider's login and consent forms, the callback — with reqwest.
//!
//! The ID token checks run on tokens the provider really issued. A relay
//! (`relay.rs`, on 127.0.0.1) is the daemon's HTTP proxy: it passes every
//! request to the provider through and changes only the token endpoint's
//! answer — a payload altered after signing (tampered), or a token the
//! provider issued to another registered client, for the same person and
//! nonce (wrong audience). For expiry the provider itself issues the token
//! on a clock two hours behind, for one client registered so
//! (`clock_skew_seconds`, scripts/peers/oidc/run-oidc.mjs). Each is
//! refused with no session opened and nothing secret logged.

#[path = "oidc/relay.rs"]
mod relay;
mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{StatusCode, Url};
use support::daemon::Workspace;

const SECRET_VAR: &str = "CRIER_TEST_OIDC_SECRET";

fn issuer() -> Option<String> {
    let url = std::env::var("CRIER_OIDC_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!(
            "skipped: CRIER_OIDC_URL is not set (scripts/test.sh starts the OpenID provider)"
        );
    }
    url
}

fn client() -> reqwest::Client {
    crier::channels::http::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A workspace whose daemon signs in with the provider, through a client
/// registered for it; the client secret for its environment.
async fn workspace(issuer: &str) -> (Workspace, String) {
    workspace_registered(issuer, serde_json::json!({})).await
}

/// Registers a client with the provider: `registration`'s fields beside
/// the basic ones.
async fn register(
    issuer: &str,
    redirect_uri: &str,
    mut registration: serde_json::Value,
) -> serde_json::Value {
    registration["redirect_uris"] = serde_json::json!([redirect_uri]);
    registration["token_endpoint_auth_method"] = "client_secret_basic".into();
    let answer = client()
        .post(format!("{issuer}/reg"))
        .json(&registration)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let reg: serde_json::Value = answer.json().await.unwrap();
    // A provider started from an older run-oidc.mjs ignores the test-only
    // metadata (`clock_skew_seconds`): say so rather than test nothing.
    for (field, value) in registration.as_object().unwrap() {
        assert_eq!(
            &reg[field], value,
            "the provider at {issuer} ignored `{field}`: restart it \
             (scripts/peers/oidc/stop-oidc.sh, then start-oidc.sh)"
        );
    }
    reg
}

/// As [`workspace`], the client registered with more fields.
async fn workspace_registered(issuer: &str, extra: serde_json::Value) -> (Workspace, String) {
    let ws = Workspace::new("[channels.out]\nkind = \"discard\"\n", "");
    ws.write("campaigns/none.toml", "");
    let mut registration = extra;
    registration["post_logout_redirect_uris"] = serde_json::json!([ws.url("/signin")]);
    let reg = register(issuer, &ws.url("/signin/oidc/callback"), registration).await;
    let config = std::fs::read_to_string(ws.config()).unwrap();
    ws.write(
        "channels.toml",
        &format!(
            "{config}\n[auth.oidc]\nissuer = \"{issuer}\"\nclient_id = \"{}\"\n\
             client_secret_env = \"{SECRET_VAR}\"\nscopes = [\"openid\", \"email\", \"profile\", \"roles\"]\n",
            reg["client_id"].as_str().unwrap()
        ),
    );
    (ws, reg["client_secret"].as_str().unwrap().to_string())
}

/// The provider's cookies, by name (its paths are not needed here).
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all(SET_COOKIE) {
            let pair = v.to_str().unwrap().split(';').next().unwrap();
            if let Some((k, v)) = pair.split_once('=') {
                self.0.insert(k.to_string(), v.to_string());
            }
        }
    }
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()[LOCATION].to_str().unwrap().to_string()
}

/// From crier's "sign in with your organisation account" to the callback
/// URL the provider sends the browser back to, signing in as `login`.
async fn authorize(ws: &Workspace, login: &str) -> String {
    authorize_with_nonce(ws, login).await.0
}

/// [`authorize`], and the nonce crier sent the provider.
async fn authorize_with_nonce(ws: &Workspace, login: &str) -> (String, String) {
    let http = client();
    let start = http.get(ws.url("/signin/oidc")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let url = Url::parse(&location(&start)).unwrap();
    let query: BTreeMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query.contains_key("nonce") && query.contains_key("state"));
    let callback = walk(url, login, &ws.url("/signin/oidc/callback")).await;
    (callback, query["nonce"].clone())
}

/// Through the provider's login and consent forms, as `login`, from its
/// authorization URL to the redirect to `callback`.
async fn walk(mut url: Url, login: &str, callback: &str) -> String {
    let http = client();
    let mut jar = Jar::default();
    for _ in 0..10 {
        let r = http
            .get(url.clone())
            .header("cookie", jar.header())
            .send()
            .await
            .unwrap();
        jar.keep(&r);
        let mut r = r;
        if r.status() == StatusCode::OK {
            // The provider's login form, then its consent form.
            let page = r.text().await.unwrap();
            let action = between(&page, "action=\"", "\"");
            let mut form: Vec<(String, String)> = hidden_fields(&page);
            if page.contains("name=\"login\"") {
                form.push(("login".into(), login.into()));
                form.push(("password".into(), "any".into()));
            }
            r = http
                .post(url.join(&action).unwrap())
                .header("cookie", jar.header())
                .form(&form)
                .send()
                .await
                .unwrap();
            jar.keep(&r);
        }
        let next = location(&r);
        if next.starts_with(callback) {
            return next;
        }
        url = url.join(&next).unwrap();
    }
    panic!("the provider never sent the browser back");
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap() + start.len();
    let len = text[from..].find(end).unwrap();
    text[from..from + len].to_string()
}

fn hidden_fields(page: &str) -> Vec<(String, String)> {
    page.split("type=\"hidden\"")
        .skip(1)
        .map(|rest| {
            (
                between(rest, "name=\"", "\""),
                between(rest, "value=\"", "\""),
            )
        })
        .collect()
}

fn users(ws: &Workspace) -> Vec<serde_json::Value> {
    let out = ws.crier(&["users", "list", "--format", "json"]);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_signs_in_with_the_provider_and_a_replayed_state_is_refused() {
    let Some(issuer) = issuer() else { return };
    let (ws, secret) = workspace(&issuer).await;
    let daemon = ws.start(&[(SECRET_VAR, &secret)]);
    let http = client();
    let signin = http
        .get(ws.url("/signin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(signin.contains("href=\"/signin/oidc\""), "{signin}");
    // Sent to sign in on the way to a page, a person comes back to it
    // whichever way they sign in; never to another site.
    for (next, start) in [
        (
            "%2Fconsole%2Fapprovals",
            "/signin/oidc?next=%2Fconsole%2Fapprovals",
        ),
        ("%2F%2Fevil.example", "/signin/oidc"),
    ] {
        let page = http
            .get(ws.url(&format!("/signin?next={next}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains(&format!("href=\"{start}\"")), "{page}");
    }

    let callback = authorize(&ws, "admin").await;
    let back = http.get(&callback).send().await.unwrap();
    assert_eq!(
        (back.status(), location(&back).as_str()),
        (StatusCode::SEE_OTHER, "/account")
    );
    let cookie = back.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let account = http
        .get(ws.url("/account"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let page = account.text().await.unwrap();
    assert!(page.contains("admin@example.org"), "{page}");
    // The highest role the claim names (["admin", "author"]).
    let all = users(&ws);
    assert_eq!(
        (all.len(), &all[0]["role"], &all[0]["password"]),
        (1, &"admin".into(), &false.into())
    );

    // The same callback again (a replayed state) is refused; no new session.
    let replay = http.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.headers().get(SET_COOKIE).is_none());
    // A state crier never issued, likewise.
    let forged = callback.replace("state=", "state=x");
    assert_eq!(
        http.get(&forged).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );

    // Signing out ends the session here and sends the browser to the
    // provider's end-session endpoint with the ID token as the hint.
    let own = ws.url("");
    let out = http
        .post(ws.url("/signout"))
        .header("cookie", &cookie)
        .header("origin", own.trim_end_matches('/'))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let to = Url::parse(&location(&out)).unwrap();
    assert!(
        to.as_str().starts_with(&format!("{issuer}/session/end")),
        "{to}"
    );
    let q: BTreeMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["id_token_hint"].split('.').count(), 3);
    assert_eq!(q["post_logout_redirect_uri"], ws.url("/signin"));
    let after = http
        .get(ws.url("/account"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);

    let (_, log) = daemon.stop();
    let session = cookie.trim_start_matches("crier_session=");
    for line in &log {
        assert!(
            !line.contains(&secret) && !line.contains(session),
            "a secret in the log: {line}"
        );
        assert!(
            !line.contains(&q["id_token_hint"]),
            "the ID token in the log: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn someone_the_provider_gives_no_crier_role_is_refused() {
    let Some(issuer) = issuer() else { return };
    let (ws, secret) = workspace(&issuer).await;
    let _daemon = ws.start(&[(SECRET_VAR, &secret)]);
    let callback = authorize(&ws, "visitor").await;
    let back = client().get(&callback).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::FORBIDDEN);
    assert!(back.headers().get(SET_COOKIE).is_none());
    assert!(back
        .text()
        .await
        .unwrap()
        .contains("You do not have a role in crier"));
    assert!(
        users(&ws).is_empty(),
        "no account for someone without a role"
    );
}

/// A JWT's claims, read without checking anything.
fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `token` with its claims changed by `change` and its signature kept.
fn altered(token: &str, change: impl Fn(&mut serde_json::Value)) -> String {
    use base64::Engine;
    let mut claims = claims(token);
    change(&mut claims);
    let parts: Vec<&str> = token.split('.').collect();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&claims).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

/// An ID token the provider really issues to another client it has
/// registered, for `login`, carrying `nonce`: the code flow run by the
/// test as that client.
async fn token_of_another_client(issuer: &str, login: &str, nonce: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let redirect = "http://127.0.0.1:9/elsewhere/callback";
    let other = register(issuer, redirect, serde_json::json!({})).await;
    let id = other["client_id"].as_str().unwrap();
    let verifier = "a-verifier-of-enough-length-for-pkce-0123456789abcdef";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let mut url = Url::parse(&format!("{issuer}/auth")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid email profile roles")
        .append_pair("state", "elsewhere")
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let back = Url::parse(&walk(url, login, redirect).await).unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let answer: serde_json::Value = client()
        .post(format!("{issuer}/token"))
        .basic_auth(id, other["client_secret"].as_str())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["id_token"].as_str().unwrap().to_string()
}

/// The callback with a token crier must refuse: a 502 page, no session,
/// no account, and neither the client secret nor any ID token in the log.
async fn assert_refused(
    ws: &Workspace,
    daemon: support::daemon::Daemon,
    callback: &str,
    secret: &str,
    relay: Option<&relay::Relay>,
) {
    let back = client().get(callback).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::BAD_GATEWAY);
    assert!(back.headers().get(SET_COOKIE).is_none());
    assert!(users(ws).is_empty(), "no account from a refused token");
    let (_, log) = daemon.stop();
    let tokens: Vec<String> = relay
        .map(|r| r.tokens().into_iter().flat_map(|(a, b)| [a, b]).collect())
        .unwrap_or_default();
    for line in &log {
        assert!(
            !line.contains(secret),
            "the client secret in the log: {line}"
        );
        for token in &tokens {
            let signature = token.rsplit('.').next().unwrap();
            assert!(!line.contains(signature), "an ID token in the log: {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_altered_after_signing_is_refused() {
    let Some(issuer) = issuer() else { return };
    let (ws, secret) = workspace(&issuer).await;
    // Someone with no crier role, made admin on the way.
    let relay = relay::Relay::start(Box::new(|token| {
        altered(token, |c| c["roles"] = serde_json::json!(["admin"]))
    }))
    .await;
    let env = relay.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push((SECRET_VAR, &secret));
    let daemon = ws.start(&all);
    let callback = authorize(&ws, "visitor").await;
    assert_refused(&ws, daemon, &callback, &secret, Some(&relay)).await;
    let seen = relay.tokens();
    assert_eq!(seen.len(), 1, "crier's exchange went through the relay");
    assert_eq!(claims(&seen[0].0)["roles"], serde_json::json!(["reader"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_the_provider_issued_to_another_client_is_refused() {
    let Some(issuer) = issuer() else { return };
    let (ws, secret) = workspace(&issuer).await;
    let other = Arc::new(Mutex::new(String::new()));
    let swap = other.clone();
    let relay = relay::Relay::start(Box::new(move |_| swap.lock().unwrap().clone())).await;
    let env = relay.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push((SECRET_VAR, &secret));
    let daemon = ws.start(&all);
    let (callback, nonce) = authorize_with_nonce(&ws, "admin").await;
    // The same person and the same nonce: only the audience differs.
    *other.lock().unwrap() = token_of_another_client(&issuer, "admin", &nonce).await;
    assert_refused(&ws, daemon, &callback, &secret, Some(&relay)).await;
    let seen = relay.tokens();
    assert_eq!(seen.len(), 1, "crier's exchange went through the relay");
    let (ours, theirs) = (claims(&seen[0].0), claims(&seen[0].1));
    assert_ne!(ours["aud"], theirs["aud"]);
    assert_eq!(
        (&ours["iss"], &ours["sub"], &ours["nonce"]),
        (&theirs["iss"], &theirs["sub"], &theirs["nonce"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_issued_already_expired_is_refused() {
    let Some(issuer) = issuer() else { return };
    // The provider's clock runs two hours behind for this client: its ID
    // tokens (valid an hour) expired an hour before crier gets them.
    let skewed = serde_json::json!({ "clock_skew_seconds": -7200 });
    let (ws, secret) = workspace_registered(&issuer, skewed).await;
    // Passes everything on unchanged, to show what the provider issued.
    let relay = relay::Relay::start(Box::new(str::to_string)).await;
    let env = relay.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push((SECRET_VAR, &secret));
    let daemon = ws.start(&all);
    let callback = authorize(&ws, "admin").await;
    assert_refused(&ws, daemon, &callback, &secret, Some(&relay)).await;
    let seen = relay.tokens();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, seen[0].1, "passed on as issued");
    let exp = claims(&seen[0].0)["exp"].as_i64().unwrap();
    assert!(
        exp < chrono::Utc::now().timestamp() - 3000,
        "expired: {exp}"
    );
}
