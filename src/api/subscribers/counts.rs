//! The lists at a glance, for admins: what each list offers (its topics
//! and digests, an import form's choices), and its confirmed subscribers
//! by topic at the end of each recent month, counted by the store from
//! the consent history so a past month keeps the count it had.

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::super::problem::{Problem, ProblemDetails};
use super::super::ApiState;
use crate::channels::ListOffer;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(lists))
        .routes(routes!(counts))
}

/// A channel that keeps a list, and what it offers subscribers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListInfo {
    pub channel: String,
    pub topics: Vec<TopicInfo>,
    /// The digests a topic may be taken as instead of every item
    /// (`daily`, `weekly`); empty when the list offers none.
    pub digests: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TopicInfo {
    pub id: String,
    pub name: String,
}

#[utoipa::path(get, path = "/api/v1/subscribers/lists",
    security(("crier" = ["personal_data"])), tag = "subscribers",
    responses((status = 200, body = Vec<ListInfo>)))]
async fn lists(State(state): State<ApiState>) -> Json<Vec<ListInfo>> {
    Json(offers(&state).into_iter().map(info).collect())
}

/// Each list channel's offer, in the order of `channels.toml`.
fn offers(state: &ApiState) -> Vec<(String, ListOffer)> {
    let ws = state.workspace();
    ws.channels
        .iter()
        .filter_map(|c| Some((c.name().to_string(), c.list_offer()?)))
        .collect()
}

fn info((channel, offer): (String, ListOffer)) -> ListInfo {
    ListInfo {
        channel,
        topics: (offer.topics.into_iter())
            .map(|(id, name)| TopicInfo { id, name })
            .collect(),
        digests: offer.digests,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountsQuery {
    /// How many months back (1 to 60; 12 when absent).
    pub months: Option<u32>,
}

/// Confirmed subscribers by topic over time.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CountsOverTime {
    /// The times counted at, oldest first: the end of each of the last
    /// `months` months in the organisation's timezone, then now.
    pub points: Vec<Point>,
    /// Each list's topics (its configured ones, and any other a consent
    /// names), with the count at each point.
    pub topics: Vec<TopicCounts>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Point {
    /// The month that ended (`YYYY-MM`); absent for now.
    pub month: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TopicCounts {
    pub channel: String,
    pub topic: String,
    /// The topic's name on the list, if it still has it.
    pub name: Option<String>,
    /// Confirmed subscribers at each point.
    pub counts: Vec<u64>,
}

#[utoipa::path(get, path = "/api/v1/subscribers/counts", params(CountsQuery),
    security(("crier" = ["personal_data"])), tag = "subscribers",
    responses((status = 200, body = CountsOverTime), (status = 400, body = ProblemDetails)))]
async fn counts(
    State(state): State<ApiState>,
    Query(q): Query<CountsQuery>,
) -> Result<Json<CountsOverTime>, Problem> {
    let months = q.months.unwrap_or(12);
    if !(1..=60).contains(&months) {
        return Err(Problem::bad_request("months", "from 1 to 60"));
    }
    let tz = state.workspace().config.organisation.timezone;
    let now = state.services.clock.now();
    let mut points = month_ends(now, months, tz);
    points.push(Point {
        month: None,
        at: now,
    });
    let at: Vec<DateTime<Utc>> = points.iter().map(|p| p.at).collect();
    let counted = state.services.store.lists().confirmed_counts(&at).await?;
    let mut topics: Vec<TopicCounts> = Vec::new();
    for (channel, offer) in offers(&state) {
        for (topic, name) in offer.topics {
            let found = counted
                .iter()
                .find(|c| c.channel == channel && c.topic == topic);
            topics.push(TopicCounts {
                counts: found.map_or_else(|| vec![0; at.len()], |c| c.counts.clone()),
                channel: channel.clone(),
                topic,
                name: Some(name),
            });
        }
    }
    // Topics a list no longer has, and lists no longer configured, still
    // had people: shown after, without a name.
    for c in counted {
        if !topics
            .iter()
            .any(|t| t.channel == c.channel && t.topic == c.topic)
        {
            topics.push(TopicCounts {
                channel: c.channel,
                topic: c.topic,
                name: None,
                counts: c.counts,
            });
        }
    }
    Ok(Json(CountsOverTime { points, topics }))
}

/// The ends of the `months` months before the current one (local
/// midnight at the start of the next), oldest first.
fn month_ends(now: DateTime<Utc>, months: u32, tz: Tz) -> Vec<Point> {
    let today = now.with_timezone(&tz).date_naive();
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("a first");
    (0..months)
        .rev()
        .filter_map(|back| {
            let next = this_month.checked_sub_months(Months::new(back))?;
            let ended = next.pred_opt()?;
            let midnight = next.and_hms_opt(0, 0, 0)?;
            Some(Point {
                month: Some(ended.format("%Y-%m").to_string()),
                at: crier_schedule::resolve_forward(midnight, tz),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn months_end_at_local_midnight_oldest_first() {
        let tz: Tz = "Europe/London".parse().unwrap();
        // 00:30 on 1 June in London is still 31 May in UTC.
        let now = Utc.with_ymd_and_hms(2026, 5, 31, 23, 30, 0).unwrap();
        let ends = month_ends(now, 3, tz);
        let seen: Vec<(String, String)> = ends
            .iter()
            .map(|p| (p.month.clone().unwrap(), p.at.to_rfc3339()))
            .collect();
        assert_eq!(
            seen,
            [
                ("2026-03".into(), "2026-03-31T23:00:00+00:00".into()),
                ("2026-04".into(), "2026-04-30T23:00:00+00:00".into()),
                ("2026-05".into(), "2026-05-31T23:00:00+00:00".into()),
            ]
        );
    }
}
