//! One item: what it is, each channel's delivery (state, due time, the
//! post, attempts, the last error) with the controls the visitor's role
//! allows, and its full history from the audit log.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use handlebars::html_escape as esc;
use serde::Deserialize;

use super::form::{button_form, enc, field, see_other, Fields};
use super::layout::{self, actor_name, awaits_approval, delivery_tag, summary_list, Frame};
use super::{Console, Failure, Visit};
use crate::access::Permission;
use crate::api::deliveries::{DeliveryPage, DeliveryRow};
use crate::api::items::ItemDetail;
use crate::store::AuditEntry;

#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    done: Option<String>,
}

pub async fn show(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Path(id): Path<String>,
    Query(shown): Query<Shown>,
) -> Response {
    let item: Option<ItemDetail> = match c
        .api
        .get(&visit.who, &format!("/api/v1/items/{}", enc(&id)))
        .await
    {
        Ok(i) => Some(i),
        Err(f) if f.status == 404 => None,
        Err(f) => return visit.failed(&f),
    };
    let deliveries: DeliveryPage = match c
        .api
        .get(
            &visit.who,
            &format!("/api/v1/deliveries?item={}&limit=500", enc(&id)),
        )
        .await
    {
        Ok(d) => d,
        Err(f) => return visit.failed(&f),
    };
    if item.is_none() && deliveries.deliveries.is_empty() {
        return visit.failed(&Failure::not_found(format!(
            "There is no item called {id}."
        )));
    }
    let history: Vec<AuditEntry> = match c
        .api
        .get(
            &visit.who,
            &format!("/api/v1/audit?item={}&limit=500", enc(&id)),
        )
        .await
    {
        Ok(h) => h,
        Err(f) => return visit.failed(&f),
    };
    let review_links: crate::api::review_links::ReviewLinks = match c
        .api
        .get(
            &visit.who,
            &format!("/api/v1/items/{}/review-links", enc(&id)),
        )
        .await
    {
        Ok(l) => l,
        Err(f) => return visit.failed(&f),
    };
    let f = &visit.frame;
    let title = item
        .as_ref()
        .map_or_else(|| id.clone(), |i| i.summary.title.clone());
    let mut body = done_banner(shown.done.as_deref());
    body.push_str(&about(f, &id, item.as_ref()));
    body.push_str(&super::history::on_item_page(&id, &history));
    body.push_str(&table(f, &id, &deliveries.deliveries));
    body.push_str(&super::review::section(f, &id, &review_links.links));
    body.push_str(&history_table(f, &history));
    layout::page(f, &title, &body)
}

fn done_banner(done: Option<&str>) -> String {
    let Some(what) = done.and_then(|d| match d {
        "approve" => Some("The delivery was approved."),
        "reject" => Some("The delivery was rejected. Its author will see your reason."),
        "retry" => Some("The delivery will be sent again."),
        "cancel" => Some("The delivery was cancelled."),
        "confirm-sent" => Some("The delivery is recorded as sent."),
        "test-sent" => Some("The test email was sent. Its subject starts with [TEST]."),
        "saved" => Some("The item was saved. Its deliveries are planned from the file."),
        "review-revoked" => Some("The review link was revoked. It no longer opens the draft."),
        _ => None,
    }) else {
        return String::new();
    };
    layout::success_banner(what)
}

fn about(f: &Frame, id: &str, item: Option<&ItemDetail>) -> String {
    let Some(item) = item else {
        return "<p class=\"govuk-body\">This item is no longer in the campaign files; its deliveries are kept.</p>".into();
    };
    let s = &item.summary;
    let list = |v: &[String]| {
        if v.is_empty() {
            "None".to_string()
        } else {
            esc(&v.join(", "))
        }
    };
    let mut out = summary_list(&[
        ("Kind", esc(&s.kind)),
        ("Publishes", esc(&f.time(s.at))),
        ("Channels", list(&s.channels)),
        ("Topics", list(&s.topics)),
        ("Campaign", esc(s.campaign.as_deref().unwrap_or("None"))),
        ("File", format!("<code>campaigns/{}</code>", esc(&s.file))),
        ("Version", format!("<code>{}</code>", esc(&s.version))),
    ]);
    if f.may(Permission::Edit) {
        out.push_str(&format!(
            "<ul class=\"crier-inline-list\"><li><a class=\"govuk-link\" href=\"/console/items/{id}/edit\">Change this item</a></li>\
             <li><a class=\"govuk-link\" href=\"/console/items/{id}/send-test\">Send a test email</a></li></ul>",
            id = esc(&enc(id))
        ));
    }
    out
}

