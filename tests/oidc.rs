//! Sign-in with a real OpenID provider (oidc-provider on loopback, started
//! by scripts/test.sh; `CRIER_OIDC_URL` names it): each test registers its
//! own client with the redirect URI of the daemon it starts, then walks
//! the authorization code flow as a browser would — crier's redirect, the
//! provider's login and consent forms, the callback — with reqwest.
//! Token checks that need a forged answer (tampered, wrong audience,
//! expired) are tested with real signatures in `src/auth/oidc/jwt.rs`.

mod support;

use std::collections::BTreeMap;

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
    let ws = Workspace::new("[channels.out]\nkind = \"discard\"\n", "");
    ws.write("campaigns/none.toml", "");
    let registration = serde_json::json!({
        "redirect_uris": [ws.url("/signin/oidc/callback")],
        "post_logout_redirect_uris": [ws.url("/signin")],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let reg: serde_json::Value = client()
        .post(format!("{issuer}/reg"))
        .json(&registration)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let http = client();
    let start = http.get(ws.url("/signin/oidc")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let mut url = Url::parse(&location(&start)).unwrap();
    let query: BTreeMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query.contains_key("nonce") && query.contains_key("state"));
    let mut jar = Jar::default();
    let callback = ws.url("/signin/oidc/callback");
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
        if next.starts_with(&callback) {
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
