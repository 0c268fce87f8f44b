//! Publish times in an organisation's timezone.
//!
//! Every time a comms officer writes is local wall-clock time in the
//! organisation's timezone (default [`DEFAULT_TZ`], Europe/London) unless it
//! carries an explicit offset. Wall-clock times that do not exist (the
//! spring-forward gap) or happen twice (the autumn overlap) are resolved
//! explicitly here, never by accident. Nothing here reads the system clock:
//! "now" comes from a [`Clock`].
//!
//! # Schedule syntax
//!
//! [`Schedule::parse`] accepts three forms.
//!
//! **Once**, at a date and time: `2026-12-01 10:00`, `2026-12-01T10:00`,
//! `2026-12-01T10:00:00+01:00` (RFC 3339, offset wins over the timezone).
//! A local time in the spring-forward gap is an error; one in the autumn
//! overlap means the earlier instant.
//!
//! **Cadence**, a cron pattern of 5 fields (minute hour day-of-month month
//! day-of-week) or 6 (seconds first), read in local time, optionally
//! followed by `from YYYY-MM-DD` and/or `until YYYY-MM-DD` (local dates,
//! both inclusive):
//!
//! - `30 1 * * *` every day at 01:30
//! - `0 10 * * MON from 2026-12-01 until 2027-01-31` Mondays at 10:00 that winter
//! - `0 9 L * *` the last day of each month; `0 9 * * FRI#1` the first Friday
//!
//! The pattern language is croner's (`L`, `W`, `#`, `@daily`, names); when
//! both day-of-month and day-of-week are restricted, either one matching is
//! enough, as in Vixie cron. A time of day that falls in the spring-forward
//! gap fires once at the end of the gap (01:30 → 02:00 BST); one in the
//! autumn overlap fires once, at the earlier instant. Patterns with wildcard
//! or stepped times (`*/30 * * * *`) count real time, so they fire in both
//! halves of the overlap and skip the gap.
//!
//! **Relative** to an event's [`Anchors`] (`start`, `end`, `booking_deadline`):
//!
//! - `21 days before start at 10:00`: the local date 21 days before the
//!   event's local start date, at 10:00 local time
//! - `2 days after end at 09:00`, `1 week before booking_deadline at 12:00`
//! - `3 days before start`: same local wall-clock time as the start
//! - `1 hour before start`, `90 minutes after end`: elapsed time
//! - `at booking_deadline`
//!
//! Every schedule displays in a form that parses back to it.
//!
//! # Posting slots
//!
//! [`Slots`] hold recurring local times such as `Mon-Fri 09:30` or
//! `Sat,Sun 10:00`; [`Slots::next_free`] finds the first one not yet taken.

mod cadence;
mod clock;
mod error;
mod local;
mod relative;
mod schedule;
mod slots;

pub use cadence::{Cadence, CadenceFirings};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ScheduleError;
pub use local::{
    format_local, parse_datetime, resolve_forward, resolve_local, LocalTime, TimeError,
};
pub use relative::{Anchor, Anchors, Direction, Offset, Relative, Unit};
pub use schedule::{describe_firings, Firing, Firings, Once, Schedule};
pub use slots::{Slot, Slots};

use chrono_tz::Tz;

/// The timezone used when the organisation has not configured one.
pub const DEFAULT_TZ: Tz = chrono_tz::Europe::London;

/// Looks up an IANA timezone name such as `Europe/London`.
pub fn parse_tz(name: &str) -> Result<Tz, ScheduleError> {
    name.trim()
        .parse()
        .map_err(|_| ScheduleError::UnknownTimezone(name.to_string()))
}
