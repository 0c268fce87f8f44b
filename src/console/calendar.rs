//! The home page: a month, week or list of deliveries by local date in
//! the organisation's timezone, each entry an item with its kind and its
//! channels' states; filters; a warning where two items share a slot.

use std::collections::hash_map::Entry::{Occupied, Vacant};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use handlebars::html_escape as esc;
use serde::Deserialize;

use super::form::enc;
use super::layout::{self, delivery_tag, Frame};
use super::{Console, Visit};
use crate::api::deliveries::{DeliveryPage, DeliveryRow};
use crate::api::items::{ItemList, ItemSummary};

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    view: Option<String>,
    date: Option<String>,
    channel: Option<String>,
    kind: Option<String>,
    campaign: Option<String>,
    topic: Option<String>,
}

/// Deliveries beyond this in one view are not shown (the page says so).
const MOST: usize = 5000;
const KINDS: [&str; 5] = ["news", "briefing", "event", "notice", "post"];

#[derive(Clone, Copy, PartialEq)]
enum View {
    Month,
    Week,
    List,
}

/// One item's deliveries on one local day.
struct Entry<'a> {
    due: DateTime<Utc>,
    item: &'a str,
    summary: Option<&'a ItemSummary>,
    deliveries: Vec<&'a DeliveryRow>,
}

pub async fn show(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Query(p): Query<Params>,
) -> Response {
    let tz = visit.frame.timezone;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let day = p
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(today);
    let view = match p.view.as_deref() {
        Some("week") => View::Week,
        Some("list") => View::List,
        _ => View::Month,
    };
    let (first, end) = range(view, day);
    let (rows, more) =
        match deliveries(&c, &visit, &p, midnight(tz, first), midnight(tz, end)).await {
            Ok(r) => r,
            Err(f) => return visit.failed(&f),
        };
    let items = match summaries(&c, &visit, &p, &rows).await {
        Ok(i) => i,
        Err(f) => return visit.failed(&f),
    };
    let filtered = p.kind.is_some() || p.campaign.is_some() || p.topic.is_some();
    let days = by_day(&visit.frame, &rows, &items, filtered);
    let title = match view {
        View::Week => format!("Week of {}", first.format("%-d %B %Y")),
        _ => first.format("%B %Y").to_string(),
    };
    let mut body = controls(&c, &p, view, day, today);
    body.push_str(&clashes(&visit.frame, &rows, &items));
    if more {
        body.push_str(&format!("<div class=\"govuk-inset-text\">Only the first {MOST} deliveries are shown. Filter by channel, kind or campaign to see the rest.</div>"));
    }
    body.push_str(&match view {
        View::Month => month(&visit.frame, first, end, &days, today),
        View::Week | View::List => list(&visit.frame, first, end, &days, view == View::Week),
    });
    layout::page(&visit.frame, &title, &body)
}

fn range(view: View, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    match view {
        View::Week => {
            let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
            (monday, monday + Duration::days(7))
        }
        _ => {
            let first = day.with_day(1).expect("day 1 exists");
            (
                first,
                first
                    .checked_add_months(chrono::Months::new(1))
                    .expect("a next month"),
            )
        }
    }
}

/// The instant a local date starts (the earlier one if midnight repeats,
/// the hour after if it is skipped).
fn midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_hms_opt(0, 0, 0).expect("midnight");
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc))
}

async fn deliveries(
    c: &Console,
    visit: &Visit,
    p: &Params,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
) -> Result<(Vec<DeliveryRow>, bool), super::Failure> {
    let mut query = format!(
        "from={}&before={}&limit=500",
        enc(&from.to_rfc3339()),
        enc(&before.to_rfc3339())
    );
    if let Some(ch) = p.channel.as_deref().filter(|s| !s.is_empty()) {
        query.push_str(&format!("&channel={}", enc(ch)));
    }
    let mut rows = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let cursor = after
            .as_deref()
            .map(|a| format!("&after={}", enc(a)))
            .unwrap_or_default();
        let page: DeliveryPage = c
            .api
            .get(&visit.who, &format!("/api/v1/deliveries?{query}{cursor}"))
            .await?;
        rows.extend(page.deliveries);
        match page.next {
            Some(next) if rows.len() < MOST => after = Some(next),
            next => return Ok((rows, next.is_some())),
        }
    }
}

