//! What awaits approval: per item, exactly what each channel will send,
//! with "Approve item" (bound to the version the approver saw) and
//! "Reject" with a reason. Everyone may look, so authors see a rejection
//! and its reason, and an approval an edit voided.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use handlebars::html_escape as esc;
use serde::Deserialize;

use super::form::{button_form, enc, field, see_other, Fields};
use super::layout::{self, actor_name, delivery_tag, FieldError, Frame};
use super::{Console, Failure, Visit};
use crate::access::Permission;
use crate::api::deliveries::{DeliveryDetail, DeliveryPage, DeliveryRow};
use crate::api::items::{ItemList, ItemSummary};
use crate::delivery::Transition;

#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    done: Option<String>,
    item: Option<String>,
    /// Which page of items (from 1).
    page: Option<usize>,
}

/// Items shown in full on one page: each with every channel's variant, so
/// a page stays readable and costs a bounded number of reads however much
/// is waiting.
const PER_PAGE: usize = 10;

/// Which items a page shows.
enum Window<'a> {
    /// The n-th page (from 0).
    Page(usize),
    /// The page holding this item (a refused decision, shown again).
    Holding(&'a str),
}

/// One item awaiting approval: the item as it is now (absent when its
/// file no longer has it) and each delivery with its variant and history.
struct Waiting {
    id: String,
    item: Option<ItemSummary>,
    deliveries: Vec<DeliveryDetail>,
}

pub async fn show(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Query(shown): Query<Shown>,
) -> Response {
    let banner = done_banner(&shown);
    let page = Window::Page(shown.page.unwrap_or(1).max(1) - 1);
    render(&c, &visit, page, StatusCode::OK, &banner, &[]).await
}

async fn render(
    c: &Console,
    visit: &Visit,
    window: Window<'_>,
    status: StatusCode,
    banner: &str,
    errors: &[FieldError],
) -> Response {
    let (page, waiting, more) = match load(c, visit, window).await {
        Ok(w) => w,
        Err(f) => return visit.failed(&f),
    };
    let f = &visit.frame;
    let mut body = banner.to_string();
    let first = page * PER_PAGE + 1;
    body.push_str(&match waiting.len() {
        0 if page == 0 => "<p class=\"govuk-body\">Nothing is waiting for approval.</p>".to_string(),
        0 => "<p class=\"govuk-body\">No more items are waiting.</p>".to_string(),
        1 if page == 0 && !more => "<p class=\"govuk-body\">1 item is waiting for approval. It shows exactly what every channel will send.</p>".to_string(),
        n if page == 0 && !more => format!("<p class=\"govuk-body\">{n} items are waiting for approval. Each shows exactly what every channel will send.</p>"),
        n => format!("<p class=\"govuk-body\">Items {first} to {} of those waiting for approval, soonest first. Each shows exactly what every channel will send.</p>", first + n - 1),
    });
    for w in &waiting {
        body.push_str(&item_section(f, w, errors));
    }
    body.push_str(&pages(page, more));
    layout::page_with(f, status, "Approvals", errors, &body)
}

/// Previous and next pages of items (GOV.UK pagination).
fn pages(page: usize, more: bool) -> String {
    let link = |to: usize, rel: &str, words: &str| {
        format!(
            "<div class=\"govuk-pagination__{rel}\"><a class=\"govuk-link govuk-pagination__link\" rel=\"{rel}\" href=\"/console/approvals?page={to}\">\
             <span class=\"govuk-pagination__link-title\">{words}</span></a></div>"
        )
    };
    let prev = if page > 0 {
        link(page, "prev", "Previous page")
    } else {
        String::new()
    };
    let next = if more {
        link(page + 2, "next", "Next page")
    } else {
        String::new()
    };
    if prev.is_empty() && next.is_empty() {
        return String::new();
    }
    format!("<nav class=\"govuk-pagination govuk-pagination--block\" aria-label=\"Pages\">{prev}{next}</nav>")
}

