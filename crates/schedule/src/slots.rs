use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday, WeekdaySet};
use chrono_tz::Tz;

use crate::relative::{parse_time_of_day, write_time_of_day};
use crate::{resolve_forward, ScheduleError};

/// Recurring posting slots, e.g. `Mon-Fri 09:30`, `Sat,Sun 10:00`: a queue
/// of posts takes the next free slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slots {
    slots: Vec<Slot>,
}

/// Some weekdays at one local time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot {
    /// The weekdays it recurs on (never empty when parsed).
    pub days: WeekdaySet,
    /// Local time of day.
    pub time: NaiveTime,
}

impl Slots {
    /// Parses one slot per string; at least one is required.
    pub fn parse<I, S>(specs: I) -> Result<Self, ScheduleError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let slots = specs
            .into_iter()
            .map(|s| s.as_ref().parse())
            .collect::<Result<Vec<Slot>, _>>()?;
        if slots.is_empty() {
            return Err(ScheduleError::NoSlots);
        }
        Ok(Self { slots })
    }

    /// The slots, as parsed.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Every slot instant strictly after `after`, in order, without end.
    /// A slot in the spring-forward gap moves to the end of the gap; one in
    /// the autumn overlap happens once, at the earlier instant.
    pub fn instants_after(
        &self,
        after: DateTime<Utc>,
        tz: Tz,
    ) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        // The UTC date less a day is at or before the local date in every
        // zone, and unlike a conversion to local time it cannot overflow.
        let utc_date = after.date_naive();
        let first = Some(utc_date.pred_opt().unwrap_or(utc_date));
        std::iter::successors(first, |d| d.succ_opt()).flat_map(move |date| {
            let mut day: Vec<DateTime<Utc>> = self
                .slots
                .iter()
                .filter(|slot| slot.days.contains(date.weekday()))
                .map(|slot| resolve_forward(date.and_time(slot.time), tz))
                .filter(|t| *t > after)
                .collect();
            // Two gap times can move to the same instant.
            day.sort_unstable();
            day.dedup();
            day
        })
    }

    /// The first slot instant strictly after `after` that is not in `taken`.
    ///
    /// # Panics
    ///
    /// Only if every slot up to the end of chrono's calendar (year 262,142)
    /// is taken.
    pub fn next_free(
        &self,
        after: DateTime<Utc>,
        taken: &BTreeSet<DateTime<Utc>>,
        tz: Tz,
    ) -> DateTime<Utc> {
        self.instants_after(after, tz)
            .find(|t| !taken.contains(t))
            .expect("a finite set cannot take every slot before the calendar ends")
    }
}

impl FromStr for Slot {
    type Err = ScheduleError;

    /// Parses `<days> HH:MM`: days are names (`Mon`, `monday`), ranges
    /// (`Mon-Fri`, `Fri-Mon` wraps) or `daily`, joined by commas.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: String| ScheduleError::BadSlot {
            slot: s.to_string(),
            reason,
        };
        let words: Vec<&str> = s.split_whitespace().collect();
        let Some((time, days)) = words.split_last().filter(|(_, days)| !days.is_empty()) else {
            return Err(bad(
                "write weekdays then a time, e.g. `Mon-Fri 09:30`".into()
            ));
        };
        let time = parse_time_of_day(time).map_err(|e| bad(e.to_string()))?;
        let mut set = WeekdaySet::EMPTY;
        for item in days.concat().split(',').filter(|i| !i.is_empty()) {
            if item.eq_ignore_ascii_case("daily") {
                set = WeekdaySet::ALL;
                continue;
            }
            let (first, last) = item.split_once('-').unwrap_or((item, item));
            let day = |name: &str| {
                Weekday::from_str(name).map_err(|_| {
                    bad(format!(
                        "unknown weekday {name:?} (expected e.g. Mon, Tuesday, daily)"
                    ))
                })
            };
            let (first, last) = (day(first)?, day(last)?);
            set = set.union(span(first, last));
        }
        if set.is_empty() {
            return Err(bad("no weekdays given".into()));
        }
        Ok(Slot { days: set, time })
    }
}

/// `first` through `last`, wrapping past Sunday when `last` comes earlier.
fn span(first: Weekday, last: Weekday) -> WeekdaySet {
    let count = last.days_since(first) + 1;
    WeekdaySet::ALL.iter(first).take(count as usize).collect()
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.days == WeekdaySet::ALL {
            f.write_str("daily")?;
        } else {
            let names: Vec<String> = self
                .days
                .iter(Weekday::Mon)
                .map(|d| d.to_string())
                .collect();
            f.write_str(&names.join(","))?;
        }
        f.write_str(" ")?;
        write_time_of_day(f, self.time)
    }
}
