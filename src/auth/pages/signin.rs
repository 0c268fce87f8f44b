//! `GET/POST /signin`: email, password and, for accounts that set one up,
//! a code. One answer for every failure — never whether the account
//! exists — and as much work for an unknown account as for a wrong
//! password. Failures are counted per typed address and per client
//! address; past the limit nothing is checked until the window passes.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::TimeDelta;
use handlebars::html_escape as esc;
use tracing::info;

use super::{button, field, input, open_session, raw_field, safe_next, see_other, store_failed};
use super::{Fields, S};
use crate::auth::{password, totp, Authenticator};
use crate::render::page::{page, page_with_errors};
use crate::store::people::fold_email;

/// Failed sign-ins allowed per typed address within [`WINDOW`].
pub const PER_ACCOUNT: u32 = 10;
/// Failed sign-ins allowed per client address within [`WINDOW`] (an office
/// shares one address).
pub const PER_CLIENT: u32 = 50;
pub const WINDOW: TimeDelta = TimeDelta::minutes(15);

const FAILED: &str = "Enter a correct email address and password, and the code from your \
                      authenticator app if you set one up";

#[derive(serde::Deserialize)]
pub struct Next {
    #[serde(default)]
    next: String,
}

pub async fn form(State(auth): S, Query(q): Query<Next>) -> Response {
    signin_page(&auth, StatusCode::OK, None, "", &q.next)
}

/// The way to the provider, carrying where the person was going (as the
/// password form does), so they come back there.
fn oidc_start(next: &str) -> String {
    if next.is_empty() || safe_next(next) != next {
        return "/signin/oidc".into();
    }
    let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("/signin/oidc?next={next}")
}

fn signin_page(
    auth: &Authenticator,
    status: StatusCode,
    error: Option<&str>,
    email: &str,
    next: &str,
) -> Response {
    let oidc = match &auth.oidc {
        Some(_) => format!(
            "<p><a class=\"govuk-button govuk-button--secondary\" href=\"{}\">\
             Sign in with your organisation account</a></p>\n<p>Or sign in with a \
             password:</p>\n",
            // Percent-encoded: nothing in it needs escaping in HTML.
            oidc_start(next)
        ),
        None => String::new(),
    };
    let body = format!(
        "{oidc}<form method=\"post\" action=\"/signin\" novalidate>\n\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\n{}{}{}{}</form>\n",
        esc(safe_next(next)),
        input("email", "Email address", "email", "username", email, ""),
        input(
            "password",
            "Password",
            "password",
            "current-password",
            "",
            ""
        ),
        input(
            "code",
            "Code from your authenticator app",
            "text",
            "one-time-code",
            "",
            "Only if you set one up for your account"
        ),
        button("Sign in"),
    );
    let errors: Vec<(&str, &str)> = error.map(|e| ("email", e)).into_iter().collect();
    page_with_errors(status, "Sign in", &errors, &body)
}

fn too_many() -> Response {
    page(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts to sign in",
        "<p>Wait 15 minutes, then try again.</p>",
    )
}

pub async fn submit(
    State(auth): S,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    axum::Form(fields): Fields,
) -> Response {
    let email = fold_email(&field(&fields, "email"));
    let next = field(&fields, "next");
    let keys = [format!("account:{email}"), format!("client:{}", peer.ip())];
    let now = auth.now();
    let since = now - WINDOW;
    for (key, limit) in keys.iter().zip([PER_ACCOUNT, PER_CLIENT]) {
        match auth.people.attempts(key, since).await {
            Ok(n) if n >= limit => return too_many(),
            Ok(_) => {}
            Err(e) => return store_failed(e),
        }
    }
    let account = match auth.people.account(&email).await {
        Ok(a) => a.filter(|a| !a.disabled),
        Err(e) => return store_failed(e),
    };
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let mut ok = password::verify(raw_field(&fields, "password"), stored).await;
    if let Some(secret) = account.as_ref().and_then(|a| a.totp_secret.as_deref()) {
        ok &= totp::verify(secret, &field(&fields, "code"), now);
    }
    let account = match account {
        Some(a) if ok => a,
        _ => {
            for key in &keys {
                if let Err(e) = auth.people.record_attempt(key, since, now).await {
                    return store_failed(e);
                }
            }
            let echo = field(&fields, "email");
            return signin_page(&auth, StatusCode::BAD_REQUEST, Some(FAILED), &echo, &next);
        }
    };
    if let Err(e) = auth.people.clear_attempts(&keys[0]).await {
        return store_failed(e);
    }
    match open_session(&auth, account.id, None).await {
        Ok(cookie) => {
            info!(account = %account.email, "signed in with a password");
            see_other(safe_next(&next), &[cookie])
        }
        Err(e) => store_failed(e),
    }
}
