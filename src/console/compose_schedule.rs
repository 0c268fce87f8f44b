//! The composer's "When should it go out?": at a date and time, in the
//! next free posting slot on or after a date (`slot = true`), or with a
//! campaign's cadence (a `[[post]]` in the campaign's file without `at`).
//! GOV.UK radios with conditional reveal: without JavaScript every
//! revealed field shows, and the chosen radio decides which are read.
//! Reminders stay with the event's other fields.

use handlebars::html_escape as esc;
use serde_json::{json, Map, Value};

use super::compose_draft::{time_of, time_pairs, Pairs};
use super::compose_form::{date_time, error_line, FormView};
use super::form::field;
use super::layout::FieldError;
use crate::api::campaigns::CampaignSummary;

/// The choices: (value, label, hint).
const CHOICES: [(&str, &str, &str); 3] = [
    ("at", "At a date and time", ""),
    (
        "slot",
        "In the next free posting slot on or after a date",
        "Each channel with posting slots takes its first free one; the others go at this time",
    ),
    (
        "cadence",
        "With a campaign's cadence",
        "It becomes a post of the campaign and takes the cadence's next free time",
    ),
];

/// The way chosen; `at` when none was posted (the form before it had the
/// choice, or a link to a date).
pub fn chosen(pairs: &[(String, String)]) -> &'static str {
    let posted = field(pairs, "schedule");
    CHOICES
        .iter()
        .map(|c| c.0)
        .find(|c| *c == posted)
        .unwrap_or("at")
}

/// The item's `at` and `slot` from the form; what is missing, at its control.
pub fn to_fields(pairs: &[(String, String)], out: &mut Map<String, Value>) -> Vec<FieldError> {
    out.remove("at");
    out.remove("slot");
    let (date, missing) = match chosen(pairs) {
        "slot" => (
            "slot",
            "Enter the date from which to take the next free slot",
        ),
        "cadence" => {
            if field(pairs, "campaign").is_empty() {
                let message = "Select the campaign whose cadence it follows";
                return vec![("campaign".into(), message.into())];
            }
            return Vec::new();
        }
        _ => ("at", "Enter the date it is published"),
    };
    match time_of(pairs, date) {
        Ok(Some(t)) => {
            out.insert("at".into(), json!(t));
            if date == "slot" {
                out.insert("slot".into(), json!(true));
            }
            Vec::new()
        }
        Ok(None) => vec![(format!("{date}-day"), missing.into())],
        Err(e) => vec![e],
    }
}

/// The campaign file a new item joins as a post (the cadence chosen).
pub fn campaign_file(pairs: &[(String, String)]) -> Option<String> {
    (chosen(pairs) == "cadence").then(|| field(pairs, "campaign"))
}

/// The form's fields for an item's `at` and `slot` (taken from `fields`);
/// `own` is the file of the campaign it is a post of, if it is one.
pub fn to_pairs(fields: &mut Map<String, Value>, own: Option<&str>) -> Pairs {
    let slot = fields.remove("slot").and_then(|v| v.as_bool()) == Some(true);
    let at = fields.remove("at").map(|v| match v {
        Value::String(s) => s,
        other => other.to_string(),
    });
    let mut pairs = Pairs::new();
    if let Some(file) = own {
        pairs.push(("campaign-own".into(), file.to_string()));
    }
    let choice = match (&at, slot, own) {
        (None, _, Some(file)) => {
            pairs.push(("campaign".into(), file.to_string()));
            "cadence"
        }
        (_, true, _) => "slot",
        _ => "at",
    };
    pairs.push(("schedule".into(), choice.into()));
    if let Some(at) = at {
        // Both date inputs hold it, so switching the choice keeps the date.
        pairs.extend(time_pairs("at", &at));
        pairs.extend(time_pairs("slot", &at));
    }
    pairs
}

/// The campaigns this draft may follow: any for a new item; for an edit,
/// only the one it is already a post of (an entry stays in its file).
pub fn offered<'a>(
    pairs: &[(String, String)],
    editing: bool,
    all: &'a [CampaignSummary],
) -> Vec<&'a CampaignSummary> {
    let own = field(pairs, "campaign-own");
    all.iter().filter(|c| !editing || c.file == own).collect()
}

