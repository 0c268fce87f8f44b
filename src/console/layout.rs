//! The frame every console page shares: the organisation's header, the
//! navigation a role may use, the pause banner and control, one `h1`, the
//! error summary; plus the GOV.UK components the pages are built from.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handlebars::html_escape as esc;

use crate::access::{Permission, Principal};
use crate::store::Paused;

/// Who is looking, and what every page shows around its content.
pub struct Frame {
    pub org: String,
    /// Header background and the text colour that contrasts with it.
    pub colour: (String, &'static str),
    pub timezone: Tz,
    pub principal: Principal,
    pub paused: Paused,
    /// This page's path, to mark the current navigation entry.
    pub path: String,
}

impl Frame {
    pub fn may(&self, p: Permission) -> bool {
        self.principal.may(p)
    }

    /// A time as people here read it: "Sunday 29 November 2026, 6:05pm".
    pub fn time(&self, t: DateTime<Utc>) -> String {
        local_time(self.timezone, t)
    }

    pub fn date(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.timezone)
            .format("%-d %B %Y")
            .to_string()
    }
}

/// A time in `tz` as people read it: "Sunday 29 November 2026, 6:05pm".
pub fn local_time(tz: Tz, t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&tz);
    let clock = local.format("%-I:%M%P").to_string().replace(":00", "");
    format!("{}, {clock}", local.format("%A %-d %B %Y"))
}

/// An error for the summary: the id of the field it is about, the message.
pub type FieldError = (String, String);

pub fn page(frame: &Frame, title: &str, body: &str) -> Response {
    page_with(frame, StatusCode::OK, title, &[], body)
}

pub fn page_with(
    frame: &Frame,
    status: StatusCode,
    title: &str,
    errors: &[FieldError],
    body: &str,
) -> Response {
    let prefix = if errors.is_empty() { "" } else { "Error: " };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{prefix}{t} – {org}</title>\
         <link rel=\"stylesheet\" href=\"/console/assets/style.css\">\
         <script src=\"/console/assets/enhance.js\" defer></script></head>\n<body>\n\
         <a href=\"#main\" class=\"govuk-skip-link\">Skip to main content</a>\n{header}\
         <div class=\"govuk-width-container\">\n{banner}<main class=\"govuk-main-wrapper\" id=\"main\" tabindex=\"-1\">\n\
         {summary}<h1 class=\"govuk-heading-l\">{t}</h1>\n{body}\n</main>\n</div>\n{footer}</body>\n</html>\n",
        t = esc(title),
        org = esc(&frame.org),
        header = header(frame),
        banner = pause_banner(frame),
        summary = error_summary(errors),
        footer = footer(frame),
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "same-origin"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(html),
    )
        .into_response()
}

/// The organisation's bar, the navigation, and (for publishers) the
/// emergency pause.
fn header(frame: &Frame) -> String {
    let (bg, fg) = (&frame.colour.0, frame.colour.1);
    let mut links = vec![
        ("/console/", "Calendar"),
        ("/console/approvals", "Approvals"),
    ];
    if frame.may(Permission::Edit) {
        links.insert(1, ("/console/items/new", "New item"));
    }
    links.push(("/console/channels", "Channels"));
    if frame.may(Permission::PersonalData) {
        links.push(("/console/subscribers", "Subscribers"));
    }
    let nav: String = links
        .iter()
        .map(|(href, text)| {
            let current = if current(&frame.path, href) {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<li><a class=\"govuk-link\" href=\"{href}\"{current}>{text}</a></li>")
        })
        .collect();
    let pause = if frame.may(Permission::Operate) && !frame.paused.all {
        "<a class=\"govuk-button govuk-button--warning crier-pause\" href=\"/console/pause\">Pause all publishing</a>"
    } else {
        ""
    };
    format!(
        "<header class=\"crier-header\" style=\"background:{bg};color:{fg}\">\n\
         <div class=\"govuk-width-container crier-header__bar\">\
         <a class=\"crier-header__name\" style=\"color:{fg}\" href=\"/console/\">{org}</a>{pause}</div>\n</header>\n\
         <nav class=\"crier-nav\" aria-label=\"Console\"><ul class=\"govuk-width-container\">{nav}</ul></nav>\n",
        org = esc(&frame.org),
    )
}

fn current(path: &str, href: &str) -> bool {
    if href == "/console/" {
        path == "/console/" || path == "/console"
    } else {
        // `/console/items/new` is not current on `/console/items/news-…`.
        path == href || path.starts_with(&format!("{href}/"))
    }
}

fn pause_banner(frame: &Frame) -> String {
    let p = &frame.paused;
    let what = if p.all {
        let since = p.since.map(|t| frame.time(t)).unwrap_or_default();
        let by = p.by.as_deref().map(actor_name).unwrap_or_default();
        format!(
            "All publishing is paused. Paused since {} by {}.",
            esc(&since),
            esc(&by)
        )
    } else if !p.channels.is_empty() {
        format!("Publishing is paused on {}.", esc(&p.channels.join(", ")))
    } else {
        return String::new();
    };
    let resume = if frame.may(Permission::Operate) {
        "<p class=\"govuk-body\"><a class=\"govuk-notification-banner__link\" href=\"/console/resume\">Resume publishing</a></p>"
    } else {
        ""
    };
    format!(
        "<div class=\"govuk-notification-banner govuk-notification-banner--important\" role=\"region\" \
         aria-labelledby=\"pause-banner-title\">\n<div class=\"govuk-notification-banner__header\">\
         <h2 class=\"govuk-notification-banner__title\" id=\"pause-banner-title\">Paused</h2></div>\n\
         <div class=\"govuk-notification-banner__content\"><p class=\"govuk-notification-banner__heading\">{what}</p>{resume}</div>\n</div>\n"
    )
}

