use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Year};
use croner::{Cron, YEAR_LOWER_LIMIT, YEAR_UPPER_LIMIT};

use crate::{resolve_forward, ScheduleError};

/// A repeating schedule: a cron pattern read in the organisation's
/// timezone, optionally limited to local dates `from` and `until`
/// (both inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cadence {
    pattern: String,
    /// One cron per explicit wall-clock time (see [`fixed_time_patterns`]),
    /// or the pattern itself.
    crons: Vec<Cron>,
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
}

/// More explicit times than this are left to croner as one pattern.
const MAX_EXPANDED_TIMES: usize = 64;

impl Cadence {
    /// Parses `<cron pattern> [from YYYY-MM-DD] [until YYYY-MM-DD]`.
    pub fn parse(s: &str) -> Result<Self, ScheduleError> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let split = words
            .iter()
            .position(|w| w.eq_ignore_ascii_case("from") || w.eq_ignore_ascii_case("until"))
            .unwrap_or(words.len());
        let pattern = words[..split].join(" ");
        if pattern.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let (from, until) = parse_range(&words[split..])?;
        let crons = compile(&pattern)?;
        Ok(Self {
            pattern,
            crons,
            from,
            until,
        })
    }

    /// The cron pattern as written (whitespace collapsed).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The first local date it may fire on.
    pub fn from(&self) -> Option<NaiveDate> {
        self.from
    }

    /// The last local date it may fire on.
    pub fn until(&self) -> Option<NaiveDate> {
        self.until
    }

    /// Firings strictly after `after`, in order, within the date range.
    /// Croner searches years 1 to 5000 only, so an `after` outside them
    /// (`DateTime::<Utc>::MIN_UTC`, say) counts from the nearer end.
    pub fn firings(&self, after: DateTime<Utc>, tz: Tz) -> CadenceFirings {
        // Clamping also keeps chrono from panicking when it converts the
        // extreme instants to local time. A day's margin covers any offset.
        let first_searched = Utc
            .with_ymd_and_hms(YEAR_LOWER_LIMIT, 1, 2, 0, 0, 0)
            .single();
        let last_searched = Utc
            .with_ymd_and_hms(YEAR_UPPER_LIMIT, 12, 30, 0, 0, 0)
            .single();
        let after = after.max(first_searched.unwrap_or(after));
        if last_searched.is_some_and(|last| after >= last) {
            return CadenceFirings {
                heads: Vec::new(),
                until: self.until,
            };
        }
        let first_day = self
            .from
            .map(|d| resolve_forward(d.and_time(NaiveTime::MIN), tz));
        // Starting at the range's first midnight, a firing at that very
        // instant counts; starting at `after`, it must be strictly later.
        let (start, inclusive) = match first_day {
            Some(t) if t > after => (t.with_timezone(&tz), true),
            _ => (after.with_timezone(&tz), false),
        };
        let heads = self
            .crons
            .iter()
            .map(|cron| {
                let next = cron.find_next_occurrence(&start, inclusive).ok();
                (cron.clone(), next)
            })
            .collect();
        CadenceFirings {
            heads,
            until: self.until,
        }
    }
}

fn parse_range(words: &[&str]) -> Result<(Option<NaiveDate>, Option<NaiveDate>), ScheduleError> {
    let (mut from, mut until) = (None, None);
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        let (keyword, slot) = match word.to_ascii_lowercase().as_str() {
            "from" => ("from", &mut from),
            "until" => ("until", &mut until),
            _ => return Err(ScheduleError::Trailing(word.to_string())),
        };
        if slot.is_some() {
            return Err(ScheduleError::Repeated(keyword));
        }
        let value = rest.next().ok_or(ScheduleError::MissingDate(keyword))?;
        let date =
            NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| ScheduleError::BadDate {
                keyword,
                value: value.to_string(),
            })?;
        *slot = Some(date);
    }
    if let (Some(from), Some(until)) = (from, until) {
        if until < from {
            return Err(ScheduleError::UntilBeforeFrom { from, until });
        }
    }
    Ok((from, until))
}

fn compile(pattern: &str) -> Result<Vec<Cron>, ScheduleError> {
    // Croner accepts an optional seventh (year) field; the syntax promised
    // here is 5 or 6 fields.
    let parser = CronParser::builder().year(Year::Disallowed).build();
    let parse = |p: &str| {
        parser.parse(p).map_err(|e| ScheduleError::Cron {
            pattern: pattern.to_string(),
            message: e.to_string(),
        })
    };
    let whole = parse(pattern)?;
    // Any start date works: a pattern that can fire does so within a few
    // years (29 February within eight), and croner gives up on one that
    // cannot.
    let probe = DateTime::UNIX_EPOCH;
    if whole.find_next_occurrence(&probe, true).is_err() {
        return Err(ScheduleError::NeverFires(pattern.to_string()));
    }
    match fixed_time_patterns(pattern) {
        Some(parts) => parts.iter().map(|p| parse(p)).collect(),
        None => Ok(vec![whole]),
    }
}

/// Splits a pattern whose time fields are plain lists (`30 1,13 * * *`)
/// into one pattern per wall-clock time.
///
/// Croner treats a pattern as a fixed-time job only when it names exactly
/// one time of day; any list counts as an interval, which fires twice in the
/// autumn overlap and not at all in the spring gap. A list of times is a
/// list of fixed times, so each gets its own cron.
fn fixed_time_patterns(pattern: &str) -> Option<Vec<String>> {
    let fields: Vec<&str> = pattern.split_whitespace().collect();
    let time_fields = match fields.len() {
        5 => 2,
        6 => 3,
        _ => return None,
    };
    let is_list = |f: &str| f.chars().all(|c| c.is_ascii_digit() || c == ',');
    if !fields[..time_fields].iter().all(|f| is_list(f)) {
        return None;
    }
    let mut combos: Vec<String> = vec![String::new()];
    for field in &fields[..time_fields] {
        let values: Vec<&str> = field.split(',').collect();
        if combos.len() * values.len() > MAX_EXPANDED_TIMES {
            return None;
        }
        combos = combos
            .iter()
            .flat_map(|prefix| values.iter().map(move |v| format!("{prefix}{v} ")))
            .collect();
    }
    if combos.len() < 2 {
        return None;
    }
    let date_fields = fields[time_fields..].join(" ");
    Some(combos.into_iter().map(|c| c + &date_fields).collect())
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)?;
        if let Some(from) = self.from {
            write!(f, " from {from}")?;
        }
        if let Some(until) = self.until {
            write!(f, " until {until}")?;
        }
        Ok(())
    }
}

/// The firings of a [`Cadence`], in chronological order.
#[derive(Debug, Clone)]
pub struct CadenceFirings {
    /// Each cron with its next firing not yet yielded.
    heads: Vec<(Cron, Option<DateTime<Tz>>)>,
    until: Option<NaiveDate>,
}

impl Iterator for CadenceFirings {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        let next = self.heads.iter().filter_map(|(_, t)| *t).min()?;
        if self.until.is_some_and(|until| next.date_naive() > until) {
            self.heads.clear();
            return None;
        }
        // Advance every cron that lands on this instant (two gap times can
        // both move to the end of the gap), so it is yielded once.
        for (cron, head) in &mut self.heads {
            if *head == Some(next) {
                *head = cron.find_next_occurrence(&next, false).ok();
            }
        }
        Some(next.with_timezone(&Utc))
    }
}