/// The GOV.UK radios, each choice's fields revealed beneath it.
pub fn radios(v: &FormView) -> String {
    let choice = chosen(v.pairs);
    let error = v.error("schedule");
    let items: String = CHOICES
        .iter()
        .filter(|c| c.0 != "cadence" || !v.campaigns.is_empty())
        .enumerate()
        .map(|(i, (value, label, hint))| {
            let id = if i == 0 {
                "schedule".to_string()
            } else {
                format!("schedule-{value}")
            };
            let checked = if *value == choice { " checked" } else { "" };
            let (hint_html, described) = if hint.is_empty() {
                (String::new(), String::new())
            } else {
                (
                    format!("<div id=\"{id}-hint\" class=\"govuk-hint govuk-radios__hint\">{hint}</div>"),
                    format!(" aria-describedby=\"{id}-hint\""),
                )
            };
            format!(
                "<div class=\"govuk-radios__item\"><input class=\"govuk-radios__input\" id=\"{id}\" name=\"schedule\" type=\"radio\" value=\"{value}\"{checked}{described} data-aria-controls=\"conditional-{value}\">\
                 <label class=\"govuk-label govuk-radios__label\" for=\"{id}\">{label}</label>{hint_html}</div>\
                 <div class=\"govuk-radios__conditional\" id=\"conditional-{value}\">{}</div>\n",
                revealed(v, value)
            )
        })
        .collect();
    format!(
        "<div class=\"govuk-form-group{}\"><fieldset class=\"govuk-fieldset\">\
         <legend class=\"govuk-fieldset__legend govuk-fieldset__legend--m\">When should it go out?</legend>{}\
         <div class=\"govuk-radios\" data-module=\"govuk-radios\">\n{items}</div></fieldset></div>\n",
        if error.is_some() { " govuk-form-group--error" } else { "" },
        error_line("schedule", error),
    )
}

/// What one choice reveals.
fn revealed(v: &FormView, choice: &str) -> String {
    match choice {
        "at" => date_time(v, "at"),
        "slot" => date_time(v, "slot"),
        _ => campaign_select(v),
    }
}

fn campaign_select(v: &FormView) -> String {
    let picked = field(v.pairs, "campaign");
    let error = v.error("campaign");
    let options: String = v
        .campaigns
        .iter()
        .map(|c| {
            let selected = if c.file == picked { " selected" } else { "" };
            format!(
                "<option value=\"{}\"{selected}>{} ({} post{})</option>",
                esc(&c.file),
                esc(&c.name),
                c.posts,
                if c.posts == 1 { "" } else { "s" }
            )
        })
        .collect();
    let (group, bad, aria) = match error {
        Some(_) => (
            " govuk-form-group--error",
            " govuk-select--error",
            " aria-describedby=\"campaign-error\"",
        ),
        None => ("", "", ""),
    };
    format!(
        "<div class=\"govuk-form-group{group}\"><label class=\"govuk-label govuk-label--s\" for=\"campaign\">Campaign</label>{}\
         <select class=\"govuk-select{bad}\" id=\"campaign\" name=\"campaign\"{aria}><option value=\"\">Choose a campaign</option>{options}</select></div>\n",
        error_line("campaign", error),
    )
}

/// The choice in words, for check your answers.
pub fn in_words(
    pairs: &[(String, String)],
    fields: &Map<String, Value>,
    campaigns: &[CampaignSummary],
) -> String {
    let at = fields.get("at").and_then(Value::as_str).unwrap_or("");
    match chosen(pairs) {
        "slot" => format!("The next free posting slot on or after {at}"),
        "cadence" => {
            let file = field(pairs, "campaign");
            let name = campaigns
                .iter()
                .find(|c| c.file == file)
                .map_or(file.as_str(), |c| c.name.as_str());
            format!("With the cadence of the campaign {name}")
        }
        _ => at.to_string(),
    }
}