/// One page of the items awaiting approval, in due order: the page's
/// number (from 0), its items with each delivery read in full (variant
/// and history) through the API, and whether more items follow. Only the
/// listing (no variants) is read past the page, and only until the next
/// page is known to exist, then each shown item's own deliveries; the
/// items as the daemon holds them (the
/// version an approval is checked against) come in one request.
async fn load(
    c: &Console,
    visit: &Visit,
    window: Window<'_>,
) -> Result<(usize, Vec<Waiting>, bool), Failure> {
    let mut order: Vec<String> = Vec::new();
    let mut after = String::new();
    let enough = |order: &[String]| match window {
        Window::Page(n) => order.len() > (n + 1) * PER_PAGE,
        Window::Holding(id) => order
            .iter()
            .position(|i| i == id)
            .is_some_and(|at| order.len() > (at / PER_PAGE + 1) * PER_PAGE),
    };
    loop {
        let uri = format!("/api/v1/deliveries?awaiting_approval=true&limit=500{after}");
        let listed: DeliveryPage = c.api.get(&visit.who, &uri).await?;
        for row in listed.deliveries {
            if !order.contains(&row.item) {
                order.push(row.item);
            }
        }
        match listed.next {
            Some(next) if !enough(&order) => after = format!("&after={}", enc(&next)),
            _ => break,
        }
    }
    let page = match window {
        Window::Page(n) => n,
        Window::Holding(id) => order.iter().position(|i| i == id).unwrap_or(0) / PER_PAGE,
    };
    let shown: Vec<String> = order
        .iter()
        .skip(page * PER_PAGE)
        .take(PER_PAGE)
        .cloned()
        .collect();
    let more = order.len() > (page + 1) * PER_PAGE;
    let mut out = Vec::new();
    for id in &shown {
        // All of the item's, not only those the scan above reached.
        let uri = format!(
            "/api/v1/deliveries?awaiting_approval=true&limit=500&item={}",
            enc(id)
        );
        let listed: DeliveryPage = c.api.get(&visit.who, &uri).await?;
        let mut deliveries = Vec::new();
        for row in listed.deliveries {
            let uri = format!("/api/v1/deliveries/{}", row.id);
            deliveries.push(c.api.get::<DeliveryDetail>(&visit.who, &uri).await?);
        }
        out.push(Waiting {
            id: id.clone(),
            item: None,
            deliveries,
        });
    }
    if !shown.is_empty() {
        let uri = format!("/api/v1/items?limit=500&ids={}", enc(&shown.join(",")));
        let mut items: ItemList = c.api.get(&visit.who, &uri).await?;
        for w in &mut out {
            if let Some(i) = items.items.iter().position(|i| i.id == w.id) {
                w.item = Some(items.items.swap_remove(i));
            }
        }
    }
    Ok((page, out, more))
}

fn item_section(f: &Frame, w: &Waiting, errors: &[FieldError]) -> String {
    let title = w.item.as_ref().map_or(w.id.as_str(), |i| i.title.as_str());
    let mut out = format!(
        "<section class=\"crier-approval\" aria-labelledby=\"item-{id}\">\
         <h2 class=\"govuk-heading-m\" id=\"item-{id}\"><a class=\"govuk-link\" href=\"/console/items/{href}\">{t}</a></h2>\n",
        id = esc(&w.id),
        href = esc(&enc(&w.id)),
        t = esc(title),
    );
    if let Some(i) = &w.item {
        out.push_str(&layout::summary_list(&[
            ("Kind", esc(&i.kind)),
            ("Publishes", esc(&f.time(i.at))),
            ("Version", format!("<code>{}</code>", esc(&i.version))),
        ]));
    }
    for d in &w.deliveries {
        out.push_str(&delivery_block(f, d));
    }
    out.push_str(&decision(f, w, errors));
    out.push_str("</section>\n");
    out
}

fn delivery_block(f: &Frame, d: &DeliveryDetail) -> String {
    let row = &d.delivery;
    let mut notes = String::new();
    if let Some((who, reason)) = rejection(row) {
        notes.push_str(&format!(
            "<div class=\"govuk-inset-text\">Rejected by {}: {}</div>",
            esc(&who),
            esc(&reason)
        ));
    }
    if voided_by_edit(&d.history) {
        notes.push_str(
            "<div class=\"govuk-inset-text\"><strong>Approval voided by an edit.</strong> \
             It was approved, then its content changed, so it needs approving again.</div>",
        );
    }
    format!(
        "<h3 class=\"govuk-heading-s\">{ch} ({occ}), due {due} {tag}</h3>{notes}{variant}",
        ch = esc(&row.channel),
        occ = esc(&row.occasion),
        due = esc(&f.time(row.due_at)),
        tag = delivery_tag(row),
        variant = variant_html(row, &d.variant),
    )
}

/// A rejection's person and reason, from the hold's note
/// (`rejected by <actor>: <reason>`).
fn rejection(d: &DeliveryRow) -> Option<(String, String)> {
    let note = d.last_error.as_deref()?.strip_prefix("rejected by ")?;
    let (who, reason) = note.split_once(": ")?;
    Some((actor_name(who), reason.to_string()))
}

/// Approved once, and its content edited after that (the audit log's
/// transitions: the edit cleared the approval).
pub fn voided_by_edit(history: &[Transition]) -> bool {
    let approved = history
        .iter()
        .rposition(|t| t.reason.starts_with("approved"));
    approved.is_some_and(|i| {
        history[i..]
            .iter()
            .any(|t| t.reason.starts_with("content edited"))
    })
}

