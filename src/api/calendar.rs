//! The calendar's counting: each local day of a range with how many
//! deliveries it holds by state, its first few, and a cursor to the rest;
//! plus the minutes where two items share a channel. One request however
//! busy the month, filtered in the store's query (issue #11).

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::deliveries::{cursor_of, listed, DeliveryRow};
use super::problem::{Problem, ProblemDetails};
use super::ApiState;
use crate::content::ItemKind;
use crate::store::{QueueFilter, Store, Tally};
use crate::workspace::Workspace;

/// The longest range one request counts (a month view with the days of
/// its neighbours around it fits).
const MOST_DAYS: i64 = 62;
/// Clashes listed at most; the answer says when there are more.
const MOST_CLASHES: usize = 50;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(days))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DaysQuery {
    /// The first local day (YYYY-MM-DD), in the organisation's timezone.
    pub from: NaiveDate,
    /// The day after the last (YYYY-MM-DD); at most 62 days after `from`.
    pub until: NaiveDate,
    pub channel: Option<String>,
    /// news, briefing, event, notice or post.
    pub kind: Option<String>,
    pub campaign: Option<String>,
    pub topic: Option<String>,
    /// How many of each day's deliveries to list (0–100; 10 when absent).
    pub per_day: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CalendarDays {
    /// The IANA timezone the days are in.
    pub timezone: String,
    /// Only the days with deliveries, in order.
    pub days: Vec<CalendarDay>,
    pub clashes: Vec<ClashRow>,
    /// More clashes than listed.
    pub more_clashes: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CalendarDay {
    pub date: NaiveDate,
    /// The instants the day starts and ends (23 or 25 hours apart on the
    /// days the clocks change).
    pub from: DateTime<Utc>,
    pub before: DateTime<Utc>,
    pub total: u64,
    /// By state as the queue lists it (`held:approval` for what awaits
    /// approval; planned includes what is due now).
    pub counts: BTreeMap<String, u64>,
    /// The day's first `per_day` deliveries by due time.
    pub deliveries: Vec<DeliveryRow>,
    /// `after` for `GET /api/v1/deliveries` (with `from` and `before` of
    /// this day) to list the rest; absent when all are listed.
    pub next: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClashRow {
    pub channel: String,
    pub at: DateTime<Utc>,
    pub items: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/deliveries/days", params(DaysQuery),
    security(("crier" = ["read"])), tag = "queue",
    responses((status = 200, body = CalendarDays), (status = 400, body = ProblemDetails)))]
async fn days(
    State(state): State<ApiState>,
    Query(q): Query<DaysQuery>,
) -> Result<Json<CalendarDays>, Problem> {
    let span = (q.until - q.from).num_days();
    if !(1..=MOST_DAYS).contains(&span) {
        let why = format!("must be 1 to {MOST_DAYS} days after `from`");
        return Err(Problem::bad_request("until", why));
    }
    let ws = state.workspace();
    let tz = ws.config.organisation.timezone;
    let dates: Vec<NaiveDate> = (0..=span).map(|i| q.from + Duration::days(i)).collect();
    let bounds: Vec<DateTime<Utc>> = dates.iter().map(|d| local_midnight(tz, *d)).collect();
    let filter = QueueFilter {
        channel: q.channel.clone().filter(|c| !c.is_empty()),
        items: items_matching(
            &ws,
            q.kind.as_deref(),
            q.campaign.as_deref(),
            q.topic.as_deref(),
        )?,
        due_from: bounds.first().copied(),
        due_before: bounds.last().copied(),
        ..QueueFilter::default()
    };
    let tallies = state.store.tally(&filter, &bounds).await?;
    let per_day = q.per_day.unwrap_or(10).min(100);
    // Each day's first few at once: the store's connections read side by
    // side, so a month costs its slowest day, not the sum of 31.
    let mut reads = tokio::task::JoinSet::new();
    let mut days = Vec::new();
    for (span, counts) in by_span(&tallies) {
        let (from, before) = (bounds[span], bounds[span + 1]);
        let (store, filter) = (state.store.clone(), filter.clone());
        let at = days.len();
        reads.spawn(async move {
            let listed = first_of_day(store.as_ref(), &filter, from, before, per_day).await;
            (at, listed)
        });
        let total = counts.values().sum();
        days.push(CalendarDay {
            date: dates[span],
            from,
            before,
            total,
            counts,
            deliveries: Vec::new(),
            next: None,
        });
    }
    while let Some(read) = reads.join_next().await {
        let (at, listed) =
            read.map_err(|e| Problem::new(500, format!("a day's read stopped: {e}")))?;
        (days[at].deliveries, days[at].next) = listed?;
    }
    let mut clashes = state.store.clashes(&filter, MOST_CLASHES + 1).await?;
    let more_clashes = clashes.len() > MOST_CLASHES;
    clashes.truncate(MOST_CLASHES);
    Ok(Json(CalendarDays {
        timezone: tz.name().to_string(),
        days,
        clashes: clashes
            .into_iter()
            .map(|c| ClashRow {
                channel: c.channel,
                at: c.at,
                items: c.items,
            })
            .collect(),
        more_clashes,
    }))
}

/// The tallies per span, keyed by the state the queue lists.
fn by_span(tallies: &[Tally]) -> BTreeMap<usize, BTreeMap<String, u64>> {
    let mut out: BTreeMap<usize, BTreeMap<String, u64>> = BTreeMap::new();
    for t in tallies {
        let name = match (t.state.as_str(), t.hold_reason) {
            _ if t.awaiting_approval => "held:approval".to_string(),
            ("held", Some(r)) => format!("held:{}", r.as_str()),
            (s, _) => s.to_string(),
        };
        *out.entry(t.span).or_default().entry(name).or_default() += t.count;
    }
    out
}

async fn first_of_day(
    store: &dyn Store,
    filter: &QueueFilter,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    n: usize,
) -> Result<(Vec<DeliveryRow>, Option<String>), Problem> {
    if n == 0 {
        return Ok((Vec::new(), None));
    }
    let day = QueueFilter {
        due_from: Some(from),
        due_before: Some(before),
        limit: Some(n + 1),
        ..filter.clone()
    };
    let mut rows = store.list_summaries(&day).await?;
    let more = rows.len() > n;
    rows.truncate(n);
    let next = rows
        .last()
        .filter(|_| more)
        .map(|d| cursor_of(d.due_at, d.id));
    let now = Utc::now();
    Ok((rows.into_iter().map(|d| listed(d, now)).collect(), next))
}

/// The ids of the items of this kind, campaign and topic, for
/// [`QueueFilter::items`]; `None` when no filter is given. An item no
/// longer in the content has no kind, so any of these filters leaves it out.
pub(super) fn items_matching(
    ws: &Workspace,
    kind: Option<&str>,
    campaign: Option<&str>,
    topic: Option<&str>,
) -> Result<Option<Vec<String>>, Problem> {
    let [kind, campaign, topic] = [kind, campaign, topic].map(|f| f.filter(|s| !s.is_empty()));
    let known = |k: &str| ItemKind::ALL.iter().any(|x| x.as_str() == k);
    if let Some(k) = kind.filter(|k| !known(k)) {
        let all: Vec<&str> = ItemKind::ALL.iter().map(|x| x.as_str()).collect();
        let why = format!("unknown kind `{k}` (one of {})", all.join(", "));
        return Err(Problem::bad_request("kind", why));
    }
    if kind.is_none() && campaign.is_none() && topic.is_none() {
        return Ok(None);
    }
    let ids = ws
        .items
        .iter()
        .filter(|i| kind.is_none_or(|k| i.kind.as_str() == k))
        .filter(|i| campaign.is_none_or(|c| i.campaign.as_deref() == Some(c)))
        .filter(|i| topic.is_none_or(|t| i.topics.iter().any(|x| x == t)))
        .map(|i| i.id.clone())
        .collect();
    Ok(Some(ids))
}

/// The instant a local date starts (the earlier one if midnight repeats,
/// the hour after if it is skipped).
pub fn local_midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_hms_opt(0, 0, 0).expect("midnight");
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc))
}
