//! Review links (issue #11, item 8): the item page's list of them with a
//! Revoke button each, the form that makes one (its address shown once),
//! and the page the link opens for someone outside the team — signed
//! out, read-only, marked DRAFT, kept out of search engines, caches and
//! referrers. All of it through the API (`/api/v1/…/review-links`, and
//! `/api/v1/review/{token}` for the page, which records the view).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use handlebars::html_escape as esc;

use super::compose_preview;
use super::form::{button_form, enc, field, see_other, Fields};
use super::layout::{self, actor_name, local_time, FieldError, Frame};
use super::{Console, Visit};
use crate::access::Permission;
use crate::api::items::ItemDetail;
use crate::api::review_links::{CreatedReview, Review, ReviewLinkRow, DEFAULT_DAYS, MAX_DAYS};

/// The item page's section: each link with who made it, its expiry and
/// views, and (for those who may edit) Revoke and a way to make one.
pub fn section(f: &Frame, id: &str, links: &[ReviewLinkRow]) -> String {
    let may_edit = f.may(Permission::Edit);
    let rows: String = links.iter().map(|l| row(f, id, l, may_edit)).collect();
    let table = if links.is_empty() {
        "<p class=\"govuk-body\">No review links yet.</p>".to_string()
    } else {
        format!(
            "<table class=\"govuk-table\"><caption class=\"govuk-visually-hidden\">Review links to this item</caption>\
             <thead class=\"govuk-table__head\"><tr class=\"govuk-table__row\">\
             <th scope=\"col\" class=\"govuk-table__header\">For</th><th scope=\"col\" class=\"govuk-table__header\">Made by</th>\
             <th scope=\"col\" class=\"govuk-table__header\">Expires</th><th scope=\"col\" class=\"govuk-table__header\">Views</th>\
             <th scope=\"col\" class=\"govuk-table__header\">Status</th><th scope=\"col\" class=\"govuk-table__header\">Actions</th></tr></thead>\
             <tbody class=\"govuk-table__body\">{rows}</tbody></table>"
        )
    };
    let make = if may_edit {
        format!(
            "<p class=\"govuk-body\"><a class=\"govuk-link\" href=\"/console/items/{}/review-links/new\">Share a draft for review</a></p>",
            esc(&enc(id))
        )
    } else {
        String::new()
    };
    format!(
        "<h2 class=\"govuk-heading-m\" id=\"review-links\">Review links</h2>\n\
         <p class=\"govuk-body\">Read-only previews for someone outside the team; each view is counted.</p>{table}{make}\n"
    )
}

fn row(f: &Frame, id: &str, l: &ReviewLinkRow, may_edit: bool) -> String {
    let views = match l.last_viewed_at {
        Some(t) => format!(
            "{}<br><span class=\"govuk-body-s\">last {}</span>",
            l.views,
            esc(&f.time(t))
        ),
        None => l.views.to_string(),
    };
    let status = match (&l.revoked_by, l.live) {
        (Some(by), _) => format!(
            "<strong class=\"govuk-tag govuk-tag--grey\">Revoked</strong> <span class=\"govuk-body-s\">by {}</span>",
            esc(&actor_name(by))
        ),
        (None, true) => "<strong class=\"govuk-tag govuk-tag--green\">Live</strong>".to_string(),
        (None, false) => "<strong class=\"govuk-tag govuk-tag--grey\">Expired</strong>".to_string(),
    };
    let action = if may_edit && l.live {
        let text = format!(
            "Revoke<span class=\"govuk-visually-hidden\"> the link for {}</span>",
            esc(&l.label)
        );
        let to = format!("/console/review-links/{}/revoke", l.id);
        button_form(&to, &[("item", id)], &text, "govuk-button--warning", "")
    } else {
        "—".to_string()
    };
    format!(
        "<tr class=\"govuk-table__row\"><th scope=\"row\" class=\"govuk-table__header\">{label}</th>\
         <td class=\"govuk-table__cell\">{by}</td><td class=\"govuk-table__cell\">{expires}</td>\
         <td class=\"govuk-table__cell\">{views}</td><td class=\"govuk-table__cell\">{status}</td>\
         <td class=\"govuk-table__cell\">{action}</td></tr>",
        label = esc(&l.label),
        by = esc(&actor_name(&l.created_by)),
        expires = esc(&f.time(l.expires_at)),
    )
}

pub async fn form(State(c): State<Arc<Console>>, visit: Visit, Path(id): Path<String>) -> Response {
    match title_of(&c, &visit, &id).await {
        Ok(title) => {
            let days = DEFAULT_DAYS.to_string();
            form_page(&visit, &id, &title, &[], ("", &days), StatusCode::OK)
        }
        Err(r) => r,
    }
}

