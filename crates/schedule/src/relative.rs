use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{resolve_forward, ScheduleError};

/// A publish time tied to an event, e.g. `21 days before start at 10:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Relative {
    /// `None` means at the anchor itself (`at booking_deadline`).
    pub offset: Option<Offset>,
    /// The event time counted from.
    pub anchor: Anchor,
    /// Local time of day on the resulting local date.
    pub at: Option<NaiveTime>,
}

/// How far before or after the anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Offset {
    /// How many `unit`s.
    pub amount: u32,
    pub unit: Unit,
    pub direction: Direction,
}

/// Minutes and hours are elapsed time; days and weeks are calendar days in
/// the organisation's timezone, so a DST change in between does not shift
/// the wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Minutes,
    Hours,
    Days,
    Weeks,
}

/// Before or after the anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Before,
    After,
}

/// Which of an event's times a relative schedule counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    Start,
    End,
    BookingDeadline,
}

/// An event's times, as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchors {
    /// When the event starts.
    pub start: DateTime<Utc>,
    /// When it ends, if known.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    /// When booking closes, if it has a booking deadline.
    #[serde(default)]
    pub booking_deadline: Option<DateTime<Utc>>,
}

impl Anchors {
    /// An event with only a start time.
    pub fn starting(start: DateTime<Utc>) -> Self {
        Self {
            start,
            end: None,
            booking_deadline: None,
        }
    }

    /// The instant of `anchor`, if the event has it.
    pub fn get(&self, anchor: Anchor) -> Option<DateTime<Utc>> {
        match anchor {
            Anchor::Start => Some(self.start),
            Anchor::End => self.end,
            Anchor::BookingDeadline => self.booking_deadline,
        }
    }
}

impl Relative {
    /// Parses `at <anchor>` or `<n> <unit> before|after <anchor> [at HH:MM]`.
    pub fn parse(s: &str) -> Result<Self, ScheduleError> {
        let lower = s.trim().to_lowercase();
        let mut words = lower.split_whitespace();
        let first = words.next().ok_or(ScheduleError::Empty)?;
        if first == "at" {
            let anchor = words.next().unwrap_or("").parse()?;
            return finish(
                words,
                Relative {
                    offset: None,
                    anchor,
                    at: None,
                },
            );
        }
        let amount = first
            .parse()
            .map_err(|_| ScheduleError::BadAmount(first.to_string()))?;
        let unit = words.next().unwrap_or("").parse()?;
        let direction = match words.next() {
            Some("before") => Direction::Before,
            Some("after") => Direction::After,
            Some(other) => return Err(ScheduleError::ExpectedDirection(format!("{other:?}"))),
            None => return Err(ScheduleError::ExpectedDirection("nothing".into())),
        };
        let anchor = words.next().unwrap_or("").parse()?;
        let at = match words.next() {
            None => None,
            Some("at") => {
                let text = words.next().unwrap_or("");
                if matches!(unit, Unit::Minutes | Unit::Hours) {
                    return Err(ScheduleError::AtNeedsDays(unit.plural()));
                }
                Some(parse_time_of_day(text)?)
            }
            Some(other) => return Err(ScheduleError::Trailing(other.to_string())),
        };
        let offset = Some(Offset {
            amount,
            unit,
            direction,
        });
        finish(words, Relative { offset, anchor, at })
    }

    /// The instant this schedule names for an event. With `at`, it is that
    /// local time on the local date reached by the offset; a time in the
    /// spring-forward gap moves to just after it.
    pub fn resolve(&self, anchors: &Anchors, tz: Tz) -> Result<DateTime<Utc>, ScheduleError> {
        let base = anchors
            .get(self.anchor)
            .ok_or(ScheduleError::MissingAnchor(self.anchor))?;
        let shifted = match self.offset {
            None => Some(Shifted::Instant(base)),
            Some(offset) => offset.apply(base, tz),
        };
        let shifted = shifted.ok_or_else(|| ScheduleError::OutOfRange(self.to_string()))?;
        Ok(match (self.at, shifted) {
            (Some(time), shifted) => {
                let date = match shifted {
                    Shifted::Instant(t) => t.with_timezone(&tz).date_naive(),
                    Shifted::WallClock(local) => local.date(),
                };
                resolve_forward(date.and_time(time), tz)
            }
            (None, Shifted::Instant(t)) => t,
            (None, Shifted::WallClock(local)) => resolve_forward(local, tz),
        })
    }
}

