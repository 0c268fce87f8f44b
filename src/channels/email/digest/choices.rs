//! The preferences page's part for digests: per topic, GOV.UK radios for
//! "every item", "a daily digest" or "a weekly digest" (only those the
//! channel offers), and reading the answer back.

use chrono::Weekday;
use handlebars::html_escape as esc;

use super::{Cadence, Times};
use crate::channels::email::config::Topic;

/// How a cadence reads on the page, with its time: "A weekly digest, on
/// Mondays at 07:00".
fn label(times: &Times, cadence: Cadence) -> String {
    match (cadence, times.daily, times.weekly) {
        (Cadence::Daily, Some(t), _) => {
            format!("{}, each day at {}", cadence.label(), t.format("%H:%M"))
        }
        (Cadence::Weekly, _, Some((day, t))) => format!(
            "{}, on {}s at {}",
            cadence.label(),
            day_name(day),
            t.format("%H:%M")
        ),
        _ => cadence.label().to_string(),
    }
}

fn day_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// One fieldset of radios per topic, or nothing when the channel offers
/// no digest. `chosen` is the subscriber's (topic, cadence) list.
pub fn radios(times: &Times, topics: &[Topic], chosen: &[(String, String)], tz: &str) -> String {
    let offered = times.offered();
    if offered.len() < 2 {
        return String::new();
    }
    let mut out = format!(
        "<h2>How often</h2>\n<p class=\"govuk-hint\">For each topic, choose every item as it is \
         published or one email listing them. Times are {}.</p>\n",
        esc(tz)
    );
    for t in topics {
        let current = chosen
            .iter()
            .find(|(topic, _)| topic == &t.id)
            .and_then(|(_, c)| Cadence::parse(c))
            .unwrap_or(Cadence::Item);
        out += &format!(
            "<div class=\"govuk-form-group\">\n<fieldset class=\"govuk-fieldset\">\n\
             <legend class=\"govuk-fieldset__legend\">{}</legend>\n<div class=\"govuk-radios\">\n",
            esc(&t.name)
        );
        for c in &offered {
            let id = format!("cadence-{}-{}", t.id, c.as_str());
            let on = if *c == current { " checked" } else { "" };
            out += &format!(
                "<div class=\"govuk-radios__item\"><input class=\"govuk-radios__input\" type=\"radio\" \
                 id=\"{id}\" name=\"cadence-{topic}\" value=\"{v}\"{on}> \
                 <label class=\"govuk-label govuk-radios__label\" for=\"{id}\">{label}</label></div>\n",
                id = esc(&id),
                topic = esc(&t.id),
                v = c.as_str(),
                label = esc(&label(times, *c)),
            );
        }
        out += "</div>\n</fieldset>\n</div>\n";
    }
    out
}

/// The (topic, cadence) answers in a posted form, for known topics and
/// offered cadences only (anything else is ignored).
pub fn chosen(
    times: &Times,
    topics: &[Topic],
    fields: &[(String, String)],
) -> Vec<(String, String)> {
    let offered = times.offered();
    topics
        .iter()
        .filter_map(|t| {
            let name = format!("cadence-{}", t.id);
            let (_, v) = fields.iter().find(|(k, _)| k == &name)?;
            let c = Cadence::parse(v).filter(|c| offered.contains(c))?;
            Some((t.id.clone(), c.as_str().to_string()))
        })
        .collect()
}