fn footer(frame: &Frame) -> String {
    format!(
        "<footer class=\"crier-footer\"><div class=\"govuk-width-container\">\
         <p class=\"govuk-body\">Signed in as {who} ({role}). <a class=\"govuk-link\" href=\"/account\">Your account</a></p>\
         <form method=\"post\" action=\"/signout\"><button class=\"govuk-button govuk-button--secondary\" type=\"submit\">Sign out</button></form>\
         </div></footer>\n",
        who = esc(&actor_name(&frame.principal.actor.to_stored())),
        role = frame.principal.role,
    )
}

/// An actor as stored (`person:ann@…`, `cli:root`, `daemon:`) in words.
pub fn actor_name(stored: &str) -> String {
    match stored.split_once(':') {
        Some(("person", who)) => who.to_string(),
        Some(("cli", who)) => format!("{who} (command line)"),
        Some(("token", who)) => format!("API token “{who}”"),
        Some(("daemon", _)) => "crier".to_string(),
        _ if stored == "daemon" => "crier".to_string(),
        _ => stored.to_string(),
    }
}

pub fn error_summary(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let items: String = errors
        .iter()
        .map(|(field, message)| {
            format!("<li><a href=\"#{}\">{}</a></li>", esc(field), esc(message))
        })
        .collect();
    format!(
        "<div class=\"govuk-error-summary\" data-module=\"govuk-error-summary\">\n<div role=\"alert\">\n\
         <h2 class=\"govuk-error-summary__title\">There is a problem</h2>\n\
         <div class=\"govuk-error-summary__body\"><ul class=\"govuk-list govuk-error-summary__list\">{items}</ul></div>\n\
         </div>\n</div>\n"
    )
}

/// GOV.UK's success notification banner; `heading` is trusted HTML.
pub fn success_banner(heading: &str) -> String {
    format!(
        "<div class=\"govuk-notification-banner govuk-notification-banner--success\" role=\"alert\" aria-labelledby=\"done-title\">\
         <div class=\"govuk-notification-banner__header\"><h2 class=\"govuk-notification-banner__title\" id=\"done-title\">Success</h2></div>\
         <div class=\"govuk-notification-banner__content\"><p class=\"govuk-notification-banner__heading\">{heading}</p></div></div>\n"
    )
}

/// Whether a delivery still waits for someone to approve it.
pub fn awaits_approval(d: &crate::api::deliveries::DeliveryRow) -> bool {
    let pending = matches!(
        d.state.as_str(),
        "planned" | "due" | "retrying" | "held:approval"
    );
    d.requires_approval && !d.approved && pending
}

/// A delivery's tag: its state, or "Awaiting approval" while it does.
pub fn delivery_tag(d: &crate::api::deliveries::DeliveryRow) -> String {
    if awaits_approval(d) {
        state_tag("held:approval")
    } else {
        state_tag(&d.state)
    }
}

/// A GOV.UK tag for a delivery state (`held:approval`, `sent`, …).
pub fn state_tag(state: &str) -> String {
    let (colour, words) = match state.split_once(':') {
        Some(("held", "approval")) => ("yellow", "Awaiting approval".to_string()),
        Some(("held", "uncertain")) => ("red", "Uncertain".to_string()),
        Some(("held", reason)) => ("orange", format!("Held: {reason}")),
        _ => match state {
            "sent" => ("green", "Sent".to_string()),
            "failed" => ("red", "Failed".to_string()),
            "cancelled" => ("grey", "Cancelled".to_string()),
            "planned" => ("blue", "Planned".to_string()),
            "retrying" => ("orange", "Retrying".to_string()),
            "in_flight" | "due" => ("purple", "Sending".to_string()),
            other => ("grey", other.to_string()),
        },
    };
    format!(
        "<strong class=\"govuk-tag govuk-tag--{colour}\">{}</strong>",
        esc(&words)
    )
}

/// A GOV.UK summary list of (key, value HTML) rows.
pub fn summary_list(rows: &[(&str, String)]) -> String {
    let rows: String = rows
        .iter()
        .map(|(k, v)| {
            format!(
                "<div class=\"govuk-summary-list__row\"><dt class=\"govuk-summary-list__key\">{}</dt>\
                 <dd class=\"govuk-summary-list__value\">{v}</dd></div>",
                esc(k)
            )
        })
        .collect();
    format!("<dl class=\"govuk-summary-list\">{rows}</dl>\n")
}

/// Black or white text, whichever contrasts more with `#rrggbb` (WCAG's
/// relative luminance).
pub fn text_on(colour: &str) -> &'static str {
    let channel = |i: usize| {
        let v = u8::from_str_radix(colour.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
        let c = f64::from(v) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    // Contrast with white (1.05 / (l + 0.05)) against with black ((l + 0.05) / 0.05).
    if 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 {
        "#ffffff"
    } else {
        "#0b0c0c"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_contrasts_with_the_organisation_colour() {
        assert_eq!(text_on("#1d70b8"), "#ffffff");
        assert_eq!(text_on("#ffdd00"), "#0b0c0c");
        assert_eq!(text_on("#0b0c0c"), "#ffffff");
        assert_eq!(text_on("#f3f2f1"), "#0b0c0c");
    }

    #[test]
    fn actors_read_as_words() {
        assert_eq!(actor_name("person:ann@example.org"), "ann@example.org");
        assert_eq!(actor_name("cli:root"), "root (command line)");
        assert_eq!(actor_name("daemon:"), "crier");
        assert_eq!(actor_name("daemon"), "crier");
        assert!(current("/console/items/new", "/console/items/new"));
        assert!(!current("/console/items/news-update", "/console/items/new"));
    }
}