/// The items the deliveries belong to, through the API's filters.
async fn summaries(
    c: &Console,
    visit: &Visit,
    p: &Params,
    rows: &[DeliveryRow],
) -> Result<BTreeMap<String, ItemSummary>, super::Failure> {
    let ids: BTreeSet<&str> = rows.iter().map(|d| d.item.as_str()).collect();
    let ids: Vec<&str> = ids.into_iter().collect();
    let mut filters = String::new();
    for (name, value) in [
        ("kind", &p.kind),
        ("campaign", &p.campaign),
        ("topic", &p.topic),
    ] {
        if let Some(v) = value.as_deref().filter(|s| !s.is_empty()) {
            filters.push_str(&format!("&{name}={}", enc(v)));
        }
    }
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let uri = format!(
            "/api/v1/items?limit=500&ids={}{filters}",
            enc(&chunk.join(","))
        );
        let list: ItemList = c.api.get(&visit.who, &uri).await?;
        out.extend(list.items.into_iter().map(|i| (i.id.clone(), i)));
    }
    Ok(out)
}

fn by_day<'a>(
    frame: &Frame,
    rows: &'a [DeliveryRow],
    items: &'a BTreeMap<String, ItemSummary>,
    filtered: bool,
) -> BTreeMap<NaiveDate, Vec<Entry<'a>>> {
    let mut days: BTreeMap<NaiveDate, Vec<Entry<'a>>> = BTreeMap::new();
    // Where each (day, item, occasion) entry is: a busy day has hundreds.
    let mut at: HashMap<(NaiveDate, &str, &str), usize> = HashMap::new();
    for d in rows {
        let summary = items.get(&d.item);
        if filtered && summary.is_none() {
            continue;
        }
        let date = d.due_at.with_timezone(&frame.timezone).date_naive();
        let entries = days.entry(date).or_default();
        match at.entry((date, &d.item, &d.occasion)) {
            Occupied(e) => entries[*e.get()].deliveries.push(d),
            Vacant(e) => {
                e.insert(entries.len());
                entries.push(Entry {
                    due: d.due_at,
                    item: &d.item,
                    summary,
                    deliveries: vec![d],
                });
            }
        }
    }
    days
}

