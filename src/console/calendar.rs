//! The home page: a month, week or list of deliveries by local date in
//! the organisation's timezone, each entry an item with its kind and its
//! channels' states; filters; a warning where two items share a slot.
//!
//! Every view asks the API for its days counted whole
//! (`GET /api/v1/deliveries/days`, filtered in the store's query) and
//! lists only each day's first deliveries; a busier day links to its own
//! view, which pages through all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde::Deserialize;

use super::calendar_view::{self as view, Counted, Listing};
use super::form::enc;
use super::layout;
use super::{Console, Visit};
use crate::api::calendar::{local_midnight, CalendarDays};
use crate::api::deliveries::{DeliveryPage, DeliveryRow};
use crate::api::items::{ItemList, ItemSummary};
use crate::content::ItemKind;

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    view: Option<String>,
    date: Option<String>,
    pub(super) channel: Option<String>,
    pub(super) kind: Option<String>,
    pub(super) campaign: Option<String>,
    pub(super) topic: Option<String>,
    /// The day view's page: the API's `next` of the page before.
    after: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum View {
    Month,
    Week,
    List,
    Day,
}

impl View {
    fn name(self) -> &'static str {
        match self {
            View::Month => "month",
            View::Week => "week",
            View::List => "list",
            View::Day => "day",
        }
    }

    /// How many of a day's deliveries the view reads (a month cell shows
    /// fewer items: [`view::MONTH_ENTRIES`]). Enough that an item
    /// on every channel is read whole on a usual day.
    fn per_day(self) -> usize {
        match self {
            View::Month | View::Week | View::List => 40,
            View::Day => 0,
        }
    }
}

/// Deliveries on one page of the day view.
const DAY_PAGE: usize = 200;

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
        Some("day") => View::Day,
        _ => View::Month,
    };
    let (first, end) = range(view, day);
    let counted = match days(&c, &visit, &p, first, end, view.per_day()).await {
        Ok(d) => d,
        Err(f) => return visit.failed(&f),
    };
    let page = match view {
        View::Day => match day_page(
            &c,
            &visit,
            &p,
            local_midnight(tz, first),
            local_midnight(tz, end),
        )
        .await
        {
            Ok(page) => Some(page),
            Err(f) => return visit.failed(&f),
        },
        _ => None,
    };
    let rows: Vec<&DeliveryRow> = match &page {
        Some(page) => page.deliveries.iter().collect(),
        None => counted.days.iter().flat_map(|d| &d.deliveries).collect(),
    };
    let items = match summaries(&c, &visit, &rows, &counted).await {
        Ok(i) => i,
        Err(f) => return visit.failed(&f),
    };
    let title = match view {
        View::Week => format!("Week of {}", first.format("%-d %B %Y")),
        View::Day => first.format("%A %-d %B %Y").to_string(),
        _ => first.format("%B %Y").to_string(),
    };
    let listing = Listing {
        frame: &visit.frame,
        days: view::by_day(&visit.frame, &rows, &items),
        counted: counted
            .days
            .iter()
            .map(|d| (d.date, d))
            .collect::<Counted>(),
        items: &items,
        filters: filters(&p),
    };
    let mut body = controls(&c, &p, view, day, today);
    body.push_str(&view::clashes(&listing, &counted));
    body.push_str(&match view {
        View::Month => view::month(&listing, first, end, today),
        View::Week | View::List => view::list(&listing, first, end, view == View::Week),
        View::Day => view::day(&listing, first, page.as_ref().and_then(|p| p.next.clone())),
    });
    layout::page(&visit.frame, &title, &body)
}

fn range(view: View, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    match view {
        View::Day => (day, day + Duration::days(1)),
        View::Week => {
            let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
            (monday, monday + Duration::days(7))
        }
        View::Month | View::List => {
            let first = day.with_day(1).expect("day 1 exists");
            let next = first.checked_add_months(chrono::Months::new(1));
            (first, next.expect("a next month"))
        }
    }
}

/// The filters as a query string's tail (`&kind=…`), not yet HTML-escaped.
fn filters(p: &Params) -> String {
    let mut q = String::new();
    for (name, value) in [
        ("channel", &p.channel),
        ("kind", &p.kind),
        ("campaign", &p.campaign),
        ("topic", &p.topic),
    ] {
        if let Some(v) = value.as_deref().filter(|s| !s.is_empty()) {
            q.push_str(&format!("&{name}={}", enc(v)));
        }
    }
    q
}

/// The range's days, counted whole, with each day's first `per_day`.
async fn days(
    c: &Console,
    visit: &Visit,
    p: &Params,
    first: NaiveDate,
    end: NaiveDate,
    per_day: usize,
) -> Result<CalendarDays, super::Failure> {
    let uri = format!(
        "/api/v1/deliveries/days?from={first}&until={end}&per_day={per_day}{}",
        filters(p)
    );
    c.api.get(&visit.who, &uri).await
}