/// Exactly what the channel will send: subject, each part with its
/// count against the limit, and the HTML in a sandboxed frame. Read as
/// the API's JSON (only the store turns stored text into a typed one).
fn variant_html(row: &DeliveryRow, sent: &serde_json::Value) -> String {
    let parts = sent["parts"].as_array().cloned().unwrap_or_default();
    let mut out = String::from("<div class=\"crier-previews\">");
    if let Some(s) = sent["subject"].as_str() {
        out.push_str(&format!(
            "<p class=\"govuk-body\"><strong>Subject:</strong> {}</p>",
            esc(s)
        ));
    }
    let limit = sent["limit"]
        .as_u64()
        .map(|l| format!(" of {l}"))
        .unwrap_or_default();
    let unit = sent["unit"].as_str().unwrap_or("characters");
    for (n, p) in parts.iter().enumerate() {
        let label = if parts.len() > 1 {
            format!("Part {} of {}: ", n + 1, parts.len())
        } else {
            String::new()
        };
        out.push_str(&format!(
            "<pre class=\"crier-preview\">{}</pre><p class=\"govuk-body-s\">{label}{}{limit} {}</p>",
            esc(p["text"].as_str().unwrap_or("")),
            p["length"].as_u64().unwrap_or(0),
            esc(unit)
        ));
    }
    if let Some(html) = sent["html"].as_str() {
        out.push_str(&format!(
            "<iframe class=\"crier-frame\" sandbox=\"\" title=\"The email's HTML for {} ({})\" srcdoc=\"{}\"></iframe>",
            esc(&row.channel),
            esc(&row.occasion),
            esc(html)
        ));
    }
    out.push_str("</div>");
    out
}

/// "Approve item" and "Reject" for approvers, bound to the version shown.
fn decision(f: &Frame, w: &Waiting, errors: &[FieldError]) -> String {
    if !f.may(Permission::Approve) {
        return String::new();
    }
    let Some(item) = &w.item else {
        return "<p class=\"govuk-body\">This item is no longer in the campaign files, so it cannot be approved as a whole.</p>".into();
    };
    let to = |what: &str| format!("/console/approvals/{}/{what}", enc(&w.id));
    let version = item.version.as_str();
    let hidden = [("version", version)];
    let title = esc(&item.title);
    let approve = button_form(
        &to("approve"),
        &hidden,
        &format!("Approve item<span class=\"govuk-visually-hidden\"> {title}</span>"),
        "",
        "",
    );
    let field_id = format!("reason-{}", w.id);
    let error = errors.iter().find(|(id, _)| *id == field_id);
    let (group, message) = match error {
        Some((_, m)) => (
            " govuk-form-group--error",
            format!(
                "<p class=\"govuk-error-message\" id=\"{id}-error\"><span class=\"govuk-visually-hidden\">Error:</span> {}</p>",
                esc(m),
                id = esc(&field_id)
            ),
        ),
        None => ("", String::new()),
    };
    // The error class, then the message it is described by.
    let error_attrs = if error.is_some() {
        format!(
            " govuk-textarea--error\" aria-describedby=\"{}-error",
            esc(&field_id)
        )
    } else {
        String::new()
    };
    let reason = format!(
        "<div class=\"govuk-form-group{group}\"><label class=\"govuk-label\" for=\"{id}\">Reason for rejecting {title}</label>\
         <div class=\"govuk-hint\">The author sees this.</div>{message}\
         <textarea class=\"govuk-textarea{error_attrs}\" id=\"{id}\" name=\"reason\" rows=\"2\"></textarea></div>",
        id = esc(&field_id),
    );
    let reject = button_form(
        &to("reject"),
        &hidden,
        &format!("Reject<span class=\"govuk-visually-hidden\"> {title}</span>"),
        "govuk-button--secondary",
        &reason,
    );
    format!("<div class=\"crier-decision\">{approve}{reject}</div>")
}

fn done_banner(shown: &Shown) -> String {
    let what = match shown.done.as_deref() {
        Some("approve") => "was approved on every channel.",
        Some("reject") => "was rejected. Its author will see your reason.",
        _ => return String::new(),
    };
    let item = shown.item.as_deref().unwrap_or("The item");
    layout::success_banner(&format!("{} {what}", esc(item)))
}

/// Approves or rejects the whole item at the version the approver saw.
pub async fn decide(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Path((item, decision)): Path<(String, String)>,
    axum::Form(fields): Fields,
) -> Response {
    let version = field(&fields, "version");
    let reason = field(&fields, "reason");
    let body = match decision.as_str() {
        "approve" => serde_json::json!({}),
        "reject" if reason.is_empty() => {
            let error = (
                format!("reason-{item}"),
                "Enter a reason for rejecting, so the author knows what to change".to_string(),
            );
            let window = Window::Holding(&item);
            return render(&c, &visit, window, StatusCode::BAD_REQUEST, "", &[error]).await;
        }
        "reject" => serde_json::json!({ "reason": reason }),
        _ => return see_other("/console/approvals"),
    };
    let uri = format!("/api/v1/items/{}/{decision}", enc(&item));
    let answer: Result<serde_json::Value, _> = c
        .api
        .call(&visit.who, Method::POST, &uri, Some(&body), Some(&version))
        .await;
    match answer {
        Ok(_) => see_other(&format!(
            "/console/approvals?done={decision}&item={}",
            enc(&item)
        )),
        Err(f) => visit.failed(&f),
    }
}