/// Makes the link through the API and shows its address this once (the
/// answer to the POST itself: the secret is never put in a URL here).
pub async fn create(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Path(id): Path<String>,
    axum::Form(fields): Fields,
) -> Response {
    let title = match title_of(&c, &visit, &id).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (label, days) = (field(&fields, "label"), field(&fields, "expires_in_days"));
    let mut errors: Vec<FieldError> = Vec::new();
    if label.is_empty() {
        errors.push(("label".into(), "Enter who the link is for".into()));
    }
    let parsed = days
        .parse::<u32>()
        .ok()
        .filter(|d| (1..=MAX_DAYS).contains(d));
    if parsed.is_none() {
        let message = format!("Enter a whole number of days from 1 to {MAX_DAYS}");
        errors.push(("expires_in_days".into(), message));
    }
    if !errors.is_empty() {
        return form_page(
            &visit,
            &id,
            &title,
            &errors,
            (&label, &days),
            StatusCode::BAD_REQUEST,
        );
    }
    let uri = format!("/api/v1/items/{}/review-links", enc(&id));
    let body = serde_json::json!({ "label": label, "expires_in_days": parsed });
    let made: CreatedReview = match c.api.post(&visit.who, &uri, &body).await {
        Ok(m) => m,
        Err(f) if f.status == StatusCode::BAD_REQUEST => {
            let errors: Vec<FieldError> = f
                .problem
                .errors
                .iter()
                .map(|e| {
                    (
                        e.field.clone().unwrap_or_else(|| "label".into()),
                        e.message.clone(),
                    )
                })
                .collect();
            return form_page(&visit, &id, &title, &errors, (&label, &days), f.status);
        }
        Err(f) => return visit.failed(&f),
    };
    made_page(&visit, &id, &title, &made)
}

pub async fn revoke(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Path(link): Path<i64>,
    axum::Form(fields): Fields,
) -> Response {
    let uri = format!("/api/v1/review-links/{link}");
    let answer: Result<ReviewLinkRow, _> = c
        .api
        .call(&visit.who, axum::http::Method::DELETE, &uri, None, None)
        .await;
    match answer {
        Ok(l) => see_other(&format!(
            "/console/items/{}?done=review-revoked#review-links",
            enc(&l.item)
        )),
        Err(f) if f.status == StatusCode::NOT_FOUND => {
            see_other(&format!("/console/items/{}", enc(&field(&fields, "item"))))
        }
        Err(f) => visit.failed(&f),
    }
}

async fn title_of(c: &Console, visit: &Visit, id: &str) -> Result<String, Response> {
    let item: ItemDetail = c
        .api
        .get(&visit.who, &format!("/api/v1/items/{}", enc(id)))
        .await
        .map_err(|f| visit.failed(&f))?;
    Ok(item.summary.title)
}

fn back(id: &str, title: &str) -> String {
    format!(
        "<a class=\"govuk-back-link\" href=\"/console/items/{}#review-links\">Back to {}</a>",
        esc(&enc(id)),
        esc(title)
    )
}

/// A text input with its label, hint and error message, GOV.UK style.
fn input(
    errors: &[FieldError],
    name: &str,
    label: &str,
    hint: &str,
    value: &str,
    class: &str,
) -> String {
    let error = errors.iter().find(|(f, _)| f == name).map(|(_, m)| m);
    let (group, message, bad, described) = match error {
        Some(m) => (
            " govuk-form-group--error",
            format!("<p id=\"{name}-error\" class=\"govuk-error-message\"><span class=\"govuk-visually-hidden\">Error:</span> {}</p>", esc(m)),
            " govuk-input--error",
            format!(" {name}-error"),
        ),
        None => ("", String::new(), "", String::new()),
    };
    format!(
        "<div class=\"govuk-form-group{group}\"><label class=\"govuk-label govuk-label--s\" for=\"{name}\">{label}</label>\
         <div id=\"{name}-hint\" class=\"govuk-hint\">{hint}</div>{message}\
         <input class=\"govuk-input {class}{bad}\" id=\"{name}\" name=\"{name}\" type=\"text\" value=\"{}\" aria-describedby=\"{name}-hint{described}\"></div>",
        esc(value)
    )
}

fn form_page(
    visit: &Visit,
    id: &str,
    title: &str,
    errors: &[FieldError],
    (label, days): (&str, &str),
    status: StatusCode,
) -> Response {
    let body = format!(
        "{back}<p class=\"govuk-body\">Make a link that shows “{t}” on each of its channels, read-only and marked as a draft, \
         to someone without an account. You can revoke it at any time.</p>\
         <form method=\"post\" action=\"/console/items/{id}/review-links/new\" novalidate>{label}{days}\
         <button type=\"submit\" class=\"govuk-button\">Make the link</button></form>",
        back = back(id, title),
        t = esc(title),
        id = esc(&enc(id)),
        label = input(errors, "label", "Who is it for?", "A person or organisation, for example “Partnership scrutiny officer”", label, "govuk-input--width-20"),
        days = input(
            errors,
            "expires_in_days",
            "How many days should it work for?",
            &format!("From 1 to {MAX_DAYS} days"),
            days,
            "govuk-input--width-2"
        ),
    );
    layout::page_with(
        &visit.frame,
        status,
        "Share a draft for review",
        errors,
        &body,
    )
}

