//! The web console under `/console/`: server-rendered GOV.UK pages for the
//! comms team, working fully without JavaScript (a small script only
//! enhances). A face on the HTTP API, never a second implementation:
//! every read and change is an API call made in process with the
//! visitor's own session (`client`), so the API's permission table is the
//! console's too. Each page also names the permission it needs in
//! [`PAGES`]; a page a role may not use is refused on the server, not
//! just hidden.

mod approvals;
mod calendar;
mod calendar_view;
mod channels;
mod client;
// Composer (issue #11 item 2).
mod compose;
mod compose_draft;
mod compose_form;
mod compose_preview;
mod compose_schedule;
mod form;
mod history;
mod item;
pub mod layout;
mod pause;
// Review links for someone outside the team (issue #11 item 8).
mod review;
mod send_test;
mod subscribers;
mod subscribers_counts;
mod subscribers_import;

use std::sync::{Arc, RwLock};

use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use handlebars::html_escape as esc;

use crate::access::{Authenticate, Permission, Refusal};
use crate::store::Paused;
use crate::workspace::Workspace;
pub use client::{Api, Failure};
use layout::Frame;

/// Every console page: (method, route, the permission it needs). The
/// guard refuses a route missing here; the route × role test reads it.
pub const PAGES: &[(&str, &str, Permission)] = &[
    ("GET", "/console/", Permission::Read),
    ("GET", "/console/items/{id}", Permission::Read),
    (
        "POST",
        "/console/deliveries/{id}/{action}",
        Permission::Read,
    ),
    // Approvals, pause and resume, channels, subscribers (issue #11 items 3, 5, 6, 7).
    ("GET", "/console/approvals", Permission::Read),
    (
        "POST",
        "/console/approvals/{item}/{decision}",
        Permission::Approve,
    ),
    ("GET", "/console/pause", Permission::Operate),
    ("POST", "/console/pause", Permission::Operate),
    ("GET", "/console/resume", Permission::Operate),
    ("POST", "/console/resume", Permission::Operate),
    ("GET", "/console/channels", Permission::Read),
    ("POST", "/console/channels/{name}/test", Permission::Operate),
    ("GET", "/console/subscribers", Permission::PersonalData),
    (
        "GET",
        "/console/subscribers/person",
        Permission::PersonalData,
    ),
    (
        "GET",
        "/console/subscribers/export",
        Permission::PersonalData,
    ),
    (
        "GET",
        "/console/subscribers/erase",
        Permission::PersonalData,
    ),
    (
        "POST",
        "/console/subscribers/erase",
        Permission::PersonalData,
    ),
    (
        "GET",
        "/console/subscribers/import",
        Permission::PersonalData,
    ),
    (
        "POST",
        "/console/subscribers/import",
        Permission::PersonalData,
    ),
    // Composer: new items and edits (compose.rs).
    ("GET", "/console/items/new", Permission::Edit),
    ("POST", "/console/items/new", Permission::Edit),
    ("GET", "/console/items/{id}/edit", Permission::Edit),
    ("POST", "/console/items/{id}/edit", Permission::Edit),
    // The test send of an item's email (send_test.rs).
    ("GET", "/console/items/{id}/send-test", Permission::Edit),
    ("POST", "/console/items/{id}/send-test", Permission::Edit),
    // Review links (review.rs); the page a link opens, /review/{token},
    // is outside the console: its secret is its credential.
    (
        "GET",
        "/console/items/{id}/review-links/new",
        Permission::Edit,
    ),
    (
        "POST",
        "/console/items/{id}/review-links/new",
        Permission::Edit,
    ),
    (
        "POST",
        "/console/review-links/{id}/revoke",
        Permission::Edit,
    ),
    // An item's earlier versions, with diffs (history.rs).
    ("GET", "/console/items/{id}/history", Permission::Read),
];

pub struct Console {
    pub api: Api,
    pub auth: Arc<dyn Authenticate>,
    /// For the organisation's name, colour and timezone (reloaded content).
    pub workspace: Arc<RwLock<Arc<Workspace>>>,
}

