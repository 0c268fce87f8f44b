//! Small pieces the console's forms share: reading posted fields, a
//! one-button form, the redirect after a post (post / redirect / get).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use handlebars::html_escape as esc;

pub type Fields = axum::Form<Vec<(String, String)>>;

/// A posted field's value, trimmed ("" if absent).
pub fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// A form that posts `hidden` fields to `action` with one button; `extra`
/// is HTML placed before the button (a reason field).
pub fn button_form(
    action: &str,
    hidden: &[(&str, &str)],
    text: &str,
    class: &str,
    extra: &str,
) -> String {
    let hidden: String = hidden
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(k),
                esc(v)
            )
        })
        .collect();
    format!(
        "<form method=\"post\" action=\"{}\" class=\"crier-inline-form\">{hidden}{extra}\
         <button type=\"submit\" class=\"govuk-button {class}\">{text}</button></form>",
        esc(action),
    )
}

/// A 303 to a path on this site.
pub fn see_other(to: &str) -> Response {
    let to = if to.starts_with('/') && !to.starts_with("//") {
        to
    } else {
        "/console/"
    };
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, to.to_string()),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response()
}

/// A path segment, percent-encoded.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
