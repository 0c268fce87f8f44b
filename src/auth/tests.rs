//! The authenticator over a real store with a hand-set clock: bearer
//! tokens, session cookies with their idle and absolute expiry, and the
//! cross-site check, without sleeping.

use std::sync::Arc;

use axum::http::{Method, Request};
use chrono::{DateTime, TimeDelta, Utc};
use crier_schedule::ManualClock;

use super::*;
use crate::access::{Role, TokenKind};
use crate::diagnostics::{Report, SourceFile};
use crate::store::people::{NewSession, NewToken};
use crate::store::sqlite::SqliteStore;

fn config(auth: &str) -> Config {
    let text = format!(
        "[organisation]\nname = \"Org\"\nwebsite = \"https://example.org\"\n\
         [daemon]\npublic_url = \"https://crier.example.org/\"\n{auth}"
    );
    let mut r = Report::default();
    Config::parse(SourceFile::new("channels.toml", text), &mut r).expect("config parses")
}

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

async fn authenticator(auth: &str) -> (Authenticator, Arc<ManualClock>) {
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(start()));
    let a = Authenticator::with_clock(store, &config(auth), clock.clone());
    (a, clock)
}

fn request(method: Method, headers: &[(&str, &str)]) -> axum::http::request::Parts {
    let mut b = Request::builder().method(method).uri("/api/v1/items");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

#[test]
fn policy_follows_the_public_url() {
    let p = Policy::from_config(&config(""));
    assert_eq!(p.origin, "https://crier.example.org");
    assert!(p.secure_cookie);
    assert_eq!(
        (p.idle, p.absolute),
        (TimeDelta::minutes(60), TimeDelta::hours(12))
    );
    let text = "[organisation]\nname = \"O\"\nwebsite = \"https://e.org\"\n[daemon]\nlisten = \"127.0.0.1:9000\"\n";
    let mut r = Report::default();
    let c = Config::parse(SourceFile::new("c.toml", text.into()), &mut r).unwrap();
    let p = Policy::from_config(&c);
    assert!(!p.secure_cookie, "plain http on loopback");
    assert_eq!(p.origin, "http://127.0.0.1:9000");
}

#[tokio::test]
async fn bearer_tokens_until_revoked_or_expired() {
    let (auth, clock) = authenticator("").await;
    let token = secrets::api_token(TokenKind::Test);
    let new = NewToken {
        name: "ci".into(),
        role: Role::Admin,
        kind: TokenKind::Test,
        hash: digest(&token),
        expires_at: Some(start() + TimeDelta::days(1)),
    };
    auth.people.create_token(&new, start()).await.unwrap();
    let bearer = format!("Bearer {token}");
    // A cross-site header does not matter to a token: no browser sends it.
    let r = request(
        Method::POST,
        &[("authorization", &bearer), ("sec-fetch-site", "cross-site")],
    );
    let p = auth.principal(&r).await.unwrap();
    assert_eq!(p.actor, Actor::Token("ci".into()));
    assert_eq!((p.role, p.token), (Role::Admin, Some(TokenKind::Test)));
    let used = auth.people.tokens().await.unwrap();
    assert_eq!(used[0].last_used_at, Some(start()));
    for bad in [
        "Bearer crier_test_wrong",
        "Basic abc",
        "Bearer ",
        &format!("bearer {token}"),
    ] {
        let r = request(Method::GET, &[("authorization", bad)]);
        assert_eq!(
            auth.principal(&r).await,
            Err(Refusal::Unauthenticated),
            "{bad}"
        );
    }
    clock.set(start() + TimeDelta::days(1));
    let r = request(Method::GET, &[("authorization", &bearer)]);
    assert_eq!(
        auth.principal(&r).await,
        Err(Refusal::Unauthenticated),
        "expired"
    );
}

async fn session_for(auth: &Authenticator, email: &str) -> String {
    let account = auth
        .people
        .add_account(email, Role::Approver, auth.now())
        .await
        .unwrap();
    let id = secrets::random();
    let now = auth.now();
    let new = NewSession {
        id_hash: digest(&id),
        account_id: account.id,
        idle_expires_at: now + auth.policy.idle,
        absolute_expires_at: now + auth.policy.absolute,
        id_token_hint: None,
    };
    auth.people.create_session(&new, now).await.unwrap();
    format!("theme=dark; {COOKIE}={id}")
}

#[tokio::test]
async fn sessions_renew_while_used_and_end_idle_or_absolute() {
    let (auth, clock) =
        authenticator("[auth]\nsession_idle_minutes = 30\nsession_absolute_hours = 2\n").await;
    let cookie = session_for(&auth, "Ann@example.org").await;
    let get = || request(Method::GET, &[("cookie", &cookie)]);
    let p = auth.principal(&get()).await.unwrap();
    assert_eq!(
        (p.actor, p.role, p.token),
        (
            Actor::Person("ann@example.org".into()),
            Role::Approver,
            None
        )
    );
    // Used every 25 minutes, it lives to its absolute end, not past it.
    for minutes in (25..120).step_by(25) {
        clock.set(start() + TimeDelta::minutes(minutes));
        assert!(auth.principal(&get()).await.is_ok(), "at {minutes} minutes");
    }
    clock.set(start() + TimeDelta::minutes(120));
    assert_eq!(
        auth.principal(&get()).await,
        Err(Refusal::Unauthenticated),
        "absolute"
    );
    // Left alone for the idle time, it ends.
    clock.set(start());
    let cookie = session_for(&auth, "bob@example.org").await;
    let r = request(Method::GET, &[("cookie", &cookie)]);
    clock.set(start() + TimeDelta::minutes(29));
    assert!(auth.principal(&r).await.is_ok());
    clock.set(start() + TimeDelta::minutes(29 + 30));
    assert_eq!(
        auth.principal(&r).await,
        Err(Refusal::Unauthenticated),
        "idle"
    );
}

#[tokio::test]
async fn cookie_writes_from_another_site_are_refused() {
    let (auth, _) = authenticator("").await;
    let cookie = session_for(&auth, "ann@example.org").await;
    let cases = [
        (
            Method::POST,
            vec![("origin", "https://crier.example.org")],
            true,
        ),
        (Method::POST, vec![("sec-fetch-site", "same-origin")], true),
        (
            Method::POST,
            vec![("origin", "https://evil.example")],
            false,
        ),
        (
            Method::DELETE,
            vec![("sec-fetch-site", "cross-site")],
            false,
        ),
        (Method::GET, vec![("sec-fetch-site", "cross-site")], true),
    ];
    for (method, mut headers, allowed) in cases {
        headers.push(("cookie", &cookie));
        let got = auth.principal(&request(method.clone(), &headers)).await;
        if allowed {
            assert!(got.is_ok(), "{method} {headers:?}: {got:?}");
        } else {
            assert_eq!(got, Err(Refusal::CrossSite), "{method} {headers:?}");
        }
    }
    let r = request(Method::GET, &[("cookie", "crier_session=unknown")]);
    assert_eq!(auth.principal(&r).await, Err(Refusal::Unauthenticated));
    assert_eq!(
        auth.principal(&request(Method::GET, &[])).await,
        Err(Refusal::Unauthenticated)
    );
}

#[test]
fn cookies_are_http_only_lax_and_secure_off_loopback() {
    let store_less = |public: &str| {
        let text = format!(
            "[organisation]\nname = \"O\"\nwebsite = \"https://e.org\"\n[daemon]\npublic_url = \"{public}\"\n"
        );
        let mut r = Report::default();
        Policy::from_config(&Config::parse(SourceFile::new("c.toml", text), &mut r).unwrap())
    };
    assert!(store_less("https://crier.example.org").secure_cookie);
    assert!(
        store_less("http://crier.example.org").secure_cookie,
        "never plain over a network"
    );
    assert!(!store_less("http://localhost:8080").secure_cookie);
}
