//! Schedule syntax: round trips, error messages and `crier when` output.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::London;
use crier_schedule::{describe_firings, parse_tz, Schedule, ScheduleError, TimeError};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn error(s: &str) -> ScheduleError {
    Schedule::parse(s, London).unwrap_err()
}

#[test]
fn each_form_parses_to_its_kind() {
    let kind = |s: &str| match Schedule::parse(s, London).unwrap() {
        Schedule::Once(_) => "once",
        Schedule::Cadence(_) => "cadence",
        Schedule::Relative(_) => "relative",
    };
    assert_eq!(kind("2026-12-01 10:00"), "once");
    assert_eq!(kind("2026-12-01T10:00"), "once");
    assert_eq!(kind("2026-12-01T10:00:00+01:00"), "once");
    assert_eq!(kind("30 1 * * *"), "cadence");
    assert_eq!(
        kind("0 10 * * MON from 2026-12-01 until 2027-01-31"),
        "cadence"
    );
    assert_eq!(kind("0 9 L * *"), "cadence");
    assert_eq!(kind("0 9 * * FRI#1"), "cadence");
    assert_eq!(kind("@daily"), "cadence");
    assert_eq!(kind("21 days before start at 10:00"), "relative");
    assert_eq!(kind("at booking_deadline"), "relative");
}

#[test]
fn display_round_trips() {
    for (input, shown) in [
        ("2026-12-01 10:00", "2026-12-01 10:00"),
        ("2026-12-01T10:00", "2026-12-01 10:00"),
        ("2026-12-01T10:00:05", "2026-12-01 10:00:05"),
        ("2026-12-01T10:00:00+01:00", "2026-12-01T10:00:00+01:00"),
        ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z"),
        ("30  1 * *   *", "30 1 * * *"),
        (
            "0 10 * * MON until 2027-01-31 FROM 2026-12-01",
            "0 10 * * MON from 2026-12-01 until 2027-01-31",
        ),
        (
            "21 Days Before Start at 10:00",
            "21 days before start at 10:00",
        ),
        ("1 hours before start", "1 hour before start"),
        ("2 day after end at 9:00", "2 days after end at 09:00"),
        ("at booking-deadline", "at booking_deadline"),
    ] {
        let parsed = Schedule::parse(input, London).unwrap();
        assert_eq!(parsed.to_string(), shown, "{input}");
        assert_eq!(Schedule::parse(shown, London).unwrap(), parsed, "{input}");
    }
}

#[test]
fn once_fires_only_if_still_ahead() {
    let once: Schedule = "2026-12-01 10:00".parse().unwrap();
    let before: Vec<_> = once
        .firings(utc("2026-11-30T00:00:00Z"), London)
        .unwrap()
        .collect();
    assert_eq!(before, [utc("2026-12-01T10:00:00Z")]);
    let after = once
        .firings(utc("2026-12-01T10:00:00Z"), London)
        .unwrap()
        .count();
    assert_eq!(after, 0);
    // The later 01:30 of 25 October, written with its offset, stays the later one.
    let later = Schedule::parse("2026-10-25T01:30:00+00:00", London).unwrap();
    let shown = later.to_string();
    let again = Schedule::parse(&shown, London).unwrap();
    let first: Vec<_> = again
        .firings(utc("2026-10-25T00:00:00Z"), London)
        .unwrap()
        .collect();
    assert_eq!(first, [utc("2026-10-25T01:30:00Z")]);
}

#[test]
fn malformed_absolute_times() {
    assert!(matches!(
        error("2026-02-30 10:00"),
        ScheduleError::Time(TimeError::Syntax(_))
    ));
    assert!(matches!(
        error("2026-12-01 10:00 until 2027-01-01"),
        ScheduleError::Time(TimeError::Syntax(_))
    ));
    let gap = error("2026-03-29 01:30");
    assert!(matches!(gap, ScheduleError::Time(TimeError::Gap { .. })));
    assert!(
        gap.to_string().contains("does not exist in Europe/London"),
        "{gap}"
    );
    assert_eq!(error("   "), ScheduleError::Empty);
}

