//! The composer's form for one kind of item: GOV.UK text inputs, text
//! areas, date inputs and checkboxes, each error shown at its control.

use handlebars::html_escape as esc;

use super::compose_draft::{self as draft, chosen, label_of, slots};
use super::compose_schedule as schedule;
use super::form::field;
use super::layout::FieldError;
use crate::api::campaigns::CampaignSummary;

/// What the form offers and shows.
pub struct FormView<'a> {
    pub kind: &'a str,
    pub pairs: &'a [(String, String)],
    pub errors: &'a [FieldError],
    /// Editing an existing item: its id is fixed, its version carried.
    pub editing: bool,
    pub channels: &'a [String],
    pub topics: &'a [String],
    /// The campaigns whose cadence it may follow.
    pub campaigns: &'a [&'a CampaignSummary],
}

impl FormView<'_> {
    pub(super) fn error(&self, id: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == id)
            .map(|(_, m)| m.as_str())
    }

    fn value(&self, name: &str) -> String {
        field(self.pairs, name)
    }
}

fn hint(name: &str) -> &'static str {
    match name {
        "id" => "Lower case letters, numbers and hyphens; it names the item in files and links",
        "summary" => "One or two sentences; shown where there is little room",
        "body" => "Markdown: a blank line between paragraphs, [words](address) for a link",
        "link" => "The page people should go to, starting https://",
        "booking_url" => "Give a booking page or a booking email address",
        "themes" | "questions" => "One on each line",
        "reminders" => "One on each line, for example: 7 days before booking_deadline at 10:00",
        "hashtags" => "Separated by spaces, without the #",
        _ => "",
    }
}

pub(super) fn error_line(id: &str, message: Option<&str>) -> String {
    message.map_or_else(String::new, |m| {
        format!(
            "<p id=\"{id}-error\" class=\"govuk-error-message\"><span class=\"govuk-visually-hidden\">Error:</span> {}</p>",
            esc(m)
        )
    })
}

/// A labelled text input or text area, with its hint and error.
fn text(v: &FormView, name: &str, area: bool) -> String {
    let error = v.error(name);
    let hint_text = hint(name);
    let mut described = Vec::new();
    let hint_html = if hint_text.is_empty() {
        String::new()
    } else {
        described.push(format!("{name}-hint"));
        format!(
            "<div id=\"{name}-hint\" class=\"govuk-hint\">{}</div>",
            esc(hint_text)
        )
    };
    if error.is_some() {
        described.push(format!("{name}-error"));
    }
    let aria = if described.is_empty() {
        String::new()
    } else {
        format!(" aria-describedby=\"{}\"", described.join(" "))
    };
    let (group, bad) = if error.is_some() {
        (" govuk-form-group--error", " govuk-input--error")
    } else {
        ("", "")
    };
    let value = esc(&v.value(name));
    let control = if area {
        let rows = if name == "body" { 10 } else { 4 };
        format!("<textarea class=\"govuk-textarea{bad}\" id=\"{name}\" name=\"{name}\" rows=\"{rows}\"{aria}>{value}</textarea>")
    } else {
        format!("<input class=\"govuk-input{bad}\" id=\"{name}\" name=\"{name}\" type=\"text\" value=\"{value}\"{aria}>")
    };
    format!(
        "<div class=\"govuk-form-group{group}\"><label class=\"govuk-label govuk-label--s\" for=\"{name}\">{}</label>{hint_html}{}{control}</div>\n",
        label_of(name),
        error_line(name, error),
    )
}