/// One page of a day's deliveries, from the cursor in `p.after`.
async fn day_page(
    c: &Console,
    visit: &Visit,
    p: &Params,
    from: chrono::DateTime<Utc>,
    before: chrono::DateTime<Utc>,
) -> Result<DeliveryPage, super::Failure> {
    let after = p
        .after
        .as_deref()
        .map(|a| format!("&after={}", enc(a)))
        .unwrap_or_default();
    let uri = format!(
        "/api/v1/deliveries?from={}&before={}&limit={DAY_PAGE}{after}{}",
        enc(&from.to_rfc3339()),
        enc(&before.to_rfc3339()),
        filters(p)
    );
    c.api.get(&visit.who, &uri).await
}

/// The items the shown deliveries and clashes belong to.
async fn summaries(
    c: &Console,
    visit: &Visit,
    rows: &[&DeliveryRow],
    counted: &CalendarDays,
) -> Result<BTreeMap<String, ItemSummary>, super::Failure> {
    let clashing = counted.clashes.iter().flat_map(|c| &c.items);
    let ids: BTreeSet<&str> = rows
        .iter()
        .map(|d| d.item.as_str())
        .chain(clashing.map(String::as_str))
        .collect();
    let ids: Vec<&str> = ids.into_iter().collect();
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let uri = format!("/api/v1/items?limit=500&ids={}", enc(&chunk.join(",")));
        let list: ItemList = c.api.get(&visit.who, &uri).await?;
        out.extend(list.items.into_iter().map(|i| (i.id.clone(), i)));
    }
    Ok(out)
}

/// A link to `view` at `date` with the filters kept, for an `href`
/// (the values are percent-encoded, so only `&` needs escaping).
pub(super) fn href(view: &str, date: NaiveDate, filters: &str) -> String {
    format!("/console/?view={view}&date={date}{filters}").replace('&', "&amp;")
}

/// Previous / today / next, the view switch and the filters (a GET form).
fn controls(c: &Console, p: &Params, view: View, day: NaiveDate, today: NaiveDate) -> String {
    let step = |forward: bool| match view {
        View::Day => day + Duration::days(if forward { 1 } else { -1 }),
        View::Week => day + Duration::days(if forward { 7 } else { -7 }),
        View::Month | View::List => {
            let m = chrono::Months::new(1);
            let first = day.with_day(1).expect("day 1");
            let stepped = if forward {
                first.checked_add_months(m)
            } else {
                first.checked_sub_months(m)
            };
            stepped.unwrap_or(first)
        }
    };
    let tail = filters(p);
    let link = |v: &str, d: NaiveDate| href(v, d, &tail);
    let unit = match view {
        View::Day => "day",
        View::Week => "week",
        View::Month | View::List => "month",
    };
    let views: String = [("month", "Month"), ("week", "Week"), ("list", "List")]
        .iter()
        .map(|(v, text)| {
            let current = if *v == view.name() {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!(
                "<li><a class=\"govuk-link\" href=\"{}\"{current}>{text}</a></li>",
                link(v, day)
            )
        })
        .collect();
    let ws = c.workspace.read().expect("workspace lock").clone();
    let channels: Vec<String> = ws.channels.iter().map(|ch| ch.name().to_string()).collect();
    let campaigns: BTreeSet<String> = ws.items.iter().filter_map(|i| i.campaign.clone()).collect();
    let topics: BTreeSet<String> = ws.items.iter().flat_map(|i| i.topics.clone()).collect();
    let kinds: Vec<String> = ItemKind::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    let open = [&p.channel, &p.kind, &p.campaign, &p.topic]
        .iter()
        .any(|f| f.is_some());
    format!(
        "<nav class=\"crier-calendar-nav\" aria-label=\"Dates\"><ul class=\"crier-inline-list\">\
         <li><a class=\"govuk-link\" href=\"{prev}\">Previous {unit}</a></li>\
         <li><a class=\"govuk-link\" href=\"{now}\">Today</a></li>\
         <li><a class=\"govuk-link\" href=\"{next}\">Next {unit}</a></li></ul>\
         <ul class=\"crier-inline-list\" aria-label=\"View\">{views}</ul></nav>\n\
         <details class=\"govuk-details\"{open}><summary class=\"govuk-details__summary\"><span class=\"govuk-details__summary-text\">Filter</span></summary>\
         <div class=\"govuk-details__text\"><form method=\"get\" action=\"/console/\" class=\"crier-filters\">\
         <input type=\"hidden\" name=\"view\" value=\"{name}\"><input type=\"hidden\" name=\"date\" value=\"{day}\">\
         {ch}{kind}{camp}{topic}<button class=\"govuk-button govuk-button--secondary\" type=\"submit\">Apply filters</button></form></div></details>\n",
        prev = link(view.name(), step(false)),
        now = link(view.name(), today),
        next = link(view.name(), step(true)),
        name = view.name(),
        open = if open { " open" } else { "" },
        ch = view::select("channel", "Channel", &channels, p.channel.as_deref()),
        kind = view::select("kind", "Kind", &kinds, p.kind.as_deref()),
        camp = view::select("campaign", "Campaign", &campaigns.into_iter().collect::<Vec<_>>(), p.campaign.as_deref()),
        topic = view::select("topic", "Topic", &topics.into_iter().collect::<Vec<_>>(), p.topic.as_deref()),
    )
}
