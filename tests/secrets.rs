//! No secret value can end up in command output, and sign-in's secrets
//! (passwords, session ids, API tokens, one-time links, the OpenID client
//! secret) in no log line, page or listing.

mod support;

use std::process::Command;

use crier::diagnostics::Report;
use crier::workspace::Workspace;

#[test]
fn secret_values_never_appear_in_check_or_preview_output() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = root.join("channels.toml");
    let mut report = Report::default();
    let ws = Workspace::load(&config, &mut report).expect("example loads");
    // Every secret every channel names, set to a value we can search for.
    let mut env = Vec::new();
    for channel in &ws.channels {
        for (i, secret) in channel.secrets().into_iter().enumerate() {
            env.push((
                secret.0.clone(),
                format!("s3cr3t-{}-{i}-value", channel.name()),
            ));
        }
    }
    assert!(
        env.len() >= 10,
        "the example names secrets for every network"
    );
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_crier"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let mut outputs = vec![run(&["check"]), run(&["check", "--format", "json"])];
    for item in &ws.items {
        outputs.push(run(&["preview", &item.id]));
        outputs.push(run(&["preview", &item.id, "--format", "json"]));
    }
    // Sanity: the secrets were set, so check no longer notes them missing.
    assert!(!outputs[0].contains("is not set here"), "{}", outputs[0]);
    for out in &outputs {
        for (_, value) in &env {
            assert!(!out.contains(value.as_str()), "secret leaked:\n{out}");
            assert!(!out.contains("s3cr3t"), "secret leaked:\n{out}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_secrets_never_appear_in_logs_pages_or_listings() {
    const PASSWORD: &str = "s3cr3t-password-of-ann";
    const CLIENT_SECRET: &str = "s3cr3t-oidc-client-secret";
    let ws = support::daemon::Workspace::new("[channels.out]\nkind = \"discard\"\n", "");
    ws.write("campaigns/none.toml", "");
    let config = std::fs::read_to_string(ws.config()).unwrap();
    // A provider nobody answers at: its discovery fails, visibly and safely.
    ws.write(
        "channels.toml",
        &format!(
            "{config}\n[auth.oidc]\nissuer = \"http://127.0.0.1:9\"\nclient_id = \"crier\"\n\
             client_secret_env = \"CRIER_TEST_OIDC_SECRET\"\n"
        ),
    );
    let env = [("CRIER_TEST_OIDC_SECRET", CLIENT_SECRET)];
    let daemon = ws.start(&env);
    let text = |o: std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let link = String::from_utf8(
        ws.crier(&["users", "add", "ann@example.org", "--role", "admin"])
            .stdout,
    )
    .unwrap();
    let link_secret = link.trim().rsplit('/').next().unwrap().to_string();
    let token = String::from_utf8(
        ws.crier(&["tokens", "create", "ci", "--role", "author"])
            .stdout,
    )
    .unwrap();
    let token = token.trim().to_string();
    assert!(token.starts_with("crier_live_"));

    crier::channels::http::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut pages = Vec::new();
    let set = http
        .post(link.trim())
        .form(&[("password", PASSWORD), ("confirm", PASSWORD)])
        .send()
        .await
        .unwrap();
    pages.push(set.text().await.unwrap());
    let signin = [
        ("email", "ann@example.org"),
        ("password", PASSWORD),
        ("next", "/account"),
    ];
    let r = http
        .post(ws.url("/signin"))
        .form(&signin)
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let session = cookie.trim_start_matches("crier_session=").to_string();
    let wrong = [
        ("email", "ann@example.org"),
        ("password", "s3cr3t-wrong-guess"),
    ];
    pages.push(
        http.post(ws.url("/signin"))
            .form(&wrong)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    for path in ["/account", "/account/totp", "/signin/oidc"] {
        let r = http
            .get(ws.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        pages.push(r.text().await.unwrap());
    }
    let own = ws.url("");
    let out = http
        .post(ws.url("/signout"))
        .header("cookie", &cookie)
        .header("origin", own.trim_end_matches('/'))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let mut outputs = vec![
        text(ws.crier(&["users", "list"])),
        text(ws.crier(&["users", "list", "--format", "json"])),
        text(ws.crier(&["tokens", "list"])),
        text(ws.crier(&["tokens", "list", "--format", "json"])),
    ];
    let check = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("--config")
        .arg(ws.config())
        .args(["check", "--format", "json"])
        .envs(env)
        .output()
        .unwrap();
    outputs.push(text(check));
    // Without the variable, check says which one is missing (a note).
    let unset = text(ws.crier(&["check"]));
    assert!(
        unset.contains("`CRIER_TEST_OIDC_SECRET` is not set here"),
        "{unset}"
    );
    let (_, log) = daemon.stop();
    let secrets = [
        PASSWORD,
        "s3cr3t-wrong-guess",
        CLIENT_SECRET,
        &session,
        &token,
        &token[11..],
        &link_secret,
    ];
    for (what, texts) in [
        ("log", &log),
        ("page", &pages),
        ("command output", &outputs),
    ] {
        for t in texts.iter() {
            for secret in secrets {
                assert!(!t.contains(secret), "a secret in a {what}: {t}");
            }
        }
    }
}