fn made_page(visit: &Visit, id: &str, title: &str, made: &CreatedReview) -> Response {
    let f = &visit.frame;
    let body = format!(
        "{banner}{back}\
         <p class=\"govuk-body\">Send this link to {who}. It works until {until}.</p>\
         <div class=\"govuk-warning-text\"><span class=\"govuk-warning-text__icon\" aria-hidden=\"true\">!</span>\
         <strong class=\"govuk-warning-text__text\"><span class=\"govuk-visually-hidden\">Warning</span>\
         This is the only time the link is shown. Copy it now.</strong></div>\
         <div class=\"govuk-form-group\"><label class=\"govuk-label govuk-label--s\" for=\"review-url\">Review link</label>\
         <input class=\"govuk-input crier-copy\" id=\"review-url\" type=\"text\" readonly spellcheck=\"false\" value=\"{url}\"></div>\
         <p class=\"govuk-body\"><a class=\"govuk-link\" href=\"/console/items/{id}#review-links\">Go back to the item</a></p>",
        banner = layout::success_banner("The review link was made."),
        back = back(id, title),
        who = esc(&made.link.label),
        until = esc(&f.time(made.link.expires_at)),
        url = esc(&made.url),
        id = esc(&enc(id)),
    );
    layout::page_with(f, StatusCode::CREATED, "Review link made", &[], &body)
}

/// `/review/{token}`: the draft, for whoever holds the link. Unknown,
/// expired and revoked links get one and the same "not valid" page.
pub async fn public(
    State(c): State<Arc<Console>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    // Only the browser's name goes on to the API, for the view's record:
    // this visitor has no session to carry.
    let mut who = HeaderMap::new();
    if let Some(agent) = headers.get(header::USER_AGENT) {
        who.insert(header::USER_AGENT, agent.clone());
    }
    let uri = format!("/api/v1/review/{}", enc(&token));
    let org = c
        .workspace
        .read()
        .expect("workspace lock")
        .config
        .organisation
        .clone();
    match c.api.get::<Review>(&who, &uri).await {
        Ok(review) => {
            let heading = format!("Draft for review: {}", review.title);
            let body = format!(
                "{}<div class=\"govuk-warning-text\"><span class=\"govuk-warning-text__icon\" aria-hidden=\"true\">!</span>\
                 <strong class=\"govuk-warning-text__text\"><span class=\"govuk-visually-hidden\">Warning</span>\
                 This has not been published and may change. Please do not share this link.</strong></div>\
                 <h2 class=\"govuk-heading-m\">How it will look on each channel</h2>{}",
                layout::summary_list(&[
                    ("Planned to publish", esc(&local_time(org.timezone, review.at))),
                    ("This link works until", esc(&local_time(org.timezone, review.expires_at))),
                ]),
                compose_preview::cards(&review.variants),
            );
            public_page(&org, StatusCode::OK, &heading, &body)
        }
        Err(f) if f.status == StatusCode::NOT_FOUND => public_page(
            &org,
            StatusCode::NOT_FOUND,
            "This review link is not valid",
            "<p class=\"govuk-body\">It may have expired or been withdrawn. \
             Ask the person who sent it to you for a new link.</p>",
        ),
        Err(_) => public_page(
            &org,
            StatusCode::SERVICE_UNAVAILABLE,
            "Sorry, there is a problem with the service",
            "<p class=\"govuk-body\">Try again later.</p>",
        ),
    }
}

/// The frame of the review page: the organisation's bar and a DRAFT
/// banner, no navigation (the visitor has no account); never indexed,
/// cached, framed or named as a referrer.
fn public_page(
    org: &crate::config::Organisation,
    status: StatusCode,
    heading: &str,
    body: &str,
) -> Response {
    let colour = org.colour.clone().unwrap_or_else(|| "#0b0c0c".into());
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex, nofollow\">\
         <title>{h} – {name}</title><link rel=\"stylesheet\" href=\"/console/assets/style.css\"></head>\n<body>\n\
         <a href=\"#main\" class=\"govuk-skip-link\">Skip to main content</a>\n\
         <header class=\"crier-header\" style=\"background:{colour};color:{fg}\"><div class=\"govuk-width-container crier-header__bar\">\
         <span class=\"crier-header__name\">{name}</span></div></header>\n\
         <div class=\"govuk-width-container\">\n<main class=\"govuk-main-wrapper\" id=\"main\" tabindex=\"-1\">\n\
         <div class=\"govuk-phase-banner\"><p class=\"govuk-phase-banner__content\">\
         <strong class=\"govuk-tag govuk-tag--orange govuk-phase-banner__content__tag\">DRAFT</strong>\
         <span class=\"govuk-phase-banner__text\">Not published. A preview shared for review.</span></p></div>\n<h1 class=\"govuk-heading-l\">{h}</h1>\n{body}\n</main>\n</div>\n</body>\n</html>\n",
        h = esc(heading),
        name = esc(&org.name),
        colour = esc(&colour),
        fg = layout::text_on(&colour),
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                header::HeaderName::from_static("x-robots-tag"),
                "noindex, nofollow",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(html),
    )
        .into_response()
}
