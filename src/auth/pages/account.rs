//! `/account` (who you are signed in as, sign out), `/account/totp` (turn
//! on a second factor) and `POST /signout`.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use handlebars::html_escape as esc;
use tracing::info;

use super::{button, field, input, refused, see_other, store_failed};
use super::{Fields, S};
use crate::auth::{cookie, csrf, totp, Authenticator, COOKIE};
use crate::render::page::{page, page_with_errors};
use crate::store::people::{digest, Session};

/// The signed-in session, or the response that sends the person to sign in.
async fn signed_in(
    auth: &Authenticator,
    method: &Method,
    headers: &HeaderMap,
    here: &str,
) -> Result<Session, Response> {
    csrf::check(method, headers, &auth.policy.origin).map_err(refused)?;
    match auth.session(headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(see_other(&format!("/signin?next={here}"), &[])),
        Err(r) => Err(refused(r)),
    }
}

pub async fn show(State(auth): S, method: Method, headers: HeaderMap) -> Response {
    let session = match signed_in(&auth, &method, &headers, "/account").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let a = &session.account;
    let second = if a.totp_secret.is_some() {
        "On".to_string()
    } else {
        "Off (<a href=\"/account/totp\">set up a second factor</a>)".to_string()
    };
    let body = format!(
        "<dl class=\"govuk-summary-list\">\n\
         <div class=\"govuk-summary-list__row\"><dt>Email address</dt><dd>{}</dd></div>\n\
         <div class=\"govuk-summary-list__row\"><dt>Role</dt><dd>{}</dd></div>\n\
         <div class=\"govuk-summary-list__row\"><dt>Second factor</dt><dd>{second}</dd></div>\n\
         </dl>\n<form method=\"post\" action=\"/signout\">\n{}</form>\n",
        esc(&a.email),
        a.role,
        button("Sign out"),
    );
    page(StatusCode::OK, "Your account", &body)
}

pub async fn signout(State(auth): S, method: Method, headers: HeaderMap) -> Response {
    if let Err(r) = csrf::check(&method, &headers, &auth.policy.origin) {
        return refused(r);
    }
    let Some(id) = cookie(&headers, COOKIE) else {
        return see_other("/signin", &[auth.cleared_cookie()]);
    };
    let hash = digest(id);
    let hint = match auth.people.session(&hash, auth.now()).await {
        Ok(s) => s.and_then(|s| s.id_token_hint),
        Err(e) => return store_failed(e),
    };
    if let Err(e) = auth.people.delete_session(&hash).await {
        return store_failed(e);
    }
    info!("signed out");
    let to = match (&auth.oidc, hint) {
        (Some(provider), Some(hint)) => provider.end_session_url(&hint).await,
        _ => None,
    };
    see_other(to.as_deref().unwrap_or("/signin"), &[auth.cleared_cookie()])
}

fn totp_page(auth: &Authenticator, email: &str, secret: &str, error: Option<&str>) -> Response {
    let body = format!(
        "<p>Add this account to an authenticator app, then enter the code it shows. From then \
         on, signing in asks for a code as well as your password.</p>\n\
         <p>Key to type into the app: <code>{}</code></p>\n\
         <p>Or, if your app takes a link: <code>{}</code></p>\n\
         <form method=\"post\" action=\"/account/totp\" novalidate>\n\
         <input type=\"hidden\" name=\"secret\" value=\"{}\">\n{}{}</form>\n",
        esc(secret),
        esc(&totp::uri(secret, &format!("crier {}", auth.org), email)),
        esc(secret),
        input(
            "code",
            "Code from the app",
            "text",
            "one-time-code",
            "",
            "6 digits"
        ),
        button("Turn on"),
    );
    let errors: Vec<(&str, &str)> = error.map(|e| ("code", e)).into_iter().collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page_with_errors(status, "Set up a second factor", &errors, &body)
}

pub async fn totp_form(State(auth): S, method: Method, headers: HeaderMap) -> Response {
    match signed_in(&auth, &method, &headers, "/account/totp").await {
        Ok(s) if s.account.totp_secret.is_some() => see_other("/account", &[]),
        Ok(s) => totp_page(&auth, &s.account.email, &totp::new_secret(), None),
        Err(r) => r,
    }
}

pub async fn totp(
    State(auth): S,
    method: Method,
    headers: HeaderMap,
    axum::Form(fields): Fields,
) -> Response {
    let session = match signed_in(&auth, &method, &headers, "/account/totp").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let secret = field(&fields, "secret");
    if !totp::verify(&secret, &field(&fields, "code"), auth.now()) {
        let error = Some("Enter the 6-digit code your app shows now");
        return totp_page(&auth, &session.account.email, &secret, error);
    }
    match auth
        .people
        .set_totp(session.account.id, Some(&secret), auth.now())
        .await
    {
        Ok(()) => {
            info!(account = %session.account.email, "second factor turned on");
            see_other("/account", &[])
        }
        Err(e) => store_failed(e),
    }
}
