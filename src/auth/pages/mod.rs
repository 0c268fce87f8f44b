//! The sign-in pages: `/signin`, `/signout`, `/setup/{secret}` (the first
//! admin), `/password/{secret}` (set a password), `/account` (who you are)
//! with `/account/totp` (a second factor), and the OpenID Connect routes.
//! GOV.UK Design System patterns, plain forms, no JavaScript.

mod account;
mod links;
mod signin;

use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use handlebars::html_escape as esc;
use tracing::warn;

use super::{secrets, Authenticator};
use crate::access::Refusal;
use crate::render::page::page;
use crate::store::people::{digest, NewSession};
use crate::store::StoreError;

type S = axum::extract::State<Arc<Authenticator>>;
type Fields = axum::Form<Vec<(String, String)>>;

/// The pages, for the daemon to merge into its router.
pub fn routes(auth: Arc<Authenticator>) -> Router {
    let mut router = Router::new()
        .route("/signin", get(signin::form).post(signin::submit))
        .route("/signout", post(account::signout))
        .route("/setup/{secret}", get(links::setup_form).post(links::setup))
        .route(
            "/password/{secret}",
            get(links::password_form).post(links::password),
        )
        .route("/account", get(account::show))
        .route("/account/totp", get(account::totp_form).post(account::totp));
    if let Some(provider) = &auth.oidc {
        router = router
            .route("/signin/oidc", get(super::oidc::start))
            .route(&provider.config.redirect_path, get(super::oidc::callback));
    }
    router.with_state(auth)
}

/// A form field's value, trimmed ("" if absent).
fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// A password field's value, untrimmed: spaces may be part of it.
fn raw_field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// A GOV.UK form group: label, optional hint, input.
fn input(id: &str, label: &str, kind: &str, autocomplete: &str, value: &str, hint: &str) -> String {
    let (hint_html, described) = if hint.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!(
                "<div id=\"{id}-hint\" class=\"govuk-hint\">{}</div>\n",
                esc(hint)
            ),
            format!(" aria-describedby=\"{id}-hint\""),
        )
    };
    format!(
        "<div class=\"govuk-form-group\">\n<label class=\"govuk-label\" for=\"{id}\">{}</label>\n\
         {hint_html}<input class=\"govuk-input\" id=\"{id}\" name=\"{id}\" type=\"{kind}\" \
         autocomplete=\"{autocomplete}\" spellcheck=\"false\" value=\"{}\"{described}>\n</div>\n",
        esc(label),
        esc(value),
    )
}

fn button(text: &str) -> String {
    format!(
        "<button type=\"submit\" class=\"govuk-button\">{}</button>\n",
        esc(text)
    )
}

/// A 303 to `to`, with cookies to set.
fn see_other(to: &str, cookies: &[String]) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = to.parse() {
        headers.insert(header::LOCATION, v);
    }
    for c in cookies {
        if let Ok(v) = c.parse() {
            headers.append(header::SET_COOKIE, v);
        }
    }
    headers.insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("a header value"),
    );
    (StatusCode::SEE_OTHER, headers).into_response()
}

fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sorry, there is a problem with the service",
        "<p>Try again later.</p>",
    )
}

fn store_failed(e: StoreError) -> Response {
    warn!("sign-in page: {e}");
    unavailable()
}

fn refused(r: Refusal) -> Response {
    match r {
        Refusal::CrossSite => page(
            StatusCode::FORBIDDEN,
            "This request came from another site",
            "<p>Nothing was changed. Go back to the page you came from on this site and try again.</p>",
        ),
        Refusal::Unauthenticated => see_other("/signin", &[]),
        Refusal::Unavailable(_) => unavailable(),
    }
}

/// Opens a session for `account_id`; the `Set-Cookie` value to send.
async fn open_session(
    auth: &Authenticator,
    account_id: i64,
    id_token_hint: Option<String>,
) -> Result<String, StoreError> {
    let id = secrets::random();
    let now = auth.now();
    let session = NewSession {
        id_hash: digest(&id),
        account_id,
        idle_expires_at: now + auth.policy.idle,
        absolute_expires_at: now + auth.policy.absolute,
        id_token_hint,
    };
    auth.people.create_session(&session, now).await?;
    Ok(auth.session_cookie(&id))
}

/// A plain 303 (the OpenID redirects).
pub(super) fn see_other_to(to: &str) -> Response {
    see_other(to, &[])
}

/// The end of an OpenID sign-in: the account made or given `role`, a
/// session opened that remembers the ID token for the provider's sign-out.
pub(super) async fn oidc_session(
    auth: &Authenticator,
    email: &str,
    role: crate::access::Role,
    id_token: String,
    next: &str,
) -> Response {
    let account = match auth.people.upsert_account(email, role, auth.now()).await {
        Ok(a) if !a.disabled => a,
        Ok(_) => {
            return page(
                StatusCode::FORBIDDEN,
                "Your account is disabled",
                "<p>Ask your administrator.</p>",
            )
        }
        Err(e) => return store_failed(e),
    };
    match open_session(auth, account.id, Some(id_token)).await {
        Ok(cookie) => {
            tracing::info!(account = %account.email, role = %role, "signed in with the OpenID provider");
            see_other(safe_next(next), &[cookie])
        }
        Err(e) => store_failed(e),
    }
}

/// Where to go after signing in: a path on this site, never another site
/// (`//evil.example` is a URL, not a path).
fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    if local && !next.contains(['\r', '\n']) {
        next
    } else {
        "/account"
    }
}
