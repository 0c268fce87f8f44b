//! The calendar's HTML: month grid, week and list sections, one day's
//! page, and the clash warning. Each day shows what it holds in all (the
//! API's counts) even when it lists only its first few.

use std::collections::hash_map::Entry::{Occupied, Vacant};
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use handlebars::html_escape as esc;

use super::calendar::href;
use super::form::enc;
use super::layout::{delivery_tag, state_tag, Frame};
use crate::api::calendar::{CalendarDay, CalendarDays};
use crate::api::deliveries::DeliveryRow;
use crate::api::items::ItemSummary;

/// The items a month cell shows; a busier day says how many deliveries it
/// holds and links to all of them.
pub const MONTH_ENTRIES: usize = 4;

/// Each counted day by its date.
pub type Counted<'a> = BTreeMap<NaiveDate, &'a CalendarDay>;

/// What every view draws from.
pub struct Listing<'a> {
    pub frame: &'a Frame,
    /// The listed deliveries, grouped by local day into entries.
    pub days: BTreeMap<NaiveDate, Vec<Entry<'a>>>,
    /// Every day with deliveries, counted whole.
    pub counted: Counted<'a>,
    pub items: &'a BTreeMap<String, ItemSummary>,
    /// The filters as a query string's tail, for links.
    pub filters: String,
}

/// One item's deliveries on one local day at one occasion.
pub struct Entry<'a> {
    due: DateTime<Utc>,
    item: &'a str,
    summary: Option<&'a ItemSummary>,
    deliveries: Vec<&'a DeliveryRow>,
}

pub fn by_day<'a>(
    frame: &Frame,
    rows: &[&'a DeliveryRow],
    items: &'a BTreeMap<String, ItemSummary>,
) -> BTreeMap<NaiveDate, Vec<Entry<'a>>> {
    let mut days: BTreeMap<NaiveDate, Vec<Entry<'a>>> = BTreeMap::new();
    // Where each (day, item, occasion) entry is: a busy day has hundreds.
    let mut at: HashMap<(NaiveDate, &str, &str), usize> = HashMap::new();
    for d in rows {
        let date = d.due_at.with_timezone(&frame.timezone).date_naive();
        let entries = days.entry(date).or_default();
        match at.entry((date, &d.item, &d.occasion)) {
            Occupied(e) => entries[*e.get()].deliveries.push(d),
            Vacant(e) => {
                e.insert(entries.len());
                entries.push(Entry {
                    due: d.due_at,
                    item: &d.item,
                    summary: items.get(&d.item),
                    deliveries: vec![d],
                });
            }
        }
    }
    days
}

/// "1,432": a count as people write it.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A day's counts by state, as tags.
fn counts_html(day: &CalendarDay) -> String {
    let each: String = day
        .counts
        .iter()
        .map(|(state, n)| {
            format!(
                "<li>{} <span class=\"govuk-body-s\">{}</span></li>",
                state_tag(state),
                thousands(*n)
            )
        })
        .collect();
    format!("<ul class=\"govuk-list crier-channels\">{each}</ul>")
}

/// For a day that shows only its first deliveries (`cut`: the view left
/// out some it read): how many it holds, by state, and a link to all.
fn more(l: &Listing, date: NaiveDate, cut: bool) -> String {
    let Some(day) = l.counted.get(&date).filter(|d| cut || d.next.is_some()) else {
        return String::new();
    };
    let total = thousands(day.total);
    format!(
        "<div class=\"crier-more\"><p class=\"govuk-body-s\">{total} deliveries</p>{counts}\
         <p class=\"govuk-body-s\"><a class=\"govuk-link\" href=\"{link}\">See all<span class=\"govuk-visually-hidden\"> {total} deliveries on {words}</span></a></p></div>",
        counts = counts_html(day),
        link = href("day", date, &l.filters),
        words = date.format("%A %-d %B"),
    )
}