fn table(f: &Frame, item: &str, rows: &[DeliveryRow]) -> String {
    let body: String = rows
        .iter()
        .map(|d| {
            let post = d.remote_url.as_deref().map_or_else(
                || "—".to_string(),
                |u| format!("<a class=\"govuk-link\" href=\"{}\">View post<span class=\"govuk-visually-hidden\"> on {}</span></a>", esc(u), esc(&d.channel)),
            );
            let error = d.last_error.as_deref().map(|e| format!("<p class=\"govuk-body-s crier-error\">{}</p>", esc(e))).unwrap_or_default();
            format!(
                "<tr class=\"govuk-table__row\"><th scope=\"row\" class=\"govuk-table__header\">{ch}</th>\
                 <td class=\"govuk-table__cell\">{occ}</td><td class=\"govuk-table__cell\">{due}</td>\
                 <td class=\"govuk-table__cell\">{tag}{error}</td><td class=\"govuk-table__cell\">{att}</td>\
                 <td class=\"govuk-table__cell\">{post}</td><td class=\"govuk-table__cell\">{actions}</td></tr>",
                ch = esc(&d.channel),
                occ = esc(&d.occasion),
                due = esc(&f.time(d.due_at)),
                tag = delivery_tag(d),
                att = d.attempts,
                actions = actions(f, item, d),
            )
        })
        .collect();
    format!(
        "<h2 class=\"govuk-heading-m\" id=\"deliveries\">Deliveries</h2>\n\
         <table class=\"govuk-table\"><caption class=\"govuk-visually-hidden\">Each channel's delivery</caption>\
         <thead class=\"govuk-table__head\"><tr class=\"govuk-table__row\">\
         <th scope=\"col\" class=\"govuk-table__header\">Channel</th><th scope=\"col\" class=\"govuk-table__header\">Occasion</th>\
         <th scope=\"col\" class=\"govuk-table__header\">Due</th><th scope=\"col\" class=\"govuk-table__header\">State</th>\
         <th scope=\"col\" class=\"govuk-table__header\">Attempts</th><th scope=\"col\" class=\"govuk-table__header\">Post</th>\
         <th scope=\"col\" class=\"govuk-table__header\">Actions</th></tr></thead>\
         <tbody class=\"govuk-table__body\">{body}</tbody></table>\n"
    )
}

/// The controls this visitor's role allows for this delivery's state.
fn actions(f: &Frame, item: &str, d: &DeliveryRow) -> String {
    let to = |action: &str| format!("/console/deliveries/{}/{action}", d.id);
    let hidden = [("item", item)];
    let label = |text: &str| {
        format!(
            "{text}<span class=\"govuk-visually-hidden\"> {} {}</span>",
            d.channel, d.occasion
        )
    };
    let mut out = String::new();
    let state = d.state.as_str();
    if awaits_approval(d) && f.may(Permission::Approve) {
        out.push_str(&button_form(
            &to("approve"),
            &hidden,
            &label("Approve"),
            "",
            "",
        ));
        let reason = format!(
            "<div class=\"govuk-form-group\"><label class=\"govuk-label\" for=\"reason-{id}\">Reason for rejecting</label>\
             <input class=\"govuk-input\" id=\"reason-{id}\" name=\"reason\" type=\"text\"></div>",
            id = d.id
        );
        out.push_str(&button_form(
            &to("reject"),
            &hidden,
            &label("Reject"),
            "govuk-button--secondary",
            &reason,
        ));
    }
    if !f.may(Permission::Operate) {
        return if out.is_empty() { "—".into() } else { out };
    }
    if state == "held:uncertain" {
        out.push_str(
            "<p class=\"govuk-body-s\">crier lost contact while sending this, so it does not know whether it went out. \
             Look on the channel: if the post is there, record it as sent; if it is not, send it again.</p>",
        );
        out.push_str(&button_form(
            &to("confirm-sent"),
            &hidden,
            &label("It went out: record as sent"),
            "govuk-button--secondary",
            "",
        ));
        out.push_str(&button_form(
            &to("retry"),
            &hidden,
            &label("It did not go out: send again"),
            "govuk-button--secondary",
            "",
        ));
    } else if state == "failed" || state.starts_with("held:") {
        out.push_str(&button_form(
            &to("retry"),
            &hidden,
            &label("Retry"),
            "govuk-button--secondary",
            "",
        ));
    }
    if matches!(state, "planned" | "retrying") || state.starts_with("held:") {
        out.push_str(&button_form(
            &to("cancel"),
            &hidden,
            &label("Cancel"),
            "govuk-button--warning",
            "",
        ));
    }
    if out.is_empty() {
        "—".into()
    } else {
        out
    }
}

