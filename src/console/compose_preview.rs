//! The composer's preview: each channel's variant side by side, as the
//! API's draft preview returns it (thread parts with their counts, the
//! email's subject, text and HTML in a sandboxed frame), with the lint
//! findings beside the channel they concern.

use handlebars::html_escape as esc;

use crate::api::problem::Finding;
use crate::variant::Variant;

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

fn card(json: &serde_json::Value, findings: &[Finding]) -> String {
    let Ok(v) = serde_json::from_value::<Variant>(json.clone()) else {
        return String::new();
    };
    let limits = json["limits"]
        .as_str()
        .map(|l| format!("<p class=\"govuk-body-s\">{}</p>", esc(l)))
        .unwrap_or_default();
    let mine: Vec<&Finding> = findings
        .iter()
        .filter(|f| channel_of(f) == Some(v.channel.as_str()))
        .collect();
    let mut body = String::new();
    if let Some(subject) = &v.subject {
        body.push_str(&format!(
            "<p class=\"govuk-body\"><strong>Subject:</strong> {}</p>",
            esc(subject)
        ));
    }
    if let Some(html) = &v.html {
        body.push_str(&format!(
            "<iframe class=\"crier-frame\" sandbox srcdoc=\"{}\" title=\"The email to {} as it will look\"></iframe>\
             <details class=\"govuk-details\"><summary class=\"govuk-details__summary\"><span class=\"govuk-details__summary-text\">Plain text</span></summary>\
             <div class=\"govuk-details__text\"><pre class=\"crier-text\">{}</pre></div></details>",
            esc(html),
            esc(&v.channel),
            esc(&v.text)
        ));
    } else {
        body.push_str(&parts(&v));
    }
    format!(
        "<article class=\"crier-preview\"><h3 class=\"govuk-heading-s\">{} <span class=\"govuk-caption-m\">{}</span></h3>{limits}{}{body}</article>",
        esc(&v.channel),
        esc(&v.kind),
        findings_list(&mine),
    )
}

/// Each post of the thread (or the one post) with its count and limit.
fn parts(v: &Variant) -> String {
    let total = v.parts.len();
    v.parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let of = if total > 1 {
                format!("Part {} of {total}: ", i + 1)
            } else {
                String::new()
            };
            let count = match v.limit {
                Some(limit) => format!("{of}{} of {limit} {}", p.length, esc(&v.unit)),
                None => format!("{of}{} {}", p.length, esc(&v.unit)),
            };
            let over = v.limit.is_some_and(|l| p.length > l);
            let class = if over { " crier-error" } else { "" };
            format!(
                "<pre class=\"crier-text\">{}</pre><p class=\"govuk-body-s{class}\">{count}</p>",
                esc(&p.text)
            )
        })
        .collect()
}
