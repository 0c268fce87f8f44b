//! The composer's preview: each channel's variant side by side, as the
//! API's draft preview returns it (thread parts with their counts, the
//! email's subject, text and HTML in a sandboxed frame), with the lint
//! findings beside the channel they concern. The variants are read as
//! the JSON the API answers (only the store makes typed variants).

use handlebars::html_escape as esc;

use serde_json::Value;

use crate::api::problem::Finding;

/// The API's draft preview: variants (each with the channel's `limits`).
#[derive(serde::Deserialize)]
pub struct Previewed {
    pub variants: Vec<serde_json::Value>,
    pub findings: Vec<Finding>,
}

pub fn previews(p: &Previewed) -> String {
    let general: Vec<&Finding> = p
        .findings
        .iter()
        .filter(|f| channel_of(f).is_none())
        .collect();
    let cards: String = p.variants.iter().map(|v| card(v, &p.findings)).collect();
    format!(
        "<section class=\"crier-preview-section\" aria-labelledby=\"preview-title\">\
         <h2 class=\"govuk-heading-m\" id=\"preview-title\">Preview</h2>\
         <p class=\"govuk-body\">Nothing is saved until you continue and save.</p>{}\
         <div class=\"crier-previews\">{cards}</div></section>\n",
        findings_list(&general)
    )
}

/// The channel a finding's location names (`item `x` on channel `y``).
fn channel_of(f: &Finding) -> Option<&str> {
    let field = f.field.as_deref()?;
    let rest = field.split_once("on channel `")?.1;
    rest.strip_suffix('`')
}

fn findings_list(findings: &[&Finding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let items: String = findings
        .iter()
        .map(|f| {
            let tag = match f.severity.as_str() {
                "error" => "red",
                "warning" => "orange",
                _ => "grey",
            };
            format!(
                "<li><strong class=\"govuk-tag govuk-tag--{tag}\">{}</strong> {}</li>",
                esc(&f.severity),
                esc(&f.message)
            )
        })
        .collect();
    format!("<ul class=\"govuk-list crier-findings\">{items}</ul>")
}

fn card(v: &Value, findings: &[Finding]) -> String {
    let text = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let channel = text("channel");
    let limits = v["limits"]
        .as_str()
        .map(|l| format!("<p class=\"govuk-body-s\">{}</p>", esc(l)))
        .unwrap_or_default();
    let mine: Vec<&Finding> = findings
        .iter()
        .filter(|f| channel_of(f) == Some(channel.as_str()))
        .collect();
    let mut body = String::new();
    if let Some(subject) = v["subject"].as_str() {
        body.push_str(&format!(
            "<p class=\"govuk-body\"><strong>Subject:</strong> {}</p>",
            esc(subject)
        ));
    }
    if let Some(html) = v["html"].as_str() {
        body.push_str(&format!(
            "<iframe class=\"crier-frame\" sandbox srcdoc=\"{}\" title=\"The email to {} as it will look\"></iframe>\
             <details class=\"govuk-details\"><summary class=\"govuk-details__summary\"><span class=\"govuk-details__summary-text\">Plain text</span></summary>\
             <div class=\"govuk-details__text\"><pre class=\"crier-text\">{}</pre></div></details>",
            esc(html),
            esc(&channel),
            esc(&text("text"))
        ));
    } else {
        body.push_str(&parts(v));
    }
    format!(
        "<article class=\"crier-preview\"><h3 class=\"govuk-heading-s\">{} <span class=\"govuk-caption-m\">{}</span></h3>{limits}{}{body}</article>",
        esc(&channel),
        esc(&text("kind")),
        findings_list(&mine),
    )
}

/// Each post of the thread (or the one post) with its count and limit.
fn parts(v: &Value) -> String {
    let parts = v["parts"].as_array().map_or(&[][..], Vec::as_slice);
    let (limit, unit) = (v["limit"].as_u64(), v["unit"].as_str().unwrap_or(""));
    let total = parts.len();
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let length = p["length"].as_u64().unwrap_or(0);
            let of = if total > 1 {
                format!("Part {} of {total}: ", i + 1)
            } else {
                String::new()
            };
            let count = match limit {
                Some(limit) => format!("{of}{length} of {limit} {}", esc(unit)),
                None => format!("{of}{length} {}", esc(unit)),
            };
            let class = if limit.is_some_and(|l| length > l) {
                " crier-error"
            } else {
                ""
            };
            format!(
                "<pre class=\"crier-text\">{}</pre><p class=\"govuk-body-s{class}\">{count}</p>",
                esc(p["text"].as_str().unwrap_or(""))
            )
        })
        .collect()
}

/// The channels' cards alone, without lint findings (the review page shows
/// someone outside the team what will go out, not the team's notes).
pub fn cards(variants: &[Value]) -> String {
    let cards: String = variants.iter().map(|v| card(v, &[])).collect();
    format!("<div class=\"crier-previews\">{cards}</div>")
}