/// Two different items due at the same minute on one channel.
pub fn clashes(l: &Listing, counted: &CalendarDays) -> String {
    let warnings: Vec<String> = counted
        .clashes
        .iter()
        .map(|c| {
            let names: Vec<String> = c.items.iter().map(|i| title(l.items.get(i), i)).collect();
            format!(
                "<li>{} items on {} at {}: {}</li>",
                c.items.len(),
                esc(&c.channel),
                esc(&l.frame.time(c.at)),
                esc(&names.join("; "))
            )
        })
        .collect();
    if warnings.is_empty() {
        return String::new();
    }
    let more = if counted.more_clashes {
        "<p class=\"govuk-body-s\">There are more; filter by channel to see them.</p>"
    } else {
        ""
    };
    format!(
        "<div class=\"govuk-warning-text\"><span class=\"govuk-warning-text__icon\" aria-hidden=\"true\">!</span>\
         <div class=\"govuk-warning-text__text\"><span class=\"govuk-visually-hidden\">Warning</span>\
         Some items share a time slot on a channel:<ul class=\"govuk-list govuk-list--bullet\">{}</ul>{more}</div></div>\n",
        warnings.concat()
    )
}

pub fn month(l: &Listing, first: NaiveDate, end: NaiveDate, today: NaiveDate) -> String {
    let start = first - Duration::days(i64::from(first.weekday().num_days_from_monday()));
    let mut rows = String::new();
    let mut d = start;
    while d < end {
        rows.push_str("<tr class=\"govuk-table__row\">");
        for _ in 0..7 {
            let outside = if d < first || d >= end {
                " crier-outside"
            } else {
                ""
            };
            let is_today = if d == today {
                " aria-current=\"date\""
            } else {
                ""
            };
            let all = l.days.get(&d).map_or(&[][..], Vec::as_slice);
            let entries: String = all
                .iter()
                .take(MONTH_ENTRIES)
                .map(|e| entry_html(l.frame, e, true))
                .collect();
            let cut = all.len() > MONTH_ENTRIES;
            rows.push_str(&format!(
                "<td class=\"govuk-table__cell crier-day{outside}\"{is_today}><p class=\"crier-day__number\"><time datetime=\"{d}\">{}<span class=\"govuk-visually-hidden\"> {}</span></time></p>{entries}{}</td>",
                d.day(),
                d.format("%B %A"),
                more(l, d, cut),
            ));
            d += Duration::days(1);
        }
        rows.push_str("</tr>");
    }
    let head: String = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    .iter()
    .map(|n| {
        format!(
            "<th scope=\"col\" class=\"govuk-table__header\"><abbr title=\"{n}\">{}</abbr></th>",
            &n[..3]
        )
    })
    .collect();
    format!(
        "<table class=\"govuk-table crier-calendar\"><caption class=\"govuk-visually-hidden\">Deliveries in {}</caption>\
         <thead class=\"govuk-table__head\"><tr class=\"govuk-table__row\">{head}</tr></thead><tbody class=\"govuk-table__body\">{rows}</tbody></table>\n",
        first.format("%B %Y")
    )
}

/// Week and list views: one section per day (each day in a week, only
/// days with deliveries in a list).
pub fn list(l: &Listing, first: NaiveDate, end: NaiveDate, every_day: bool) -> String {
    let mut out = String::new();
    let mut d = first;
    while d < end {
        let entries = l.days.get(&d);
        if every_day || entries.is_some() {
            let inner: String = match entries {
                Some(es) => es.iter().map(|e| entry_html(l.frame, e, false)).collect(),
                None => "<p class=\"govuk-body-s\">Nothing planned.</p>".into(),
            };
            out.push_str(&format!(
                "<section class=\"crier-list-day\"><h2 class=\"govuk-heading-s\">{}</h2>{inner}{}</section>\n",
                d.format("%A %-d %B"),
                more(l, d, false)
            ));
        }
        d += Duration::days(1);
    }
    if out.is_empty() {
        out.push_str("<p class=\"govuk-body\">Nothing is planned in this month.</p>");
    }
    out
}