/// The console's routes, for the daemon to merge beside the API's.
pub fn routes(console: Console) -> Router {
    let console = Arc::new(console);
    let pages = Router::new()
        .route("/console/", get(calendar::show))
        .route("/console/items/{id}", get(item::show))
        .route(
            "/console/deliveries/{id}/{action}",
            axum::routing::post(item::act),
        )
        // Approvals, pause and resume, channels, subscribers.
        .route("/console/approvals", get(approvals::show))
        .route(
            "/console/approvals/{item}/{decision}",
            post(approvals::decide),
        )
        .route("/console/pause", get(pause::confirm).post(pause::pause))
        .route("/console/resume", get(pause::show).post(pause::resume))
        .route("/console/channels", get(channels::show))
        .route("/console/channels/{name}/test", post(channels::test))
        .route("/console/subscribers", get(subscribers::search))
        .route("/console/subscribers/person", get(subscribers::person))
        .route("/console/subscribers/export", get(subscribers::export))
        .route(
            "/console/subscribers/erase",
            get(subscribers::confirm_erase).post(subscribers::erase),
        )
        .route(
            "/console/subscribers/import",
            get(subscribers_import::form)
                .post(subscribers_import::import)
                .layer(axum::extract::DefaultBodyLimit::max(
                    subscribers_import::BODY_LIMIT,
                )),
        )
        // Composer: new items and edits (compose.rs).
        .route(
            "/console/items/new",
            get(compose::new).post(compose::new_step),
        )
        .route(
            "/console/items/{id}/edit",
            get(compose::edit).post(compose::edit_step),
        )
        .route(
            "/console/items/{id}/send-test",
            get(send_test::form).post(send_test::send),
        )
        .route(
            "/console/items/{id}/review-links/new",
            get(review::form).post(review::create),
        )
        .route("/console/review-links/{id}/revoke", post(review::revoke))
        .route("/console/items/{id}/history", get(history::show))
        .route_layer(axum::middleware::from_fn(guard));
    pages
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/assets/style.css", get(style))
        .route("/console/assets/enhance.js", get(script))
        .route("/review/{token}", get(review::public))
        .with_state(console)
}

/// Refuses a page not in [`PAGES`] (a page added without a permission is
/// never open by mistake); the permission itself is checked by [`Visit`].
async fn guard(matched: MatchedPath, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_string();
    let Some(&(_, _, permission)) = PAGES
        .iter()
        .find(|(m, p, _)| *m == method && *p == matched.as_str())
    else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let mut request = request;
    request.extensions_mut().insert(permission);
    next.run(request).await
}

/// The signed-in visitor of a console page: their frame, and the headers
/// that make API calls on their behalf.
pub struct Visit {
    pub frame: Frame,
    pub who: HeaderMap,
}

impl FromRequestParts<Arc<Console>> for Visit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, c: &Arc<Console>) -> Result<Visit, Response> {
        let path = parts.uri.path().to_string();
        let principal = match c.auth.principal(parts).await {
            Ok(p) => p,
            Err(Refusal::Unauthenticated) => {
                let next = parts.uri.path_and_query().map_or("/console/", |p| p.as_str());
                let to = format!("/signin?next={}", form::enc(next));
                return Err(Redirect::to(&to).into_response());
            }
            Err(Refusal::CrossSite) => return Err(plain(StatusCode::FORBIDDEN, "This request came from another site", "Nothing was changed. Go back to the page you came from on this site and try again.")),
            Err(Refusal::Unavailable(m)) => return Err(plain(StatusCode::SERVICE_UNAVAILABLE, "Sorry, there is a problem with the service", &m)),
        };
        let who = client::carried(&parts.headers);
        let paused: Paused = c.api.get(&who, "/api/v1/pause").await.map_err(|f| {
            plain(
                f.status,
                "Sorry, there is a problem with the service",
                &f.problem.title,
            )
        })?;
        let org = c
            .workspace
            .read()
            .expect("workspace lock")
            .config
            .organisation
            .clone();
        let colour = org.colour.clone().unwrap_or_else(|| "#0b0c0c".into());
        let frame = Frame {
            org: org.name,
            colour: (colour.clone(), layout::text_on(&colour)),
            timezone: org.timezone,
            principal,
            paused,
            path,
        };
        let needed = parts.extensions.get::<Permission>().copied();
        if let Some(p) = needed.filter(|p| !frame.may(*p)) {
            return Err(not_allowed(&frame, p));
        }
        Ok(Visit { frame, who })
    }
}

impl Visit {
    /// A page for what the API refused: its title and detail, in words.
    pub fn failed(&self, f: &Failure) -> Response {
        let p = &f.problem;
        let detail = p.detail.as_deref().unwrap_or("");
        let body = format!("<p class=\"govuk-body\">{}</p>", esc(detail));
        layout::page_with(&self.frame, f.status, &p.title, &[], &body)
    }
}

fn not_allowed(frame: &Frame, p: Permission) -> Response {
    let body = format!(
        "<p class=\"govuk-body\">This page needs the {} role or higher; you are {}.</p>\
         <p class=\"govuk-body\"><a class=\"govuk-link\" href=\"/console/\">Go to the calendar</a></p>",
        p.least_role(),
        frame.principal.role
    );
    layout::page_with(
        frame,
        StatusCode::FORBIDDEN,
        "You cannot use this page",
        &[],
        &body,
    )
}

/// A page without the frame (before anyone is known).
fn plain(status: StatusCode, title: &str, detail: &str) -> Response {
    crate::render::page::page(status, title, &format!("<p>{}</p>", esc(detail)))
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", include_str!("style.css"))
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("enhance.js"))
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_calendar;
#[cfg(test)]
mod tests_compose;
#[cfg(test)]
mod tests_history;
#[cfg(test)]
mod tests_pages;
#[cfg(test)]
mod tests_review;
#[cfg(test)]
mod tests_subscribers;