/// A GOV.UK date input (day, month, year) with a time; or, for a schedule
/// written another way, that text.
pub(super) fn date_time(v: &FormView, name: &str) -> String {
    let legend = label_of(name);
    let written = v.value(&format!("{name}-text"));
    if !written.is_empty() {
        let id = format!("{name}-text");
        let error = v.error(&id);
        return format!(
            "<div class=\"govuk-form-group{}\"><label class=\"govuk-label govuk-label--s\" for=\"{id}\">{legend} (as written in the file)</label>{}\
             <input class=\"govuk-input\" id=\"{id}\" name=\"{id}\" type=\"text\" value=\"{}\"></div>\n",
            if error.is_some() { " govuk-form-group--error" } else { "" },
            error_line(&id, error),
            esc(&written)
        );
    }
    let error = v
        .error(&format!("{name}-day"))
        .or_else(|| v.error(&format!("{name}-time")));
    let part = |p: &str, label: &str, width: &str| {
        let id = format!("{name}-{p}");
        let bad = if error.is_some() {
            " govuk-input--error"
        } else {
            ""
        };
        format!(
            "<div class=\"govuk-date-input__item\"><div class=\"govuk-form-group\">\
             <label class=\"govuk-label govuk-date-input__label\" for=\"{id}\">{label}</label>\
             <input class=\"govuk-input govuk-date-input__input govuk-input--width-{width}{bad}\" id=\"{id}\" name=\"{id}\" type=\"text\" inputmode=\"numeric\" value=\"{}\"></div></div>",
            esc(&v.value(&id))
        )
    };
    let group = if error.is_some() {
        " govuk-form-group--error"
    } else {
        ""
    };
    format!(
        "<div class=\"govuk-form-group{group}\"><fieldset class=\"govuk-fieldset\" role=\"group\" aria-describedby=\"{name}-hint\">\
         <legend class=\"govuk-fieldset__legend govuk-fieldset__legend--s\">{legend}</legend>\
         <div id=\"{name}-hint\" class=\"govuk-hint\">For example, 27 3 2027 and 09:30 (UK time, 24-hour clock)</div>{}\
         <div class=\"govuk-date-input\">{}{}{}{}</div></fieldset></div>\n",
        error_line(name, error),
        part("day", "Day", "2"),
        part("month", "Month", "2"),
        part("year", "Year", "4"),
        part("time", "Time", "4"),
    )
}

/// Checkboxes for `name` from `options` (and any chosen value not among
/// them), with a text input for others.
fn checkboxes(v: &FormView, name: &str, options: &[String]) -> String {
    let picked = chosen(v.pairs, name);
    let mut all: Vec<String> = options.to_vec();
    all.extend(picked.iter().filter(|p| !options.contains(p)).cloned());
    let error = v.error(name);
    let items: String = all
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let id = if i == 0 { name.to_string() } else { format!("{name}-{}", i + 1) };
            let checked = if picked.contains(o) { " checked" } else { "" };
            format!(
                "<div class=\"govuk-checkboxes__item\"><input class=\"govuk-checkboxes__input\" id=\"{id}\" name=\"{name}\" type=\"checkbox\" value=\"{o}\"{checked}>\
                 <label class=\"govuk-label govuk-checkboxes__label\" for=\"{id}\">{o}</label></div>",
                o = esc(o)
            )
        })
        .collect();
    let other = if name == "topics" || all.is_empty() {
        let id = format!("{name}-other");
        format!(
            "<label class=\"govuk-label\" for=\"{id}\">Other {name}, separated by commas</label>\
             <input class=\"govuk-input\" id=\"{id}\" name=\"{id}\" type=\"text\" value=\"\">"
        )
    } else {
        String::new()
    };
    format!(
        "<div class=\"govuk-form-group{}\"><fieldset class=\"govuk-fieldset\">\
         <legend class=\"govuk-fieldset__legend govuk-fieldset__legend--s\">{}</legend>{}\
         <div class=\"govuk-checkboxes govuk-checkboxes--small\">{items}</div>{other}</fieldset></div>\n",
        if error.is_some() { " govuk-form-group--error" } else { "" },
        label_of(name),
        error_line(name, error),
    )
}

