//! Digests: a person may take a topic as one email a day or a week
//! instead of one per item. Each digest is a planned delivery of its own
//! on the channel (item `digest/<topic>/<period start>`, occasion `daily`
//! or `weekly`), due when its period ends, so it is leased, recorded,
//! resumed after a crash and listed by `crier queue` like any other send.
//!
//! Files: this one the options and the periods (DST-correct, in the
//! organisation's timezone); `plan.rs` the digests the channel's planned
//! items call for; `build.rs` the message, built when it is sent from the
//! items of its period that were published; `choices.rs` the
//! preferences page's radios.

pub mod build;
pub mod choices;
pub mod plan;

use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

/// How often a person takes a topic. `Item` (every item, the default) is
/// never stored: it is the absence of a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cadence {
    Item,
    Daily,
    Weekly,
}

impl Cadence {
    pub const ALL: [Cadence; 3] = [Cadence::Item, Cadence::Daily, Cadence::Weekly];

    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Item => "item",
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
        }
    }

    pub fn parse(s: &str) -> Option<Cadence> {
        Cadence::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// How the preferences page offers it.
    pub fn label(self) -> &'static str {
        match self {
            Cadence::Item => "Every item, as it is published",
            Cadence::Daily => "A daily digest",
            Cadence::Weekly => "A weekly digest",
        }
    }
}

/// Who a planned email variant is for: its topics, taken at its cadence
/// (a digest's, or every item). `None`: not a list's variant.
pub fn audience(variant: &crate::variant::Variant) -> Option<(Vec<String>, Cadence)> {
    let topics = variant.payload.as_ref()?.get("topics")?;
    let topics: Vec<String> = serde_json::from_value(topics.clone()).ok()?;
    let cadence = build::Digest::of(variant).map_or(Cadence::Item, |d| d.cadence);
    Some((topics, cadence))
}

/// `[channels.<name>.digests]` as written: `daily = "07:00"`,
/// `weekly = "Mon 07:00"`, in the organisation's timezone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestOptions {
    pub daily: Option<String>,
    pub weekly: Option<String>,
}

/// When each digest goes, parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Times {
    pub daily: Option<NaiveTime>,
    pub weekly: Option<(Weekday, NaiveTime)>,
}

impl DigestOptions {
    /// The times; the error names the field and shows the expected form.
    pub fn times(&self, channel: &str) -> Result<Times, String> {
        let field = |f: &str, v: &str, form: &str| {
            format!("channels.{channel}.digests.{f}: `{v}` is not a time like \"{form}\"")
        };
        let daily = match &self.daily {
            None => None,
            Some(v) => Some(parse_time(v).ok_or_else(|| field("daily", v, "07:00"))?),
        };
        let weekly = match &self.weekly {
            None => None,
            Some(v) => {
                let bad = || field("weekly", v, "Mon 07:00");
                let (day, time) = v.trim().split_once(' ').ok_or_else(bad)?;
                let day: Weekday = day.parse().map_err(|_| bad())?;
                Some((day, parse_time(time).ok_or_else(bad)?))
            }
        };
        Ok(Times { daily, weekly })
    }
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

impl Times {
    /// The cadences this channel offers besides every item.
    pub fn offered(&self) -> Vec<Cadence> {
        let mut out = vec![Cadence::Item];
        if self.daily.is_some() {
            out.push(Cadence::Daily);
        }
        if self.weekly.is_some() {
            out.push(Cadence::Weekly);
        }
        out
    }

    /// The period of `cadence` holding `t`: `[start, end)`, both at the
    /// configured local time, so a week across a clock change is 167 or
    /// 169 hours long and the digest still goes at 07:00 on the wall.
    pub fn period(&self, cadence: Cadence, t: DateTime<Utc>, tz: Tz) -> Option<Period> {
        let (step, time, back) = match cadence {
            Cadence::Item => return None,
            Cadence::Daily => (1, self.daily?, 0),
            Cadence::Weekly => {
                let (day, time) = self.weekly?;
                let local = t.with_timezone(&tz).date_naive();
                let back =
                    (7 + local.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
                (7, time, back)
            }
        };
        let date = t.with_timezone(&tz).date_naive() - TimeDelta::days(i64::from(back));
        let at = |d: chrono::NaiveDate| crier_schedule::resolve_forward(d.and_time(time), tz);
        let mut start_date = date;
        if at(start_date) > t {
            start_date -= TimeDelta::days(step);
        }
        Some(Period {
            cadence,
            start: at(start_date),
            end: at(start_date + TimeDelta::days(step)),
        })
    }
}

/// One digest's period: the items published from `start` until `end`;
/// the digest goes at `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    pub cadence: Cadence,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn times() -> Times {
        DigestOptions {
            daily: Some("07:00".into()),
            weekly: Some("Mon 07:00".into()),
        }
        .times("news")
        .unwrap()
    }

    /// The last Sunday of October 2026 is the 25th: Monday 07:00 is 06:00
    /// UTC before it and 07:00 UTC after.
    #[test]
    fn a_week_across_the_october_change_ends_at_seven_on_the_wall() {
        let tz: Tz = "Europe/London".parse().unwrap();
        let p = times()
            .period(Cadence::Weekly, at("2026-10-24T12:00:00Z"), tz)
            .unwrap();
        assert_eq!(p.start, at("2026-10-19T06:00:00Z"));
        assert_eq!(p.end, at("2026-10-26T07:00:00Z"));
        // The boundary itself opens the next period.
        let next = times().period(Cadence::Weekly, p.end, tz).unwrap();
        assert_eq!(next.start, p.end);
        assert_eq!(next.end, at("2026-11-02T07:00:00Z"));
        let before = times()
            .period(Cadence::Weekly, p.start - TimeDelta::seconds(1), tz)
            .unwrap();
        assert_eq!(before.end, p.start);
    }

    #[test]
    fn a_day_is_local_midnight_free_and_dst_correct() {
        let tz: Tz = "Europe/London".parse().unwrap();
        let p = times()
            .period(Cadence::Daily, at("2026-10-25T06:30:00Z"), tz)
            .unwrap();
        assert_eq!(p.start, at("2026-10-24T06:00:00Z"));
        assert_eq!(p.end, at("2026-10-25T07:00:00Z"), "25 hours long");
    }

    #[test]
    fn bad_times_name_the_field() {
        let e = DigestOptions {
            daily: None,
            weekly: Some("Monday at 7".into()),
        }
        .times("news")
        .unwrap_err();
        assert!(e.contains("channels.news.digests.weekly"), "{e}");
        assert!(e.contains("Mon 07:00"), "{e}");
    }
}
