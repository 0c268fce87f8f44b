use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, SecondsFormat, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::cadence::CadenceFirings;
use crate::{format_local, parse_datetime, Anchors, Cadence, Clock, Relative, ScheduleError};

/// When to publish: once, on a cadence, or relative to an event.
/// See the crate documentation for the syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// `2026-12-01 10:00`: fires once.
    Once(Once),
    /// `0 10 * * MON from 2026-12-01`: a cron pattern in local time.
    Cadence(Cadence),
    /// `3 days before start at 09:00`: needs an event's [`Anchors`].
    Relative(Relative),
}

/// A single publish instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Once {
    at: DateTime<FixedOffset>,
    /// Written as local wall-clock time, so it is displayed that way too.
    floating: bool,
}

impl Once {
    /// Parses a date and time; see [`parse_datetime`].
    pub fn parse(s: &str, tz: Tz) -> Result<Self, ScheduleError> {
        let s = s.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(s) {
            return Ok(Self {
                at,
                floating: false,
            });
        }
        let instant = parse_datetime(s, tz)?.instant;
        Ok(Self {
            at: instant.with_timezone(&tz).fixed_offset(),
            floating: true,
        })
    }

    /// The instant it fires.
    pub fn at(&self) -> DateTime<Utc> {
        self.at.to_utc()
    }
}

impl fmt::Display for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.floating {
            return f.write_str(&self.at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
        let format = if self.at.second() == 0 {
            "%Y-%m-%d %H:%M"
        } else {
            "%Y-%m-%d %H:%M:%S"
        };
        write!(f, "{}", self.at.format(format))
    }
}

impl Schedule {
    /// Parses a schedule whose local times are in `tz`.
    pub fn parse(s: &str, tz: Tz) -> Result<Self, ScheduleError> {
        let s = s.trim();
        let words: Vec<&str> = s.split_whitespace().collect();
        let (first, second) = match words.as_slice() {
            [] => return Err(ScheduleError::Empty),
            [first] => (*first, ""),
            [first, second, ..] => (*first, *second),
        };
        let looks_like_date = first.len() >= 5
            && first.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && first.as_bytes()[4] == b'-';
        let is_relative = first.eq_ignore_ascii_case("at")
            || words
                .iter()
                .any(|w| w.eq_ignore_ascii_case("before") || w.eq_ignore_ascii_case("after"))
            || (first.bytes().all(|b| b.is_ascii_digit())
                && second.starts_with(|c: char| c.is_ascii_alphabetic()));
        if looks_like_date {
            Once::parse(s, tz).map(Schedule::Once)
        } else if is_relative {
            Relative::parse(s).map(Schedule::Relative)
        } else {
            Cadence::parse(s).map(Schedule::Cadence)
        }
    }

    /// Firings strictly after `after`, in chronological order: none or one
    /// for [`Schedule::Once`], every one in range for [`Schedule::Cadence`].
    /// A [`Schedule::Relative`] needs an event: use [`Schedule::firings_for`].
    pub fn firings(&self, after: DateTime<Utc>, tz: Tz) -> Result<Firings, ScheduleError> {
        match self {
            Schedule::Once(once) => Ok(Firings::once(once.at(), after)),
            Schedule::Cadence(cadence) => Ok(Firings(Inner::Cadence(cadence.firings(after, tz)))),
            Schedule::Relative(_) => Err(ScheduleError::NeedsAnchors(self.to_string())),
        }
    }

    /// Like [`Schedule::firings`], resolving a relative schedule against
    /// `anchors`; other schedules ignore them.
    pub fn firings_for(
        &self,
        after: DateTime<Utc>,
        anchors: &Anchors,
        tz: Tz,
    ) -> Result<Firings, ScheduleError> {
        match self {
            Schedule::Relative(relative) => {
                Ok(Firings::once(relative.resolve(anchors, tz)?, after))
            }
            _ => self.firings(after, tz),
        }
    }

    /// Firings strictly after the clock's current time.
    pub fn upcoming<C: Clock + ?Sized>(&self, clock: &C, tz: Tz) -> Result<Firings, ScheduleError> {
        self.firings(clock.now(), tz)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Once(once) => once.fmt(f),
            Schedule::Cadence(cadence) => cadence.fmt(f),
            Schedule::Relative(relative) => relative.fmt(f),
        }
    }
}

/// Parses with the default timezone, [`crate::DEFAULT_TZ`]; use
/// [`Schedule::parse`] when the organisation's timezone is configured.
impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s, crate::DEFAULT_TZ)
    }
}

/// Publish instants from a [`Schedule`], in chronological order.
#[derive(Debug, Clone)]
pub struct Firings(Inner);

#[derive(Debug, Clone)]
enum Inner {
    Once(Option<DateTime<Utc>>),
    Cadence(CadenceFirings),
}

impl Firings {
    fn once(at: DateTime<Utc>, after: DateTime<Utc>) -> Self {
        Firings(Inner::Once((at > after).then_some(at)))
    }
}

impl Iterator for Firings {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        match &mut self.0 {
            Inner::Once(at) => at.take(),
            Inner::Cadence(firings) => firings.next(),
        }
    }
}

/// One firing as the `crier when` command shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Firing {
    /// Local time with its zone abbreviation, e.g. `Sun 2026-03-29 02:00 BST`.
    pub local: String,
    /// The same instant in UTC.
    pub utc: DateTime<Utc>,
}

/// The first `count` firings strictly after `after`, for `crier when`.
/// A relative schedule is an error here: it has no event to count from.
pub fn describe_firings(
    schedule: &Schedule,
    after: DateTime<Utc>,
    count: usize,
    tz: Tz,
) -> Result<Vec<Firing>, ScheduleError> {
    Ok(schedule
        .firings(after, tz)?
        .take(count)
        .map(|utc| Firing {
            local: format_local(utc, tz),
            utc,
        })
        .collect())
}
