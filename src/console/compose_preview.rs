//! The composer's preview: each channel's variant side by side, as the
//! API's draft preview returns it (thread parts with their counts, the
//! email's subject, text and HTML in a sandboxed frame, the links and
//! tags a post carries, the structured message a card channel sends), with the lint
//! findings beside the channel they concern. The variants are read as
//! the JSON the API answers (only the store makes typed variants).

use handlebars::html_escape as esc;

use serde_json::Value;

use super::layout::Frame;
use crate::api::problem::Finding;
use crate::api::tools::Due;

/// The API's draft preview: variants (each with the channel's `limits`),
/// and when each delivery is due as crier plans it.
#[derive(serde::Deserialize)]
pub struct Previewed {
    pub variants: Vec<serde_json::Value>,
    pub findings: Vec<Finding>,
    pub due: Vec<Due>,
}

/// "Next firings": each channel's due times as the API planned them (the
/// console computes no schedule), in the organisation's timezone.
pub fn firings(frame: &Frame, due: &[Due]) -> String {
    let mut due: Vec<&Due> = due.iter().collect();
    due.sort_by(|a, b| (a.due_at, &a.channel).cmp(&(b.due_at, &b.channel)));
    let rows: String = due
        .iter()
        .map(|d| {
            let what = match d.occasion.as_str() {
                crate::plan::MAIN => "Publish".to_string(),
                reminder => format!("Reminder: {reminder}"),
            };
            format!(
                "<tr class=\"govuk-table__row\"><td class=\"govuk-table__cell\"><time datetime=\"{}\">{}</time></td>\
                 <td class=\"govuk-table__cell\">{}</td><td class=\"govuk-table__cell\">{}</td></tr>",
                d.due_at.to_rfc3339(),
                esc(&frame.time(d.due_at)),
                esc(&d.channel),
                esc(&what),
            )
        })
        .collect();
    let body = if due.is_empty() {
        "<p class=\"govuk-body\">Nothing would be sent: it goes to no channel.</p>".to_string()
    } else {
        format!(
            "<table class=\"govuk-table\" id=\"firings\"><caption class=\"govuk-visually-hidden\">When each delivery is due</caption>\
             <thead class=\"govuk-table__head\"><tr class=\"govuk-table__row\"><th scope=\"col\" class=\"govuk-table__header\">When</th>\
             <th scope=\"col\" class=\"govuk-table__header\">Channel</th><th scope=\"col\" class=\"govuk-table__header\">What</th></tr></thead>\
             <tbody class=\"govuk-table__body\">{rows}</tbody></table>"
        )
    };
    format!(
        "<section aria-labelledby=\"firings-title\"><h2 class=\"govuk-heading-m\" id=\"firings-title\">Next firings</h2>\
         <p class=\"govuk-body\">When each channel's deliveries are due, as crier plans them ({} time).</p>{body}</section>\n",
        esc(frame.timezone.name())
    )
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
    body.push_str(&payload(v));
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
                "<pre class=\"crier-text\">{}</pre><p class=\"govuk-body-s{class}\">{count}</p>{}",
                esc(p["text"].as_str().unwrap_or("")),
                annotations(&p["annotations"]),
            )
        })
        .collect()
}

/// What a network reads beside a part's words (the links and tags it
/// makes clickable), found by the generic `uri` and `tag` keys of the
/// part's annotations, so no network is named here.
fn annotations(a: &Value) -> String {
    let (mut links, mut tags) = (Vec::new(), Vec::new());
    collect(a, &mut links, &mut tags);
    let row = |name: &str, values: &[String]| -> String {
        if values.is_empty() {
            return String::new();
        }
        let items: String = values
            .iter()
            .map(|v| format!("<li>{}</li>", esc(v)))
            .collect();
        format!(
            "<div class=\"govuk-summary-list__row\"><dt class=\"govuk-summary-list__key\">{name}</dt>\
             <dd class=\"govuk-summary-list__value\"><ul class=\"govuk-list\">{items}</ul></dd></div>"
        )
    };
    let tags: Vec<String> = tags.iter().map(|t| format!("#{t}")).collect();
    let rows = row("Links", &links) + &row("Tags", &tags);
    if rows.is_empty() {
        return rows;
    }
    format!("<dl class=\"govuk-summary-list govuk-summary-list--no-border crier-annotations\">{rows}</dl>")
}

fn collect(v: &Value, links: &mut Vec<String>, tags: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x.as_str()) {
                    ("uri", Some(s)) => links.push(s.to_string()),
                    ("tag", Some(s)) => tags.push(s.to_string()),
                    _ => collect(x, links, tags),
                }
            }
        }
        Value::Array(xs) => xs.iter().for_each(|x| collect(x, links, tags)),
        _ => {}
    }
}

/// The request body itself, for channels that send a structured message
/// (a chat card, a webhook's JSON): exactly what is posted.
fn payload(v: &Value) -> String {
    let Some(p) = v.get("payload").filter(|p| !p.is_null()) else {
        return String::new();
    };
    let json = serde_json::to_string_pretty(p).unwrap_or_default();
    format!(
        "<details class=\"govuk-details\"><summary class=\"govuk-details__summary\">\
         <span class=\"govuk-details__summary-text\">The message as sent to {}</span></summary>\
         <div class=\"govuk-details__text\"><pre class=\"crier-payload\">{}</pre></div></details>",
        esc(v["channel"].as_str().unwrap_or("")),
        esc(&json)
    )
}

/// The channels' cards alone, without lint findings (the review page shows
/// someone outside the team what will go out, not the team's notes).
pub fn cards(variants: &[Value]) -> String {
    let cards: String = variants.iter().map(|v| card(v, &[])).collect();
    format!("<div class=\"crier-previews\">{cards}</div>")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// A post's links and tags (from its annotations' `uri` and `tag`
    /// keys, however deeply a channel nests them) and a structured
    /// message are shown as sent.
    #[test]
    fn a_card_shows_links_tags_and_the_message_as_sent() {
        let v = json!({
            "channel": "chat", "kind": "social", "limit": 300, "unit": "characters",
            "parts": [{ "text": "Closed on Friday https://p.example/c #Closed", "length": 44,
                "annotations": { "facets": [
                    { "features": [{ "uri": "https://p.example/c" }] },
                    { "features": [{ "tag": "Closed" }] } ] } }],
            "payload": { "card": { "title": "Closed on <Friday>" } },
        });
        let html = super::card(&v, &[]);
        assert!(
            html.contains("<dt class=\"govuk-summary-list__key\">Links</dt>"),
            "{html}"
        );
        assert!(html.contains("<li>https://p.example/c</li>"), "{html}");
        assert!(html.contains("<li>#Closed</li>"), "{html}");
        assert!(html.contains("The message as sent to chat"), "{html}");
        assert!(html.contains("Closed on &lt;Friday&gt;"), "{html}");
        let plain = super::card(
            &json!({ "channel": "log", "parts": [{ "text": "Hi", "length": 2 }] }),
            &[],
        );
        assert!(
            !plain.contains("Links") && !plain.contains("as sent to"),
            "{plain}"
        );
    }
}
