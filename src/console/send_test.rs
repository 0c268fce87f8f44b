//! "Send a test email": the item's real email, marked `[TEST]`, to a few
//! addresses, through the API's test send (which touches no subscriber
//! and no delivery).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use handlebars::html_escape as esc;

use super::form::{enc, field, see_other, Fields};
use super::layout::{self, FieldError};
use super::{Console, Visit};
use crate::api::items::ItemDetail;

/// The most addresses one test may go to (the API's limit).
const MOST: usize = 10;

pub async fn form(State(c): State<Arc<Console>>, visit: Visit, Path(id): Path<String>) -> Response {
    match lists_of(&c, &visit, &id).await {
        Ok((title, lists)) => page(&visit, &id, &title, &lists, &[], "", StatusCode::OK),
        Err(r) => r,
    }
}

pub async fn send(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Path(id): Path<String>,
    axum::Form(fields): Fields,
) -> Response {
    let (title, lists) = match lists_of(&c, &visit, &id).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let to_text = field(&fields, "to");
    let to: Vec<&str> = to_text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|a| !a.is_empty())
        .collect();
    let channel = field(&fields, "channel");
    let mut errors = Vec::new();
    if to.is_empty() || to.len() > MOST {
        errors.push((
            "to".to_string(),
            format!("Enter between 1 and {MOST} email addresses"),
        ));
    }
    if !lists.contains(&channel) {
        errors.push((
            "channel".to_string(),
            "Select the email list to send the test from".to_string(),
        ));
    }
    if !errors.is_empty() {
        return page(
            &visit,
            &id,
            &title,
            &lists,
            &errors,
            &to_text,
            StatusCode::BAD_REQUEST,
        );
    }
    let uri = format!("/api/v1/items/{}/send-test", enc(&id));
    let body = serde_json::json!({ "channel": channel, "to": to });
    let answer: Result<serde_json::Value, _> = c.api.post(&visit.who, &uri, &body).await;
    match answer {
        Ok(_) => see_other(&format!("/console/items/{}?done=test-sent", enc(&id))),
        Err(f) if f.status == StatusCode::FORBIDDEN => visit.failed(&f),
        Err(f) => {
            let message = f
                .problem
                .detail
                .clone()
                .unwrap_or_else(|| f.problem.title.clone());
            let errors = vec![("to".to_string(), format!("{}: {message}", f.problem.title))];
            page(&visit, &id, &title, &lists, &errors, &to_text, f.status)
        }
    }
}

/// The item's title and the channels it goes to that keep email lists.
async fn lists_of(c: &Console, visit: &Visit, id: &str) -> Result<(String, Vec<String>), Response> {
    let item: ItemDetail = c
        .api
        .get(&visit.who, &format!("/api/v1/items/{}", enc(id)))
        .await
        .map_err(|f| visit.failed(&f))?;
    let ws = c.workspace.read().expect("workspace lock").clone();
    let lists = item
        .summary
        .channels
        .iter()
        .filter(|ch| ws.channel(ch).is_some_and(|c| c.keeps_lists()))
        .cloned()
        .collect();
    Ok((item.summary.title, lists))
}

fn page(
    visit: &Visit,
    id: &str,
    title: &str,
    lists: &[String],
    errors: &[FieldError],
    to: &str,
    status: StatusCode,
) -> Response {
    let back = format!(
        "<a class=\"govuk-back-link\" href=\"/console/items/{}\">Back to {}</a>",
        esc(&enc(id)),
        esc(title)
    );
    if lists.is_empty() {
        let body = format!("{back}<p class=\"govuk-body\">This item goes to no email list, so there is no email to test.</p>");
        return layout::page_with(
            &visit.frame,
            StatusCode::OK,
            "Send a test email",
            &[],
            &body,
        );
    }
    let error_of = |name: &str| {
        errors
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, m)| m.as_str())
    };
    let options: String = lists
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let checked = if i == 0 { " checked" } else { "" };
            let rid = if i == 0 { "channel".to_string() } else { format!("channel-{}", i + 1) };
            format!(
                "<div class=\"govuk-radios__item\"><input class=\"govuk-radios__input\" id=\"{rid}\" name=\"channel\" type=\"radio\" value=\"{l}\"{checked}>\
                 <label class=\"govuk-label govuk-radios__label\" for=\"{rid}\">{l}</label></div>",
                l = esc(l)
            )
        })
        .collect();
    let (group, message, bad, described) = match error_of("to") {
        Some(m) => (
            " govuk-form-group--error",
            format!("<p id=\"to-error\" class=\"govuk-error-message\"><span class=\"govuk-visually-hidden\">Error:</span> {}</p>", esc(m)),
            " govuk-textarea--error",
            " to-error",
        ),
        None => ("", String::new(), "", ""),
    };
    let body = format!(
        "{back}<p class=\"govuk-body\">The real email of “{t}”, its subject starting with [TEST], to the addresses you give. \
         No subscriber gets it and nothing is recorded.</p>\
         <form method=\"post\" action=\"/console/items/{id}/send-test\" novalidate>\
         <div class=\"govuk-form-group\"><fieldset class=\"govuk-fieldset\"><legend class=\"govuk-fieldset__legend govuk-fieldset__legend--s\">Email list</legend>\
         <div class=\"govuk-radios\">{options}</div></fieldset></div>\
         <div class=\"govuk-form-group{group}\"><label class=\"govuk-label\" for=\"to\">Send it to</label>\
         <div id=\"to-hint\" class=\"govuk-hint\">Up to {MOST} email addresses, one per line</div>{message}\
         <textarea class=\"govuk-textarea{bad}\" id=\"to\" name=\"to\" rows=\"3\" aria-describedby=\"to-hint{described}\">{to}</textarea></div>\
         <button type=\"submit\" class=\"govuk-button\">Send test email</button></form>",
        t = esc(title),
        id = esc(&enc(id)),
        to = esc(to),
    );
    layout::page_with(&visit.frame, status, "Send a test email", errors, &body)
}
