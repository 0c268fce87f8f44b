//! The digests a channel's plan calls for: one delivery per (topic,
//! period) that holds at least one planned item of the topic, due when the
//! period ends. Planned with the items (the `Channel::plan_own` hook), the
//! store's usual sync adds, moves and cancels them as content changes.

use std::collections::BTreeSet;

use chrono_tz::Tz;
use serde_json::json;

use super::{Cadence, Period, Times};
use crate::channels::email::Email;
use crate::content::Item;
use crate::delivery::Planned;
use crate::variant::Variant;

/// The item key of a digest: the topic and the local start of its period.
pub fn key(topic: &str, period: &Period, tz: Tz) -> String {
    let start = period.start.with_timezone(&tz).format("%Y-%m-%dT%H:%M");
    format!("digest/{topic}/{start}")
}

/// The topics of a planned email variant (its payload's, as the send reads them).
pub fn topics(variant: &Variant) -> Vec<String> {
    variant
        .payload
        .as_ref()
        .and_then(|p| p.get("topics"))
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default()
}

/// The digests for the channel's planned items (their main occasion).
/// The fingerprint is the planner's to set. An item's topics here are
/// those its variant carries (`Email::shape`): the item's, among the list's.
pub fn digests(email: &Email, times: &Times, items: &[(&Item, &Planned)], tz: Tz) -> Vec<Planned> {
    let mut wanted: BTreeSet<(String, Period)> = BTreeSet::new();
    let listed = email.options.topic_ids();
    for (item, p) in items {
        let topics = item.topics.iter().filter(|t| listed.contains(&t.as_str()));
        for topic in topics {
            for cadence in [Cadence::Daily, Cadence::Weekly] {
                if let Some(period) = times.period(cadence, p.due_at, tz) {
                    wanted.insert((topic.clone(), period));
                }
            }
        }
    }
    wanted
        .into_iter()
        .map(|(topic, period)| planned(email, &topic, &period, tz))
        .collect()
}

fn planned(email: &Email, topic: &str, period: &Period, tz: Tz) -> Planned {
    let key = key(topic, period, tz);
    let name = email
        .options
        .topics
        .iter()
        .find(|t| t.id == topic)
        .map_or(topic, |t| t.name.as_str());
    let when = |t| crier_schedule::format_local(t, tz);
    let text = format!(
        "The {} digest of “{name}”: the items published from {} until {}, listed when it is sent.",
        period.cadence.as_str(),
        when(period.start),
        when(period.end),
    );
    let mut variant = Variant::document(&key, &email.name, super::super::KIND.name, text);
    variant.subject = Some(format!("{} digest: {name}", title_case(period.cadence)));
    variant.payload = Some(json!({
        "topics": [topic],
        "digest": {
            "topic": topic,
            "cadence": period.cadence.as_str(),
            "from": period.start.to_rfc3339(),
            "until": period.end.to_rfc3339(),
        },
    }));
    Planned {
        item: key,
        channel: email.name.clone(),
        occasion: period.cadence.as_str().into(),
        due_at: period.end,
        variant: Some(variant.into()),
        fingerprint: String::new(),
        requires_approval: false,
    }
}

fn title_case(c: Cadence) -> &'static str {
    match c {
        Cadence::Item => "Item",
        Cadence::Daily => "Daily",
        Cadence::Weekly => "Weekly",
    }
}
