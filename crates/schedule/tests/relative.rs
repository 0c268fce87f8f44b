//! Schedules relative to an event, resolved in Europe/London.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Europe::London;
use crier_schedule::{Anchor, Anchors, Clock, ManualClock, Schedule, ScheduleError};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn resolve(schedule: &str, anchors: &Anchors) -> Result<DateTime<Utc>, ScheduleError> {
    match Schedule::parse(schedule, London)? {
        Schedule::Relative(relative) => relative.resolve(anchors, London),
        other => panic!("{schedule} parsed as {other:?}"),
    }
}

/// Starts Tue 2026-11-10 09:30 GMT, ends 16:00, booking closes 3 November 17:00.
fn training_day() -> Anchors {
    Anchors {
        start: utc("2026-11-10T09:30:00Z"),
        end: Some(utc("2026-11-10T16:00:00Z")),
        booking_deadline: Some(utc("2026-11-03T17:00:00Z")),
    }
}

#[test]
fn days_before_at_a_time_is_local_time_on_the_local_date() {
    // 20 October is still BST, so 10:00 local is 09:00 UTC.
    let t = resolve("21 days before start at 10:00", &training_day()).unwrap();
    assert_eq!(t, utc("2026-10-20T09:00:00Z"));
    let t = resolve("3 days before start at 09:00", &training_day()).unwrap();
    assert_eq!(t, utc("2026-11-07T09:00:00Z"));
    let t = resolve("2 days after end at 09:00", &training_day()).unwrap();
    assert_eq!(t, utc("2026-11-12T09:00:00Z"));
    let t = resolve("1 week before booking_deadline at 12:00", &training_day()).unwrap();
    assert_eq!(t, utc("2026-10-27T12:00:00Z"));
}

#[test]
fn days_keep_the_wall_clock_while_hours_count_elapsed_time() {
    let anchors = Anchors::starting(utc("2026-10-25T09:30:00Z")); // 09:30 GMT
    let day = resolve("1 day before start", &anchors).unwrap();
    assert_eq!(day, utc("2026-10-24T08:30:00Z")); // 09:30 BST
    let hours = resolve("24 hours before start", &anchors).unwrap();
    assert_eq!(hours, utc("2026-10-24T09:30:00Z")); // 10:30 BST
    let t = resolve("1 hour before start", &training_day()).unwrap();
    assert_eq!(t, utc("2026-11-10T08:30:00Z"));
    let t = resolve("90 minutes after end", &training_day()).unwrap();
    assert_eq!(t, utc("2026-11-10T17:30:00Z"));
}

#[test]
fn at_an_anchor_is_that_instant() {
    let t = resolve("at booking_deadline", &training_day()).unwrap();
    assert_eq!(t, utc("2026-11-03T17:00:00Z"));
    let err = resolve(
        "at booking_deadline",
        &Anchors::starting(utc("2026-11-10T09:30:00Z")),
    );
    assert_eq!(
        err,
        Err(ScheduleError::MissingAnchor(Anchor::BookingDeadline))
    );
    assert_eq!(
        err.unwrap_err().to_string(),
        "the event has no booking_deadline time"
    );
}

#[test]
fn a_time_in_the_spring_gap_moves_to_the_end_of_the_gap() {
    let anchors = Anchors::starting(utc("2026-03-30T09:00:00Z"));
    let t = resolve("1 day before start at 01:30", &anchors).unwrap();
    assert_eq!(t, utc("2026-03-29T01:00:00Z")); // 02:00 BST
}

#[test]
fn relative_firings_need_the_event() {
    let schedule = Schedule::parse("21 days before start at 10:00", London).unwrap();
    let clock = ManualClock::new(utc("2026-10-01T00:00:00Z"));
    let err = schedule.upcoming(&clock, London).unwrap_err();
    assert!(err.to_string().contains("relative to an event"), "{err}");

    let upcoming = |now| -> Vec<DateTime<Utc>> {
        schedule
            .firings_for(now, &training_day(), London)
            .unwrap()
            .collect()
    };
    assert_eq!(upcoming(clock.now()), [utc("2026-10-20T09:00:00Z")]);
    // At the firing instant itself it is due, no longer upcoming.
    clock.advance(TimeDelta::days(19) + TimeDelta::hours(9));
    assert!(upcoming(clock.now()).is_empty());
}