/// Where an offset lands: elapsed time gives an instant, calendar days a
/// wall-clock time that still has to be placed in the timezone.
enum Shifted {
    Instant(DateTime<Utc>),
    WallClock(NaiveDateTime),
}

impl Offset {
    /// `None` when the result falls off chrono's calendar.
    fn apply(self, base: DateTime<Utc>, tz: Tz) -> Option<Shifted> {
        let before = self.direction == Direction::Before;
        let amount = i64::from(self.amount);
        match self.unit {
            Unit::Minutes | Unit::Hours => {
                let per = if self.unit == Unit::Minutes { 60 } else { 3600 };
                let delta = TimeDelta::try_seconds(per * if before { -amount } else { amount })?;
                base.checked_add_signed(delta).map(Shifted::Instant)
            }
            Unit::Days | Unit::Weeks => {
                let per = if self.unit == Unit::Weeks { 7 } else { 1 };
                let days = Days::new(per * u64::from(self.amount));
                let local = base.with_timezone(&tz).naive_local();
                let moved = if before {
                    local.checked_sub_days(days)
                } else {
                    local.checked_add_days(days)
                };
                moved.map(Shifted::WallClock)
            }
        }
    }
}

fn finish<'a>(
    mut rest: impl Iterator<Item = &'a str>,
    relative: Relative,
) -> Result<Relative, ScheduleError> {
    match rest.next() {
        Some(extra) => Err(ScheduleError::Trailing(extra.to_string())),
        None => Ok(relative),
    }
}

/// Parses `HH:MM` or `HH:MM:SS`.
pub(crate) fn parse_time_of_day(text: &str) -> Result<NaiveTime, ScheduleError> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .map_err(|_| ScheduleError::BadTimeOfDay(text.to_string()))
}

/// Writes `HH:MM`, adding seconds only when they are set.
pub(crate) fn write_time_of_day(f: &mut fmt::Formatter<'_>, t: NaiveTime) -> fmt::Result {
    if t.second() == 0 {
        write!(f, "{}", t.format("%H:%M"))
    } else {
        write!(f, "{}", t.format("%H:%M:%S"))
    }
}

impl fmt::Display for Relative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            None => write!(f, "at {}", self.anchor)?,
            Some(Offset {
                amount,
                unit,
                direction,
            }) => {
                let unit = if amount == 1 {
                    unit.singular()
                } else {
                    unit.plural()
                };
                let direction = match direction {
                    Direction::Before => "before",
                    Direction::After => "after",
                };
                write!(f, "{amount} {unit} {direction} {}", self.anchor)?;
            }
        }
        if let Some(at) = self.at {
            f.write_str(" at ")?;
            write_time_of_day(f, at)?;
        }
        Ok(())
    }
}

impl Unit {
    fn singular(self) -> &'static str {
        match self {
            Unit::Minutes => "minute",
            Unit::Hours => "hour",
            Unit::Days => "day",
            Unit::Weeks => "week",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Unit::Minutes => "minutes",
            Unit::Hours => "hours",
            Unit::Days => "days",
            Unit::Weeks => "weeks",
        }
    }
}

impl FromStr for Unit {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Unit::Minutes, Unit::Hours, Unit::Days, Unit::Weeks]
            .into_iter()
            .find(|u| s.eq_ignore_ascii_case(u.singular()) || s.eq_ignore_ascii_case(u.plural()))
            .ok_or_else(|| ScheduleError::UnknownUnit(s.to_string()))
    }
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Anchor::Start => "start",
            Anchor::End => "end",
            Anchor::BookingDeadline => "booking_deadline",
        })
    }
}

impl FromStr for Anchor {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "start" => Ok(Anchor::Start),
            "end" => Ok(Anchor::End),
            "booking_deadline" | "booking-deadline" => Ok(Anchor::BookingDeadline),
            _ => Err(ScheduleError::UnknownAnchor(s.to_string())),
        }
    }
}