/// One day: its counts, one page of its deliveries, and the next page.
pub fn day(l: &Listing, date: NaiveDate, next: Option<String>) -> String {
    let Some(counted) = l.counted.get(&date) else {
        return "<p class=\"govuk-body\">Nothing is planned on this day.</p>".into();
    };
    let entries: String = l
        .days
        .values()
        .flatten()
        .map(|e| entry_html(l.frame, e, false))
        .collect();
    let pages = next.map_or_else(String::new, |next| {
        format!(
            "<nav class=\"govuk-pagination govuk-pagination--block\" aria-label=\"Pages\"><div class=\"govuk-pagination__next\">\
             <a class=\"govuk-link govuk-pagination__link\" rel=\"next\" href=\"{}&amp;after={}\">\
             <span class=\"govuk-pagination__link-title\">Next page</span></a></div></nav>",
            href("day", date, &l.filters),
            esc(&enc(&next))
        )
    });
    format!(
        "<p class=\"govuk-body\">{} deliveries on this day.</p>{}{entries}{pages}",
        thousands(counted.total),
        counts_html(counted)
    )
}
pub fn select(id: &str, label: &str, options: &[String], chosen: Option<&str>) -> String {
    let opts: String = options
        .iter()
        .map(|o| {
            let sel = if chosen == Some(o.as_str()) {
                " selected"
            } else {
                ""
            };
            format!("<option value=\"{v}\"{sel}>{v}</option>", v = esc(o))
        })
        .collect();
    format!(
        "<div class=\"govuk-form-group\"><label class=\"govuk-label\" for=\"{id}\">{label}</label>\
         <select class=\"govuk-select\" id=\"{id}\" name=\"{id}\"><option value=\"\">All</option>{opts}</select></div>"
    )
}

fn title(s: Option<&ItemSummary>, id: &str) -> String {
    s.map_or_else(|| id.to_string(), |s| s.title.clone())
}

/// A month cell has no room for every channel: how many are in each state.
fn states_in_brief(e: &Entry) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for d in &e.deliveries {
        *counts.entry(delivery_tag(d)).or_default() += 1;
    }
    let parts: String = counts
        .iter()
        .map(|(tag, n)| {
            let channels = if *n == 1 { "channel" } else { "channels" };
            format!("<li>{tag} <span class=\"govuk-body-s\">{n} {channels}</span></li>")
        })
        .collect();
    format!("<ul class=\"govuk-list crier-channels\">{parts}</ul>")
}

fn entry_html(frame: &Frame, e: &Entry, brief: bool) -> String {
    let time = e
        .due
        .with_timezone(&frame.timezone)
        .format("%-I:%M%P")
        .to_string()
        .replace(":00", "");
    let kind = e.summary.map(|s| s.kind.as_str()).unwrap_or("removed");
    let occasion = match e.deliveries[0].occasion.as_str() {
        "at" => String::new(),
        o => format!(" <span class=\"crier-occasion\">({})</span>", esc(o)),
    };
    let channels: String = if brief {
        states_in_brief(e)
    } else {
        let each: String = e
        .deliveries
        .iter()
        .map(|d| {
            let link = d.remote_url.as_deref().map(|u| format!(" <a class=\"govuk-link\" href=\"{}\">post<span class=\"govuk-visually-hidden\"> on {}</span></a>", esc(u), esc(&d.channel))).unwrap_or_default();
            format!("<li>{} {}{link}</li>", esc(&d.channel), delivery_tag(d))
        })
        .collect();
        format!("<ul class=\"govuk-list crier-channels\">{each}</ul>")
    };
    // Rescheduling is a link to the date in the item's form (WCAG 2.2
    // SC 2.5.7: no dragging needed), saved with the version it was read at.
    let movable = e.summary.is_some() && e.deliveries[0].occasion == "at";
    let change = if movable && frame.may(crate::access::Permission::Edit) {
        format!(
            " <a class=\"govuk-link\" href=\"/console/items/{id}/edit#at-day\">Change date<span class=\"govuk-visually-hidden\"> of {t}</span></a>",
            id = esc(&enc(e.item)),
            t = esc(&title(e.summary, e.item)),
        )
    } else {
        String::new()
    };
    format!(
        "<div class=\"crier-entry\"><p class=\"govuk-body-s\"><time datetime=\"{at}\">{time}</time> \
         <a class=\"govuk-link\" href=\"/console/items/{id}\">{t}</a>{occasion} <strong class=\"govuk-tag govuk-tag--grey\">{kind}</strong>{change}</p>\
         {channels}</div>",
        at = e.due.to_rfc3339(),
        id = esc(&enc(e.item)),
        t = esc(&title(e.summary, e.item)),
        kind = esc(kind),
    )
}
