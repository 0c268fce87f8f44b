//! The layout every server-rendered page shares (the list pages, sign-in):
//! one `h1`, a title starting with it, and the GOV.UK Design System's
//! error summary when a form needs correcting. Plain HTML, no JavaScript.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use handlebars::html_escape as esc;

/// A page whose `body` is trusted HTML under an `h1` of `title`.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_with_errors(status, title, &[], body)
}

/// [`page`] with an error summary first: each error is (the id of the
/// field it is about, the message), linked to the field.
pub fn page_with_errors(
    status: StatusCode,
    title: &str,
    errors: &[(&str, &str)],
    body: &str,
) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>{STYLE}</style></head>\n<body>\n<main>\n<h1>{t}</h1>\n{summary}{body}\n</main>\n</body>\n</html>\n",
        t = esc(title),
        summary = error_summary(errors),
    );
    // Pages may hold a form with a secret in its action (a one-time link):
    // never cached, never sent to another site as a referrer. Not
    // `no-referrer`: with it browsers send `Origin: null` on this site's
    // own form posts, which the cross-site check must refuse.
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "same-origin"),
        ],
        Html(html),
    )
        .into_response()
}

/// Just enough style for WCAG 2.2's target size (24px, here 44px as
/// GOV.UK's controls are) and readable spacing; no other styling.
const STYLE: &str = "body{font-family:sans-serif;line-height:1.5;margin:1rem}\
    button,input:not([type=checkbox]):not([type=radio]){min-height:2.75rem;font-size:1rem}\
    .govuk-form-group{margin-bottom:1.5rem}.govuk-form-group label,.govuk-hint{display:block}\
    code{overflow-wrap:anywhere}";

fn error_summary(errors: &[(&str, &str)]) -> String {
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
        "<div class=\"govuk-error-summary\" role=\"alert\" aria-labelledby=\"error-summary-title\" \
         tabindex=\"-1\">\n<h2 id=\"error-summary-title\">There is a problem</h2>\n\
         <ul>{items}</ul>\n</div>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn html(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn one_h1_the_title_and_errors_linked_to_fields() {
        let r = page_with_errors(
            StatusCode::BAD_REQUEST,
            "Sign <in>",
            &[("email", "Enter an email & password")],
            "<form></form>",
        );
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        let h = html(r).await;
        assert_eq!(h.matches("<h1>").count(), 1);
        assert!(h.contains("<title>Sign &lt;in&gt;</title>"), "{h}");
        assert!(
            h.contains("<a href=\"#email\">Enter an email &amp; password</a>"),
            "{h}"
        );
        assert!(!html(page(StatusCode::OK, "Title", ""))
            .await
            .contains("There is a problem"));
    }
}
