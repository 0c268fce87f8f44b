//! Subscribers, for admins: search the lists, the counts by topic over
//! time (`subscribers_counts.rs`), one person's record with the evidence
//! of each consent, their export as a file, and erasure after a
//! confirmation page; the CSV import is `subscribers_import.rs`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use handlebars::html_escape as esc;
use serde::Deserialize;
use serde_json::Value;

use super::form::{button_form, enc, field, see_other, Fields};
use super::layout::{self, summary_list, Frame};
use super::{subscribers_counts, Console, Visit};
use crate::api::subscribers::counts::CountsOverTime;

#[derive(Debug, Default, Deserialize)]
pub struct Search {
    q: Option<String>,
    topic: Option<String>,
    erased: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Person {
    #[serde(default)]
    email: String,
}

pub async fn search(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Query(s): Query<Search>,
) -> Response {
    let (q, topic) = (s.q.unwrap_or_default(), s.topic.unwrap_or_default());
    let mut uri = format!("/api/v1/subscribers?limit=100&q={}", enc(&q));
    if !topic.is_empty() {
        uri.push_str(&format!("&topic={}", enc(&topic)));
    }
    let page: Value = match c.api.get(&visit.who, &uri).await {
        Ok(p) => p,
        Err(f) => return visit.failed(&f),
    };
    let mut body = s.erased.map(erased_banner).unwrap_or_default();
    body.push_str(&search_form(&q, &topic));
    body.push_str(&results(&visit.frame, &page));
    // The counts read every consent: shown on the page as opened, not
    // again for each search.
    if q.is_empty() && topic.is_empty() {
        let uri = "/api/v1/subscribers/counts";
        let counts: CountsOverTime = match c.api.get(&visit.who, uri).await {
            Ok(counts) => counts,
            Err(f) => return visit.failed(&f),
        };
        body.push_str(&subscribers_counts::section(&visit.frame, &counts));
    }
    body.push_str(
        "<h2 class=\"govuk-heading-m\">Add people</h2>\
         <p class=\"govuk-body\"><a class=\"govuk-link\" href=\"/console/subscribers/import\">Import subscribers from a CSV file</a></p>",
    );
    layout::page(&visit.frame, "Subscribers", &body)
}

fn erased_banner(n: usize) -> String {
    layout::success_banner(&format!(
        "The person was erased: {n} subscription{} removed. Their address is kept only as a hash on the suppression list, \
         so no import adds it again.",
        if n == 1 { "" } else { "s" }
    ))
}

fn search_form(q: &str, topic: &str) -> String {
    format!(
        "<form method=\"get\" action=\"/console/subscribers\" role=\"search\">\
         <div class=\"govuk-form-group\"><label class=\"govuk-label\" for=\"q\">Address, name or organisation</label>\
         <input class=\"govuk-input\" id=\"q\" name=\"q\" type=\"search\" value=\"{}\"></div>\
         <div class=\"govuk-form-group\"><label class=\"govuk-label\" for=\"topic\">Topic</label>\
         <input class=\"govuk-input govuk-input--width-20\" id=\"topic\" name=\"topic\" type=\"text\" value=\"{}\"></div>\
         <button type=\"submit\" class=\"govuk-button govuk-button--secondary\">Search</button></form>\n",
        esc(q),
        esc(topic)
    )
}

fn results(f: &Frame, page: &Value) -> String {
    let people = page["subscribers"].as_array().cloned().unwrap_or_default();
    let total = page["total"].as_u64().unwrap_or(0);
    if people.is_empty() {
        return "<p class=\"govuk-body\">No one matches.</p>".into();
    }
    let rows: String = people
        .iter()
        .map(|s| {
            let email = s["email"].as_str().unwrap_or("");
            format!(
                "<tr class=\"govuk-table__row\"><th scope=\"row\" class=\"govuk-table__header\">\
                 <a class=\"govuk-link\" href=\"/console/subscribers/person?email={}\">{}</a></th>\
                 <td class=\"govuk-table__cell\">{}</td><td class=\"govuk-table__cell\">{}</td>\
                 <td class=\"govuk-table__cell\">{}</td><td class=\"govuk-table__cell\">{}</td><td class=\"govuk-table__cell\">{}</td></tr>",
                esc(&enc(email)),
                esc(email),
                esc(text(&s["name"])),
                esc(text(&s["channel"])),
                esc(text(&s["status"])),
                esc(&list(&s["topics"])),
                esc(&time(f, &s["created_at"])),
            )
        })
        .collect();
    let shown = people.len();
    format!(
        "<p class=\"govuk-body\">{total} found{}.</p>\
         <table class=\"govuk-table\"><caption class=\"govuk-visually-hidden\">Subscribers found</caption>\
         <thead class=\"govuk-table__head\"><tr class=\"govuk-table__row\">\
         <th scope=\"col\" class=\"govuk-table__header\">Address</th><th scope=\"col\" class=\"govuk-table__header\">Name</th>\
         <th scope=\"col\" class=\"govuk-table__header\">List</th><th scope=\"col\" class=\"govuk-table__header\">Status</th>\
         <th scope=\"col\" class=\"govuk-table__header\">Topics</th><th scope=\"col\" class=\"govuk-table__header\">Joined</th></tr></thead>\
         <tbody class=\"govuk-table__body\">{rows}</tbody></table>\n",
        if (shown as u64) < total { format!(", the first {shown} shown") } else { String::new() }
    )
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("—")
}

fn list(v: &Value) -> String {
    let all: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if all.is_empty() {
        "None".into()
    } else {
        all.join(", ")
    }
}

fn time(f: &Frame, v: &Value) -> String {
    match v.as_str().map(DateTime::parse_from_rfc3339) {
        Some(Ok(t)) => f.time(t.with_timezone(&Utc)),
        Some(Err(_)) => v.as_str().unwrap_or("").to_string(),
        None => "—".into(),
    }
}

/// One person's record as the API exports it: each subscription with
/// its consents (the evidence), and the way to export or erase it.
pub async fn person(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Query(p): Query<Person>,
) -> Response {
    let uri = format!("/api/v1/subscribers/export?email={}", enc(&p.email));
    let record: Value = match c.api.get(&visit.who, &uri).await {
        Ok(r) => r,
        Err(f) => return visit.failed(&f),
    };
    let f = &visit.frame;
    let email = record["email"].as_str().unwrap_or(&p.email).to_string();
    let subs = record["subscriptions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut body = String::new();
    if subs.is_empty() {
        body.push_str("<p class=\"govuk-body\">No list holds this address.</p>");
    }
    for s in &subs {
        body.push_str(&subscription(f, s));
    }
    let e = esc(&enc(&email));
    body.push_str(&format!(
        "<h2 class=\"govuk-heading-m\">Their data</h2><div class=\"govuk-button-group\">\
         <a class=\"govuk-button govuk-button--secondary\" href=\"/console/subscribers/export?email={e}\" download>Export their record (JSON)</a>\
         <a class=\"govuk-button govuk-button--warning\" href=\"/console/subscribers/erase?email={e}\">Erase this person</a></div>"
    ));
    layout::page(f, &email, &body)
}

fn subscription(f: &Frame, s: &Value) -> String {
    let sub = &s["subscriber"];
    let consents: String = s["consents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let cell = |v: String| format!("<td class=\"govuk-table__cell\">{}</td>", esc(&v));
            format!(
                "<tr class=\"govuk-table__row\"><th scope=\"row\" class=\"govuk-table__header\">{}</th>{}{}{}{}{}{}{}</tr>",
                esc(text(&c["topic"])),
                cell(text(&c["method"]).into()),
                cell(time(f, &c["given_at"])),
                cell(text(&c["wording"]).into()),
                cell(text(&c["client_addr"]).into()),
                cell(time(f, &c["confirmed_at"])),
                cell(time(f, &c["withdrawn_at"])),
                cell(time(f, &c["imported_at"])),
            )
        })
        .collect();
    let channel = text(&sub["channel"]);
    format!(
        "<h2 class=\"govuk-heading-m\">On {ch}</h2>{list}\
         <table class=\"govuk-table\"><caption class=\"govuk-table__caption govuk-table__caption--s\">Consent evidence on {ch}</caption>\
         <thead class=\"govuk-table__head\"><tr class=\"govuk-table__row\">\
         <th scope=\"col\" class=\"govuk-table__header\">Topic</th><th scope=\"col\" class=\"govuk-table__header\">How</th>\
         <th scope=\"col\" class=\"govuk-table__header\">Given</th><th scope=\"col\" class=\"govuk-table__header\">Wording shown</th>\
         <th scope=\"col\" class=\"govuk-table__header\">From address</th><th scope=\"col\" class=\"govuk-table__header\">Confirmed</th>\
         <th scope=\"col\" class=\"govuk-table__header\">Withdrawn</th><th scope=\"col\" class=\"govuk-table__header\">Imported</th></tr></thead>\
         <tbody class=\"govuk-table__body\">{consents}</tbody></table>\n",
        ch = esc(channel),
        list = summary_list(&[
            ("Name", esc(text(&sub["name"]))),
            ("Organisation", esc(text(&sub["organisation"]))),
            ("Status", esc(text(&sub["status"]))),
            ("Joined", esc(&time(f, &sub["created_at"]))),
            ("Confirmed", esc(&time(f, &sub["confirmed_at"]))),
            ("Hard bounces", sub["bounces"].as_i64().unwrap_or(0).to_string()),
            ("Messages sent", s["messages"].as_array().map_or(0, Vec::len).to_string()),
        ]),
    )
}

