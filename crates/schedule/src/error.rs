use chrono::NaiveDate;

use crate::TimeError;

/// Why a schedule, slot list or event could not be used. Each message names
/// the offending text and what was expected instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("empty schedule; write a date and time, a cron pattern or e.g. `3 days before start at 09:00`")]
    Empty,
    #[error(transparent)]
    Time(#[from] TimeError),
    #[error("cron pattern `{pattern}`: {message}")]
    Cron { pattern: String, message: String },
    #[error("cron pattern `{0}` never fires")]
    NeverFires(String),
    #[error("{keyword} date {value:?} is not a date; write YYYY-MM-DD")]
    BadDate {
        keyword: &'static str,
        value: String,
    },
    #[error("`{0}` needs a date after it, e.g. `{0} 2026-12-01`")]
    MissingDate(&'static str),
    #[error("`{0}` is given twice")]
    Repeated(&'static str),
    #[error("until {until} is before from {from}")]
    UntilBeforeFrom { from: NaiveDate, until: NaiveDate },
    #[error("unknown anchor {0:?} (expected start, end or booking_deadline)")]
    UnknownAnchor(String),
    #[error("unknown unit {0:?} (expected minutes, hours, days or weeks)")]
    UnknownUnit(String),
    #[error("{0:?} is not a number of minutes, hours, days or weeks")]
    BadAmount(String),
    #[error("expected `before` or `after`, found {0}")]
    ExpectedDirection(String),
    #[error("{0:?} is not a time of day; write HH:MM, e.g. 09:30")]
    BadTimeOfDay(String),
    #[error("`at HH:MM` needs an offset in days or weeks, not {0}")]
    AtNeedsDays(&'static str),
    #[error("unexpected {0:?} at the end of the schedule")]
    Trailing(String),
    #[error("the event has no {0} time")]
    MissingAnchor(crate::Anchor),
    #[error("`{0}` is relative to an event; give the event's start (and end or booking deadline)")]
    NeedsAnchors(String),
    #[error("`{0}` lands outside the dates this calendar can represent")]
    OutOfRange(String),
    #[error("posting slot {slot:?}: {reason}")]
    BadSlot { slot: String, reason: String },
    #[error("no posting slots given; write e.g. `Mon-Fri 09:30`")]
    NoSlots,
    #[error("unknown timezone {0:?}; use an IANA name such as Europe/London")]
    UnknownTimezone(String),
}
