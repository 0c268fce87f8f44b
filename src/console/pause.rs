//! The emergency pause: a confirmation page before everything stops, and
//! resuming with a choice for each delivery whose time passed meanwhile
//! (send now, the channel's next slot, or skip it).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use handlebars::html_escape as esc;
use serde::Deserialize;

use super::form::{field, see_other, Fields};
use super::layout::{self, Frame};
use super::{Console, Visit};
use crate::api::deliveries::{DeliveryPage, DeliveryRow, ResumeResult};

#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    done: Option<String>,
    decided: Option<usize>,
    held: Option<usize>,
}

/// "Are you sure…": what pausing stops, and the one button that does it.
pub async fn confirm(visit: Visit) -> Response {
    let f = &visit.frame;
    if f.paused.all {
        let body = "<p class=\"govuk-body\">Nothing will be sent until someone resumes publishing.</p>\
             <p class=\"govuk-body\"><a class=\"govuk-link\" href=\"/console/resume\">Resume publishing</a></p>";
        return layout::page(f, "All publishing is paused", body);
    }
    let body = "<div class=\"govuk-warning-text\"><span class=\"govuk-warning-text__icon\" aria-hidden=\"true\">!</span>\
         <strong class=\"govuk-warning-text__text\"><span class=\"govuk-visually-hidden\">Warning</span>\
         Nothing will be sent on any channel until someone resumes publishing.</strong></div>\
         <p class=\"govuk-body\">Pausing stops:</p><ul class=\"govuk-list govuk-list--bullet\">\
         <li>every post, email and message due from now, on every channel</li>\
         <li>retries of deliveries that failed</li></ul>\
         <p class=\"govuk-body\">Anything already being sent finishes. Deliveries that fall due while paused wait; \
         when you resume you choose for each one: send it now, move it to the channel's next slot, or skip it.</p>\
         <form method=\"post\" action=\"/console/pause\"><div class=\"govuk-button-group\">\
         <button type=\"submit\" class=\"govuk-button govuk-button--warning\">Pause all publishing</button>\
         <a class=\"govuk-link\" href=\"/console/\">Cancel</a></div></form>";
    layout::page(f, "Are you sure you want to pause all publishing?", body)
}

pub async fn pause(State(c): State<Arc<Console>>, visit: Visit) -> Response {
    let answer: Result<serde_json::Value, _> = c
        .api
        .post(&visit.who, "/api/v1/pause", &serde_json::json!({}))
        .await;
    match answer {
        Ok(_) => see_other("/console/pause"),
        Err(f) => visit.failed(&f),
    }
}

/// Resume: the overdue deliveries held by the pause, each with its choice.
pub async fn show(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Query(shown): Query<Shown>,
) -> Response {
    let overdue: DeliveryPage = match c
        .api
        .get(
            &visit.who,
            "/api/v1/deliveries?state=held&hold_reason=paused&limit=500",
        )
        .await
    {
        Ok(p) => p,
        Err(f) => return visit.failed(&f),
    };
    let f = &visit.frame;
    let mut body = done_banner(&shown);
    let rows = &overdue.deliveries;
    if !f.paused.all && f.paused.channels.is_empty() && rows.is_empty() {
        body.push_str("<p class=\"govuk-body\">Publishing is not paused, and nothing is waiting for a decision.</p>");
        return layout::page(f, "Resume publishing", &body);
    }
    if rows.is_empty() {
        body.push_str("<p class=\"govuk-body\">Nothing fell due while paused.</p>");
    } else {
        body.push_str(&format!(
            "<p class=\"govuk-body\">{} fell due while publishing was paused. Choose what happens to each; \
             any you leave without a choice stay held.</p>",
            if rows.len() == 1 { "1 delivery".to_string() } else { format!("{} deliveries", rows.len()) }
        ));
    }
    let choices: String = rows.iter().map(|d| choice(f, d)).collect();
    let all = if rows.len() > 1 {
        radios("all", "For every delivery without its own choice", "")
    } else {
        String::new()
    };
    let button = if f.paused.all || !f.paused.channels.is_empty() {
        "Resume publishing"
    } else {
        "Save choices"
    };
    body.push_str(&format!(
        "<form method=\"post\" action=\"/console/resume\">{choices}{all}\
         <button type=\"submit\" class=\"govuk-button\">{button}</button></form>"
    ));
    layout::page(f, "Resume publishing", &body)
}

fn choice(f: &Frame, d: &DeliveryRow) -> String {
    let legend = format!(
        "<a class=\"govuk-link\" href=\"/console/items/{}\">{}</a> on {}, was due {}",
        esc(&super::form::enc(&d.item)),
        esc(&d.item),
        esc(&d.channel),
        esc(&f.time(d.due_at)),
    );
    radios(&format!("choice-{}", d.id), &legend, "")
}

/// A GOV.UK radios fieldset for one overdue choice; `legend` is HTML.
fn radios(name: &str, legend: &str, hint: &str) -> String {
    let options = [
        ("send_now", "Send it now"),
        ("next_slot", "Move it to the channel's next slot"),
        ("skip", "Skip it: do not send it"),
    ];
    let items: String = options
        .iter()
        .map(|(value, label)| {
            format!(
                "<div class=\"govuk-radios__item\"><input class=\"govuk-radios__input\" id=\"{name}-{value}\" \
                 name=\"{name}\" type=\"radio\" value=\"{value}\"><label class=\"govuk-label govuk-radios__label\" \
                 for=\"{name}-{value}\">{label}</label></div>"
            )
        })
        .collect();
    format!(
        "<div class=\"govuk-form-group\"><fieldset class=\"govuk-fieldset\">\
         <legend class=\"govuk-fieldset__legend govuk-fieldset__legend--s\">{legend}</legend>{hint}\
         <div class=\"govuk-radios\">{items}</div></fieldset></div>"
    )
}

fn done_banner(shown: &Shown) -> String {
    if shown.done.as_deref() != Some("resumed") {
        return String::new();
    }
    let (decided, held) = (shown.decided.unwrap_or(0), shown.held.unwrap_or(0));
    let rest = if held == 0 {
        String::new()
    } else {
        format!(" {held} still wait for a decision.")
    };
    layout::success_banner(&format!(
        "Publishing has resumed. {decided} overdue {} decided.{rest}",
        if decided == 1 {
            "delivery was"
        } else {
            "deliveries were"
        }
    ))
}

/// Lifts the pause through the API with each posted choice.
pub async fn resume(
    State(c): State<Arc<Console>>,
    visit: Visit,
    axum::Form(fields): Fields,
) -> Response {
    let decisions: Vec<serde_json::Value> = fields
        .iter()
        .filter_map(|(name, value)| {
            let id: i64 = name.strip_prefix("choice-")?.parse().ok()?;
            Some(serde_json::json!({ "id": id, "overdue": value }))
        })
        .collect();
    let all = field(&fields, "all");
    let mut request = serde_json::json!({ "decisions": decisions });
    if !all.is_empty() {
        request["overdue"] = serde_json::json!(all);
    }
    let answer: Result<ResumeResult, _> = c.api.post(&visit.who, "/api/v1/resume", &request).await;
    match answer {
        Ok(r) => see_other(&format!(
            "/console/resume?done=resumed&decided={}&held={}",
            r.decided.len(),
            r.held.len()
        )),
        Err(f) => visit.failed(&f),
    }
}
