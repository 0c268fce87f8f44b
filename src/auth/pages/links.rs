//! `/setup/{secret}` (the first admin: email and password, from the link
//! `crier serve` prints on first run) and `/password/{secret}` (set a
//! password, from `crier users add` or `users reset`). A GET only shows
//! the form; the link is used up by the POST that succeeds.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use handlebars::html_escape as esc;
use tracing::info;

use super::{button, field, input, open_session, raw_field, see_other, store_failed};
use super::{Fields, S};
use crate::access::Role;
use crate::auth::{password, secrets, Authenticator};
use crate::render::page::{page, page_with_errors};
use crate::store::people::{digest, fold_email, LinkPurpose};
use crate::store::StoreError;

fn dead_link() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "This link does not work",
        "<p>It may have expired or been used already. Ask an administrator for a new one \
         (<code>crier users reset</code>), or, to set up a new installation, restart crier \
         for a new setup link.</p>",
    )
}

/// Whether the link is live for `purpose` (and, for setup, nobody has an account).
async fn live(
    auth: &Authenticator,
    secret: &str,
    purpose: LinkPurpose,
) -> Result<Option<Option<String>>, StoreError> {
    if !secrets::looks_random(secret) {
        return Ok(None);
    }
    let found = auth
        .people
        .peek_link(&digest(secret), purpose, auth.now())
        .await?;
    if purpose == LinkPurpose::Setup && auth.people.account_count().await? > 0 {
        return Ok(None);
    }
    Ok(found.map(|l| l.email))
}

fn setup_page(secret: &str, errors: &[(&str, &str)], email: &str) -> Response {
    let body =
        format!(
        "<p>Create the first administrator's account. You can add other people afterwards.</p>\n\
         <form method=\"post\" action=\"/setup/{}\" novalidate>\n{}{}{}{}</form>\n",
        esc(secret),
        input("email", "Email address", "email", "username", email, ""),
        input("password", "Password", "password", "new-password", "", "At least 12 characters"),
        input("confirm", "Confirm password", "password", "new-password", "", ""),
        button("Create account"),
    );
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page_with_errors(status, "Set up crier", errors, &body)
}

pub async fn setup_form(State(auth): S, Path(secret): Path<String>) -> Response {
    match live(&auth, &secret, LinkPurpose::Setup).await {
        Ok(Some(_)) => setup_page(&secret, &[], ""),
        Ok(None) => dead_link(),
        Err(e) => store_failed(e),
    }
}

pub async fn setup(
    State(auth): S,
    Path(secret): Path<String>,
    axum::Form(fields): Fields,
) -> Response {
    let typed = field(&fields, "email");
    let email = fold_email(&typed);
    let pw = raw_field(&fields, "password");
    let email_ok = email.len() <= 254 && email.split('@').count() == 2 && email.contains('.');
    let problem = if !email_ok {
        Some(("email", "Enter an email address, like name@example.org"))
    } else {
        password::problem(&pw, &raw_field(&fields, "confirm")).map(|m| ("password", m))
    };
    if let Some(error) = problem {
        return match live(&auth, &secret, LinkPurpose::Setup).await {
            Ok(Some(_)) => setup_page(&secret, &[error], &typed),
            Ok(None) => dead_link(),
            Err(e) => store_failed(e),
        };
    }
    match create_first_admin(&auth, &secret, &email, pw).await {
        Ok(Some(cookie)) => see_other("/account", &[cookie]),
        Ok(None) => dead_link(),
        Err(e) => store_failed(e),
    }
}

/// Uses the setup link and creates the admin; the session cookie, or `None`
/// if the link is dead or someone else got there first.
async fn create_first_admin(
    auth: &Authenticator,
    secret: &str,
    email: &str,
    pw: String,
) -> Result<Option<String>, StoreError> {
    if !secrets::looks_random(secret) {
        return Ok(None);
    }
    let now = auth.now();
    let link = auth
        .people
        .consume_link(&digest(secret), LinkPurpose::Setup, now)
        .await?;
    if link.is_none() || auth.people.account_count().await? > 0 {
        return Ok(None);
    }
    let hash = password::hash(pw)
        .await
        .map_err(|e| StoreError::Other(e.to_string()))?;
    let account = auth.people.add_account(email, Role::Admin, now).await?;
    auth.people.set_password(account.id, &hash, now).await?;
    info!(account = %account.email, "first administrator created with the setup link");
    open_session(auth, account.id, None).await.map(Some)
}

fn password_page(secret: &str, email: &str, errors: &[(&str, &str)]) -> Response {
    let body = format!(
        "<p>For the account <strong>{}</strong>.</p>\n\
         <form method=\"post\" action=\"/password/{}\" novalidate>\n{}{}{}</form>\n",
        esc(email),
        esc(secret),
        input(
            "password",
            "New password",
            "password",
            "new-password",
            "",
            "At least 12 characters"
        ),
        input(
            "confirm",
            "Confirm new password",
            "password",
            "new-password",
            "",
            ""
        ),
        button("Set password"),
    );
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page_with_errors(status, "Set your password", errors, &body)
}

pub async fn password_form(State(auth): S, Path(secret): Path<String>) -> Response {
    match live(&auth, &secret, LinkPurpose::Password).await {
        Ok(Some(Some(email))) => password_page(&secret, &email, &[]),
        Ok(_) => dead_link(),
        Err(e) => store_failed(e),
    }
}

pub async fn password(
    State(auth): S,
    Path(secret): Path<String>,
    axum::Form(fields): Fields,
) -> Response {
    let pw = raw_field(&fields, "password");
    if let Some(m) = password::problem(&pw, &raw_field(&fields, "confirm")) {
        return match live(&auth, &secret, LinkPurpose::Password).await {
            Ok(Some(Some(email))) => password_page(&secret, &email, &[("password", m)]),
            Ok(_) => dead_link(),
            Err(e) => store_failed(e),
        };
    }
    match set_password(&auth, &secret, pw).await {
        Ok(true) => page(
            StatusCode::OK,
            "Your password is set",
            "<p><a href=\"/signin\">Sign in</a> with your email address and new password.</p>",
        ),
        Ok(false) => dead_link(),
        Err(e) => store_failed(e),
    }
}

async fn set_password(auth: &Authenticator, secret: &str, pw: String) -> Result<bool, StoreError> {
    if !secrets::looks_random(secret) {
        return Ok(false);
    }
    let now = auth.now();
    let link = auth
        .people
        .consume_link(&digest(secret), LinkPurpose::Password, now)
        .await?;
    let Some(email) = link.and_then(|l| l.email) else {
        return Ok(false);
    };
    let Some(account) = auth.people.account(&email).await? else {
        return Ok(false);
    };
    let hash = password::hash(pw)
        .await
        .map_err(|e| StoreError::Other(e.to_string()))?;
    auth.people.set_password(account.id, &hash, now).await?;
    // Whoever held the old password is signed out everywhere.
    auth.people.delete_sessions_of(account.id).await?;
    auth.people
        .clear_attempts(&format!("account:{}", account.email))
        .await?;
    info!(account = %account.email, "password set with a one-time link");
    Ok(true)
}