/// Previous / today / next, the view switch and the filters (a GET form).
fn controls(c: &Console, p: &Params, view: View, day: NaiveDate, today: NaiveDate) -> String {
    let name = match view {
        View::Month => "month",
        View::Week => "week",
        View::List => "list",
    };
    let step = |forward: bool| match view {
        View::Week => day + Duration::days(if forward { 7 } else { -7 }),
        _ => {
            let m = chrono::Months::new(1);
            let first = day.with_day(1).expect("day 1");
            if forward {
                first.checked_add_months(m)
            } else {
                first.checked_sub_months(m)
            }
            .unwrap_or(first)
        }
    };
    let link = |v: &str, d: NaiveDate| {
        let mut q = format!("?view={v}&date={d}");
        for (k, val) in [
            ("channel", &p.channel),
            ("kind", &p.kind),
            ("campaign", &p.campaign),
            ("topic", &p.topic),
        ] {
            if let Some(val) = val.as_deref().filter(|s| !s.is_empty()) {
                q.push_str(&format!("&amp;{k}={}", esc(&enc(val))));
            }
        }
        q.replacen("&date", "&amp;date", 1)
    };
    let unit = if view == View::Week { "week" } else { "month" };
    let views: String = [("month", "Month"), ("week", "Week"), ("list", "List")]
        .iter()
        .map(|(v, text)| {
            let current = if *v == name {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!(
                "<li><a class=\"govuk-link\" href=\"/console/{}\"{current}>{text}</a></li>",
                link(v, day)
            )
        })
        .collect();
    let ws = c.workspace.read().expect("workspace lock").clone();
    let channels: Vec<String> = ws.channels.iter().map(|ch| ch.name().to_string()).collect();
    let campaigns: BTreeSet<String> = ws.items.iter().filter_map(|i| i.campaign.clone()).collect();
    let topics: BTreeSet<String> = ws.items.iter().flat_map(|i| i.topics.clone()).collect();
    let kinds: Vec<String> = KINDS.iter().map(|k| k.to_string()).collect();
    format!(
        "<nav class=\"crier-calendar-nav\" aria-label=\"Dates\"><ul class=\"crier-inline-list\">\
         <li><a class=\"govuk-link\" href=\"/console/{prev}\">Previous {unit}</a></li>\
         <li><a class=\"govuk-link\" href=\"/console/{now}\">Today</a></li>\
         <li><a class=\"govuk-link\" href=\"/console/{next}\">Next {unit}</a></li></ul>\
         <ul class=\"crier-inline-list\" aria-label=\"View\">{views}</ul></nav>\n\
         <details class=\"govuk-details\"{open}><summary class=\"govuk-details__summary\"><span class=\"govuk-details__summary-text\">Filter</span></summary>\
         <div class=\"govuk-details__text\"><form method=\"get\" action=\"/console/\" class=\"crier-filters\">\
         <input type=\"hidden\" name=\"view\" value=\"{name}\"><input type=\"hidden\" name=\"date\" value=\"{day}\">\
         {ch}{kind}{camp}{topic}<button class=\"govuk-button govuk-button--secondary\" type=\"submit\">Apply filters</button></form></div></details>\n",
        prev = link(name, step(false)),
        now = link(name, today),
        next = link(name, step(true)),
        open = if p.channel.is_some() || p.kind.is_some() || p.campaign.is_some() || p.topic.is_some() { " open" } else { "" },
        ch = select("channel", "Channel", &channels, p.channel.as_deref()),
        kind = select("kind", "Kind", &kinds, p.kind.as_deref()),
        camp = select("campaign", "Campaign", &campaigns.into_iter().collect::<Vec<_>>(), p.campaign.as_deref()),
        topic = select("topic", "Topic", &topics.into_iter().collect::<Vec<_>>(), p.topic.as_deref()),
    )
}

fn select(id: &str, label: &str, options: &[String], chosen: Option<&str>) -> String {
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

/// Two different items due at the same minute on one channel.
fn clashes(frame: &Frame, rows: &[DeliveryRow], items: &BTreeMap<String, ItemSummary>) -> String {
    let mut slots: BTreeMap<(&str, i64), BTreeSet<&str>> = BTreeMap::new();
    for d in rows
        .iter()
        .filter(|d| !matches!(d.state.as_str(), "cancelled" | "failed"))
    {
        slots
            .entry((&d.channel, d.due_at.timestamp() / 60))
            .or_default()
            .insert(&d.item);
    }
    let warnings: Vec<String> = slots
        .iter()
        .filter(|(_, items)| items.len() > 1)
        .map(|((channel, minute), ids)| {
            let when = DateTime::from_timestamp(minute * 60, 0)
                .map(|t| frame.time(t))
                .unwrap_or_default();
            let names: Vec<String> = ids.iter().map(|i| title(items.get(*i), i)).collect();
            format!(
                "<li>{} items on {} at {}: {}</li>",
                ids.len(),
                esc(channel),
                esc(&when),
                esc(&names.join("; "))
            )
        })
        .collect();
    if warnings.is_empty() {
        return String::new();
    }
    format!(
        "<div class=\"govuk-warning-text\"><span class=\"govuk-warning-text__icon\" aria-hidden=\"true\">!</span>\
         <div class=\"govuk-warning-text__text\"><span class=\"govuk-visually-hidden\">Warning</span>\
         Some items share a time slot on a channel:<ul class=\"govuk-list govuk-list--bullet\">{}</ul></div></div>\n",
        warnings.concat()
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

fn month(
    frame: &Frame,
    first: NaiveDate,
    end: NaiveDate,
    days: &BTreeMap<NaiveDate, Vec<Entry>>,
    today: NaiveDate,
) -> String {
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
            let entries: String = days
                .get(&d)
                .into_iter()
                .flatten()
                .map(|e| entry_html(frame, e, true))
                .collect();
            rows.push_str(&format!(
                "<td class=\"govuk-table__cell crier-day{outside}\"{is_today}><p class=\"crier-day__number\"><time datetime=\"{d}\">{}<span class=\"govuk-visually-hidden\"> {}</span></time></p>{entries}</td>",
                d.day(),
                d.format("%B %A")
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
fn list(
    frame: &Frame,
    first: NaiveDate,
    end: NaiveDate,
    days: &BTreeMap<NaiveDate, Vec<Entry>>,
    every_day: bool,
) -> String {
    let mut out = String::new();
    let mut d = first;
    while d < end {
        let entries = days.get(&d);
        if every_day || entries.is_some() {
            let inner: String = match entries {
                Some(es) => es.iter().map(|e| entry_html(frame, e, false)).collect(),
                None => "<p class=\"govuk-body-s\">Nothing planned.</p>".into(),
            };
            out.push_str(&format!("<section class=\"crier-list-day\"><h2 class=\"govuk-heading-s\">{}</h2>{inner}</section>\n", d.format("%A %-d %B")));
        }
        d += Duration::days(1);
    }
    if out.is_empty() {
        out.push_str("<p class=\"govuk-body\">Nothing is planned in this month.</p>");
    }
    out
}