/// Numbered slots (sections, images): those filled, and one empty more.
fn slot_groups(v: &FormView, slot: &str) -> String {
    let filled = slots(v.pairs, slot);
    let (legend, names, labels) = if slot == "section" {
        ("Section", ["heading", "body"], ["Heading", "Text"])
    } else {
        (
            "Image",
            ["src", "alt"],
            [
                "File (in the campaigns folder, for example images/poster.png)",
                "Alt text: what the image shows",
            ],
        )
    };
    let mut out = String::new();
    for n in 1..=filled.len() + 1 {
        let mut pairs = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let value = filled
                .get(n - 1)
                .map(|p| if i == 0 { p.0.clone() } else { p.1.clone() });
            pairs.push((
                format!("{slot}-{name}-{n}"),
                value.unwrap_or_default(),
                labels[i],
            ));
        }
        let inner: String = pairs
            .iter()
            .map(|(id, value, label)| {
                let error = v.error(id);
                let bad = if error.is_some() { " govuk-form-group--error" } else { "" };
                let control = if id.starts_with("section-body") {
                    format!("<textarea class=\"govuk-textarea\" id=\"{id}\" name=\"{id}\" rows=\"5\">{}</textarea>", esc(value))
                } else {
                    format!("<input class=\"govuk-input\" id=\"{id}\" name=\"{id}\" type=\"text\" value=\"{}\">", esc(value))
                };
                format!(
                    "<div class=\"govuk-form-group{bad}\"><label class=\"govuk-label\" for=\"{id}\">{label}</label>{}{control}</div>",
                    error_line(id, error)
                )
            })
            .collect();
        out.push_str(&format!(
            "<fieldset class=\"govuk-fieldset\"><legend class=\"govuk-fieldset__legend govuk-fieldset__legend--s\">{legend} {n}</legend>{inner}</fieldset>\n"
        ));
    }
    out
}

/// The whole form; its buttons preview, continue to check answers.
pub fn form(v: &FormView, action: &str) -> String {
    let mut out = format!(
        "<form method=\"post\" action=\"{}\" id=\"compose-form\" novalidate>\n",
        esc(action)
    );
    out.push_str(&format!(
        "<input type=\"hidden\" name=\"kind\" value=\"{}\">",
        esc(v.kind)
    ));
    for hidden in ["version", "keep", "campaign-own"] {
        let value = v.value(hidden);
        if !value.is_empty() {
            out.push_str(&format!(
                "<input type=\"hidden\" name=\"{hidden}\" value=\"{}\">",
                esc(&value)
            ));
        }
    }
    if v.editing {
        out.push_str(&format!(
            "<input type=\"hidden\" name=\"id\" value=\"{id}\"><p class=\"govuk-body\" id=\"id\">Id: <code>{id}</code></p>\n",
            id = esc(&v.value("id"))
        ));
    } else {
        out.push_str(&text(v, "id", false));
    }
    out.push_str(&text(v, "title", false));
    out.push_str(&text(v, "summary", true));
    out.push_str(&text(v, "body", true));
    for name in draft::kind_times(v.kind) {
        out.push_str(&date_time(v, name));
    }
    for name in draft::kind_text(v.kind) {
        out.push_str(&text(v, name, false));
    }
    for name in draft::kind_lines(v.kind) {
        out.push_str(&text(v, name, true));
    }
    if v.kind == "news" {
        out.push_str(&slot_groups(v, "section"));
    }
    out.push_str(&schedule::radios(v));
    out.push_str(&checkboxes(v, "channels", v.channels));
    out.push_str(&checkboxes(v, "topics", v.topics));
    out.push_str(&text(v, "link", false));
    out.push_str(&text(v, "hashtags", false));
    out.push_str(&slot_groups(v, "image"));
    out.push_str(
        "<div class=\"govuk-button-group\">\
         <button type=\"submit\" class=\"govuk-button\" name=\"action\" value=\"continue\">Continue</button>\
         <button type=\"submit\" class=\"govuk-button govuk-button--secondary\" name=\"action\" value=\"preview\">Preview</button>\
         </div>\n</form>\n",
    );
    out
}

/// The draft as hidden fields, to carry it through a step.
pub fn hidden(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .filter(|(n, _)| n != "action")
        .map(|(n, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(n),
                esc(v)
            )
        })
        .collect()
}