#[test]
fn malformed_cadences() {
    let croner = |s: &str| match error(s) {
        ScheduleError::Cron { pattern, message } => {
            assert_eq!(pattern, s);
            message
        }
        other => panic!("{s}: {other:?}"),
    };
    assert!(
        croner("61 * * * *").contains("out of bounds"),
        "{}",
        croner("61 * * * *")
    );
    assert!(
        croner("* * * *").contains("5 or 6 fields"),
        "{}",
        croner("* * * *")
    );
    assert!(croner("0 0 * * * * 2027").contains("5 or 6 fields"));
    assert!(
        croner("0 10 * * FUNDAY").contains("illegal"),
        "{}",
        croner("0 10 * * FUNDAY")
    );
    assert_eq!(
        error("0 0 30 2 *").to_string(),
        "cron pattern `0 0 30 2 *` never fires"
    );
    assert_eq!(
        error("0 10 * * MON from 2027-01-31 until 2026-12-01").to_string(),
        "until 2026-12-01 is before from 2027-01-31"
    );
    assert_eq!(
        error("0 10 * * MON from 2026-13-01").to_string(),
        "from date \"2026-13-01\" is not a date; write YYYY-MM-DD"
    );
    assert_eq!(
        error("0 10 * * MON until"),
        ScheduleError::MissingDate("until")
    );
    assert_eq!(
        error("0 10 * * MON from 2026-12-01 from 2026-12-02"),
        ScheduleError::Repeated("from")
    );
    assert_eq!(
        error("0 10 * * MON from 2026-12-01 weekly"),
        ScheduleError::Trailing("weekly".into())
    );
    assert_eq!(error("from 2026-12-01"), ScheduleError::Empty);
}

#[test]
fn malformed_relative_schedules() {
    let message = |s: &str| error(s).to_string();
    assert_eq!(
        message("21 days before begin at 10:00"),
        "unknown anchor \"begin\" (expected start, end or booking_deadline)"
    );
    assert_eq!(
        message("at"),
        "unknown anchor \"\" (expected start, end or booking_deadline)"
    );
    assert_eq!(
        message("2 fortnights before start"),
        "unknown unit \"fortnights\" (expected minutes, hours, days or weeks)"
    );
    assert_eq!(
        message("3 days befor start"),
        "expected `before` or `after`, found \"befor\""
    );
    assert_eq!(
        message("3 days"),
        "expected `before` or `after`, found nothing"
    );
    assert_eq!(
        message("three days before start"),
        "\"three\" is not a number of minutes, hours, days or weeks"
    );
    assert_eq!(
        message("3 days before start at 25:00"),
        "\"25:00\" is not a time of day; write HH:MM, e.g. 09:30"
    );
    assert_eq!(
        message("2 hours before start at 10:00"),
        "`at HH:MM` needs an offset in days or weeks, not hours"
    );
    assert_eq!(
        message("1 day before start at 10:00 sharp"),
        "unexpected \"sharp\" at the end of the schedule"
    );
    assert_eq!(
        message("1 day before start on monday"),
        "unexpected \"on\" at the end of the schedule"
    );
}

#[test]
fn describe_firings_shows_local_time_with_the_zone() {
    let daily = Schedule::parse("30 1 * * *", London).unwrap();
    let firings = describe_firings(&daily, utc("2026-03-27T12:00:00Z"), 4, London).unwrap();
    let locals: Vec<&str> = firings.iter().map(|f| f.local.as_str()).collect();
    assert_eq!(
        locals,
        [
            "Sat 2026-03-28 01:30 GMT",
            "Sun 2026-03-29 02:00 BST",
            "Mon 2026-03-30 01:30 BST",
            "Tue 2026-03-31 01:30 BST",
        ]
    );
    assert_eq!(firings[1].utc, utc("2026-03-29T01:00:00Z"));

    let relative = Schedule::parse("at start", London).unwrap();
    let err = describe_firings(&relative, utc("2026-03-27T12:00:00Z"), 4, London).unwrap_err();
    assert!(matches!(err, ScheduleError::NeedsAnchors(_)));
}

#[test]
fn timezones_by_name() {
    assert_eq!(parse_tz(" Europe/London ").unwrap(), London);
    assert_eq!(
        parse_tz("Europe/Londres").unwrap_err().to_string(),
        "unknown timezone \"Europe/Londres\"; use an IANA name such as Europe/London"
    );
}
