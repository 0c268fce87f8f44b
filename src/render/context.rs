//! The data templates see. Kind-specific fields exist only for that kind,
//! so strict mode catches an event template used for a news item.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::content::{markdown, Details, Item};

pub fn template_data(config: &Config, item: &Item, channel: &str, kind: &str) -> Value {
    let tz = config.organisation.timezone;
    let mut it = Map::new();
    it.insert("id".into(), json!(item.id));
    it.insert("kind".into(), json!(item.kind.as_str()));
    it.insert("title".into(), json!(item.title));
    it.insert("summary".into(), json!(item.summary));
    it.insert("body_text".into(), json!(markdown::to_plain(&item.body)));
    it.insert("body_html".into(), json!(markdown::to_html(&item.body)));
    it.insert("link".into(), json!(item.link));
    let tags: Vec<String> = item.hashtags.iter().map(|t| format!("#{t}")).collect();
    it.insert("hashtag_line".into(), json!(tags.join(" ")));
    it.insert("hashtags".into(), json!(tags));
    it.insert("topics".into(), json!(item.topics));
    it.insert("images".into(), json!(item.images));
    it.insert("language".into(), json!(item.language));
    it.insert("campaign".into(), json!(item.campaign));
    it.insert("at".into(), json!(item.at.to_rfc3339()));
    it.insert("date".into(), json!(long_date(item.at, tz)));
    match &item.details {
        Details::News { edition, sections } => {
            it.insert("edition".into(), json!(edition));
            let sections: Vec<Value> = sections
                .iter()
                .map(|s| {
                    json!({
                        "heading": s.heading,
                        "body_text": markdown::to_plain(&s.body),
                        "body_html": markdown::to_html(&s.body),
                    })
                })
                .collect();
            it.insert("sections".into(), Value::Array(sections));
        }
        Details::Briefing {
            themes,
            document,
            questions,
        } => {
            it.insert("themes".into(), json!(themes));
            it.insert("document".into(), json!(document));
            it.insert("questions".into(), json!(questions));
        }
        Details::Event(e) => {
            let same_day =
                e.start.with_timezone(&tz).date_naive() == e.end.with_timezone(&tz).date_naive();
            let when = if same_day {
                format!(
                    "{}, {} to {}",
                    long_date(e.start, tz),
                    clock(e.start, tz),
                    clock(e.end, tz)
                )
            } else {
                format!(
                    "{}, {} to {}, {}",
                    long_date(e.start, tz),
                    clock(e.start, tz),
                    long_date(e.end, tz),
                    clock(e.end, tz)
                )
            };
            it.insert(
                "event".into(),
                json!({
                    "start": e.start.to_rfc3339(),
                    "end": e.end.to_rfc3339(),
                    "date": long_date(e.start, tz),
                    "start_time": clock(e.start, tz),
                    "end_time": clock(e.end, tz),
                    "when": when,
                    "venue": e.venue,
                    "booking_url": e.booking_url,
                    "booking_email": e.booking_email,
                    "booking_deadline": e.booking_deadline.map(|d| format!("{} at {}", long_date(d, tz), clock(d, tz))),
                }),
            );
        }
        Details::None => {}
    }
    json!({
        "org": {
            "name": config.organisation.name,
            "website": config.organisation.website,
        },
        "channel": { "name": channel, "kind": kind },
        "item": Value::Object(it),
    })
}

/// "Tuesday 1 December 2026", as UK public-sector style writes dates.
pub fn long_date(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%A %-d %B %Y").to_string()
}

fn clock(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%H:%M").to_string()
}
