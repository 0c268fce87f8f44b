//! The subscribers page's "Subscribers by topic": each list's confirmed
//! subscribers per topic at the end of each of the last 12 months and
//! now, as the API counts them from the consent history. A table per
//! list (months down, topics across), no chart: a table reads out.

use chrono::NaiveDate;
use handlebars::html_escape as esc;

use super::layout::Frame;
use crate::api::subscribers::counts::{CountsOverTime, TopicCounts};

pub fn section(frame: &Frame, counts: &CountsOverTime) -> String {
    let mut channels: Vec<&str> = Vec::new();
    for t in &counts.topics {
        if !channels.contains(&t.channel.as_str()) {
            channels.push(&t.channel);
        }
    }
    if channels.is_empty() {
        return String::new();
    }
    let tables: String = channels
        .iter()
        .map(|channel| {
            let topics: Vec<&TopicCounts> = (counts.topics.iter())
                .filter(|t| t.channel == *channel)
                .collect();
            table(channel, counts, &topics)
        })
        .collect();
    format!(
        "<h2 class=\"govuk-heading-m\">Subscribers by topic</h2>\
         <p class=\"govuk-body\">Confirmed subscribers at the end of each month ({} time) and now, counted from the \
         consent records: who had confirmed and not yet left. An import counts from the day it was made; people \
         erased since are not counted.</p>{tables}",
        esc(frame.timezone.name())
    )
}

fn table(channel: &str, counts: &CountsOverTime, topics: &[&TopicCounts]) -> String {
    let numeric = "govuk-table__header govuk-table__header--numeric";
    let head: String = topics
        .iter()
        .map(|t| {
            let name = t.name.as_deref().unwrap_or(&t.topic);
            format!("<th scope=\"col\" class=\"{numeric}\">{}</th>", esc(name))
        })
        .collect();
    let rows: String = (counts.points.iter().enumerate())
        .map(|(i, p)| {
            let when = p.month.as_deref().map_or_else(|| "Now".to_string(), month);
            let cells: String = topics
                .iter()
                .map(|t| {
                    let n = t.counts.get(i).copied().unwrap_or(0);
                    format!("<td class=\"govuk-table__cell govuk-table__cell--numeric\">{n}</td>")
                })
                .collect();
            format!(
                "<tr class=\"govuk-table__row\"><th scope=\"row\" class=\"govuk-table__header\">{}</th>{cells}</tr>",
                esc(&when)
            )
        })
        .collect();
    format!(
        "<table class=\"govuk-table\"><caption class=\"govuk-table__caption govuk-table__caption--s\">\
         Confirmed subscribers on {} by topic, at the end of each month</caption>\
         <thead class=\"govuk-table__head\"><tr class=\"govuk-table__row\">\
         <th scope=\"col\" class=\"govuk-table__header\">Month</th>{head}</tr></thead>\
         <tbody class=\"govuk-table__body\">{rows}</tbody></table>\n",
        esc(channel)
    )
}

/// `2026-04` as "April 2026".
fn month(yyyy_mm: &str) -> String {
    NaiveDate::parse_from_str(&format!("{yyyy_mm}-01"), "%Y-%m-%d")
        .map_or_else(|_| yyyy_mm.to_string(), |d| d.format("%B %Y").to_string())
}