fn history_table(f: &Frame, history: &[AuditEntry]) -> String {
    if history.is_empty() {
        return "<h2 class=\"govuk-heading-m\">History</h2><p class=\"govuk-body\">Nothing recorded yet.</p>".into();
    }
    let rows: String = history
        .iter()
        .map(|e| {
            let change = match (&e.from, &e.to) {
                (Some(a), Some(b)) if a != b => format!("{} → {}", a.as_str(), b.as_str()),
                (None, Some(b)) => b.as_str().to_string(),
                _ => String::new(),
            };
            format!(
                "<tr class=\"govuk-table__row\"><td class=\"govuk-table__cell\">{}</td><td class=\"govuk-table__cell\">{}</td>\
                 <td class=\"govuk-table__cell\">{}</td><td class=\"govuk-table__cell\">{}</td><td class=\"govuk-table__cell\">{}</td></tr>",
                esc(&f.time(e.at)),
                esc(&actor_name(&e.actor.to_stored())),
                esc(e.channel.as_deref().unwrap_or("content")),
                esc(&change),
                esc(&e.what),
            )
        })
        .collect();
    format!(
        "<h2 class=\"govuk-heading-m\">History</h2>\n<table class=\"govuk-table\"><caption class=\"govuk-visually-hidden\">Who did what, and when</caption>\
         <thead class=\"govuk-table__head\"><tr class=\"govuk-table__row\"><th scope=\"col\" class=\"govuk-table__header\">When</th>\
         <th scope=\"col\" class=\"govuk-table__header\">Who</th><th scope=\"col\" class=\"govuk-table__header\">Channel</th>\
         <th scope=\"col\" class=\"govuk-table__header\">Change</th><th scope=\"col\" class=\"govuk-table__header\">Why</th></tr></thead>\
         <tbody class=\"govuk-table__body\">{rows}</tbody></table>\n"
    )
}

const ACTIONS: [&str; 5] = ["approve", "reject", "retry", "cancel", "confirm-sent"];

/// A delivery's control, done through the API; back to the item page.
pub async fn act(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Path((id, action)): Path<(i64, String)>,
    axum::Form(fields): Fields,
) -> Response {
    if !ACTIONS.contains(&action.as_str()) {
        return visit.failed(&Failure::not_found(format!(
            "There is no item called {action}."
        )));
    }
    let reason = field(&fields, "reason");
    let body = if reason.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::json!({ "reason": reason })
    };
    let uri = format!("/api/v1/deliveries/{id}/{action}");
    let answer: Result<serde_json::Value, _> = c
        .api
        .call(&visit.who, Method::POST, &uri, Some(&body), None)
        .await;
    match answer {
        Ok(_) => {
            let item = field(&fields, "item");
            see_other(&format!(
                "/console/items/{}?done={action}#deliveries",
                enc(&item)
            ))
        }
        Err(f) => visit.failed(&f),
    }
}