/// The API's export of one person, as a file to keep or hand over.
pub async fn export(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Query(p): Query<Person>,
) -> Response {
    let uri = format!("/api/v1/subscribers/export?email={}", enc(&p.email));
    let record: Value = match c.api.get(&visit.who, &uri).await {
        Ok(r) => r,
        Err(f) => return visit.failed(&f),
    };
    let text = serde_json::to_string_pretty(&record).expect("JSON");
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"subscriber.json\"".to_string(),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        text,
    )
        .into_response()
}

/// "Are you sure…" before erasing: what goes and what stays.
pub async fn confirm_erase(visit: Visit, Query(p): Query<Person>) -> Response {
    let body = format!(
        "<div class=\"govuk-warning-text\"><span class=\"govuk-warning-text__icon\" aria-hidden=\"true\">!</span>\
         <strong class=\"govuk-warning-text__text\"><span class=\"govuk-visually-hidden\">Warning</span>\
         This cannot be undone.</strong></div>\
         <p class=\"govuk-body\">Erasing <strong>{e}</strong> removes their subscriptions on every list, their consent records, \
         what was sent to them and their bounces. Only a hash of the address stays, on the suppression list, so no import \
         can add them again.</p>{form}\
         <p class=\"govuk-body\"><a class=\"govuk-link\" href=\"/console/subscribers/person?email={href}\">Cancel</a></p>",
        e = esc(&p.email),
        href = esc(&enc(&p.email)),
        form = button_form(
            "/console/subscribers/erase",
            &[("email", &p.email)],
            "Erase this person",
            "govuk-button--warning",
            "",
        ),
    );
    layout::page(
        &visit.frame,
        "Are you sure you want to erase this person?",
        &body,
    )
}

pub async fn erase(
    State(c): State<Arc<Console>>,
    visit: Visit,
    axum::Form(fields): Fields,
) -> Response {
    let email = field(&fields, "email");
    let body = serde_json::json!({ "email": email });
    let answer: Result<Value, _> = c
        .api
        .post(&visit.who, "/api/v1/subscribers/erase", &body)
        .await;
    match answer {
        Ok(r) => see_other(&format!(
            "/console/subscribers?erased={}",
            r["subscriptions"].as_u64().unwrap_or(0)
        )),
        Err(f) => visit.failed(&f),
    }
}
