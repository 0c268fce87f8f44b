//! Channels: for each, its kind, whether its secrets are set here (never
//! their values), what holds it, its latest send and failure, the limits
//! it counts with, its deliveries by state, and "Test connection" (which
//! checks the credentials and posts nothing).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use handlebars::html_escape as esc;

use super::form::{button_form, enc};
use super::layout::{self, summary_list, Frame};
use super::{Console, Visit};
use crate::access::Permission;
use crate::api::deliveries::ChannelStatus;
use crate::api::ops::ChannelTest;

pub async fn show(State(c): State<Arc<Console>>, visit: Visit) -> Response {
    render(&c, &visit, None).await
}

/// Tests one channel through the API and shows the result on the page.
pub async fn test(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Path(name): Path<String>,
) -> Response {
    let uri = format!("/api/v1/channels/{}/test", enc(&name));
    let answer: Result<ChannelTest, _> = c.api.post(&visit.who, &uri, &serde_json::json!({})).await;
    match answer {
        Ok(result) => render(&c, &visit, Some((&name, &result))).await,
        Err(f) => visit.failed(&f),
    }
}

async fn render(c: &Console, visit: &Visit, tested: Option<(&str, &ChannelTest)>) -> Response {
    let all: Vec<ChannelStatus> = match c.api.get(&visit.who, "/api/v1/channels").await {
        Ok(a) => a,
        Err(f) => return visit.failed(&f),
    };
    let f = &visit.frame;
    let mut body = tested.map(|(n, t)| result_banner(n, t)).unwrap_or_default();
    if all.is_empty() {
        body.push_str(
            "<p class=\"govuk-body\">No channels are set up in <code>channels.toml</code>.</p>",
        );
    }
    for ch in &all {
        body.push_str(&channel_section(f, ch));
    }
    layout::page_with(f, StatusCode::OK, "Channels", &[], &body)
}

fn result_banner(name: &str, t: &ChannelTest) -> String {
    let (kind, title) = if t.ok {
        ("govuk-notification-banner--success", "Connection works")
    } else {
        ("", "Connection failed")
    };
    let learned = t
        .learned
        .as_deref()
        .map(|l| format!("<p class=\"govuk-body\">Limits: {}</p>", esc(l)))
        .unwrap_or_default();
    format!(
        "<div class=\"govuk-notification-banner {kind}\" role=\"alert\" aria-labelledby=\"test-title\">\
         <div class=\"govuk-notification-banner__header\"><h2 class=\"govuk-notification-banner__title\" id=\"test-title\">{title}</h2></div>\
         <div class=\"govuk-notification-banner__content\"><p class=\"govuk-notification-banner__heading\">Test of {n}: {m}</p>\
         <p class=\"govuk-body\">Nothing was posted.</p>{learned}</div></div>\n",
        n = esc(name),
        m = esc(&t.message),
    )
}

fn channel_section(f: &Frame, ch: &ChannelStatus) -> String {
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("Never".to_string(), |t| esc(&f.time(t)))
    };
    let secrets = if ch.secrets.is_empty() {
        "None needed".to_string()
    } else {
        ch.secrets
            .iter()
            .map(|s| {
                let set = if s.set {
                    "set"
                } else {
                    "<strong>not set</strong>"
                };
                format!("<code>{}</code>: {set}", esc(&s.variable))
            })
            .collect::<Vec<_>>()
            .join("<br>")
    };
    let status = match (&ch.attention, ch.paused) {
        (Some(note), _) => format!("{} {}", layout::state_tag("held:credentials"), esc(note)),
        (None, true) => "<strong class=\"govuk-tag govuk-tag--orange\">Paused</strong>".into(),
        (None, false) => "<strong class=\"govuk-tag govuk-tag--green\">Working</strong>".into(),
    };
    let failure = match (&ch.last_failed, &ch.last_error) {
        (Some(t), e) => format!(
            "{}<br><span class=\"crier-error\">{}</span>",
            esc(&f.time(*t)),
            esc(e.as_deref().unwrap_or(""))
        ),
        (None, _) => "None".into(),
    };
    let counts = if ch.counts.is_empty() {
        "No deliveries".to_string()
    } else {
        ch.counts
            .iter()
            .map(|(s, n)| format!("{}: {n}", esc(s)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let test = if f.may(Permission::Operate) {
        button_form(
            &format!("/console/channels/{}/test", enc(&ch.name)),
            &[],
            &format!(
                "Test connection<span class=\"govuk-visually-hidden\"> of {}</span>",
                esc(&ch.name)
            ),
            "govuk-button--secondary",
            "",
        )
    } else {
        String::new()
    };
    format!(
        "<section aria-labelledby=\"channel-{id}\"><h2 class=\"govuk-heading-m\" id=\"channel-{id}\">{name}</h2>{list}{test}</section>\n",
        id = esc(&ch.name),
        name = esc(&ch.name),
        list = summary_list(&[
            ("Kind", esc(&ch.kind)),
            ("Status", status),
            ("Secrets", secrets),
            ("Last sent", when(ch.last_sent)),
            ("Last failure", failure),
            ("Limits", esc(ch.limits.as_deref().unwrap_or("No limit"))),
            ("Deliveries", counts),
        ]),
    )
}
