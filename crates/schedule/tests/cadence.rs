//! Cron cadences in Europe/London across the 2026 clock changes
//! (29 March 01:00 GMT -> 02:00 BST; 25 October 02:00 BST -> 01:00 GMT).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Europe::London;
use crier_schedule::{format_local, Schedule};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn between(schedule: &str, after: &str, until: &str) -> Vec<DateTime<Utc>> {
    let end = utc(until);
    Schedule::parse(schedule, London)
        .unwrap()
        .firings(utc(after), London)
        .unwrap()
        .take_while(|t| *t <= end)
        .collect()
}

fn assert_strictly_increasing(times: &[DateTime<Utc>]) {
    for pair in times.windows(2) {
        assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
    }
}

#[test]
fn daily_0130_fires_once_every_day_across_both_clock_changes() {
    let times = between("30 1 * * *", "2026-03-27T00:00:00Z", "2026-10-27T00:00:00Z");
    assert_strictly_increasing(&times);

    let mut per_day: BTreeMap<NaiveDate, Vec<DateTime<Utc>>> = BTreeMap::new();
    for t in &times {
        per_day
            .entry(t.with_timezone(&London).date_naive())
            .or_default()
            .push(*t);
    }
    let first = NaiveDate::from_ymd_opt(2026, 3, 27).unwrap();
    let last = NaiveDate::from_ymd_opt(2026, 10, 26).unwrap();
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
    assert_eq!(per_day.keys().copied().collect::<Vec<_>>(), days);
    assert!(per_day.values().all(|v| v.len() == 1));

    let on = |y, m, d| per_day[&NaiveDate::from_ymd_opt(y, m, d).unwrap()][0];
    // 01:30 does not exist on 29 March: it runs as the clocks land, 02:00 BST.
    assert_eq!(on(2026, 3, 28), utc("2026-03-28T01:30:00Z"));
    assert_eq!(on(2026, 3, 29), utc("2026-03-29T01:00:00Z"));
    assert_eq!(
        format_local(on(2026, 3, 29), London),
        "Sun 2026-03-29 02:00 BST"
    );
    assert_eq!(on(2026, 3, 30), utc("2026-03-30T00:30:00Z"));
    // 01:30 happens twice on 25 October: it runs at the first, 01:30 BST.
    assert_eq!(on(2026, 10, 25), utc("2026-10-25T00:30:00Z"));
    assert_eq!(
        format_local(on(2026, 10, 25), London),
        "Sun 2026-10-25 01:30 BST"
    );
    assert_eq!(on(2026, 10, 26), utc("2026-10-26T01:30:00Z"));
}

#[test]
fn a_list_of_times_fires_once_per_time_on_clock_change_days() {
    // Croner alone treats a list of hours as an interval job: twice at 01:30
    // in October, never in March. Each listed time fires once here.
    for (day, expected) in [
        (
            "2026-03-29",
            ["2026-03-29T01:00:00Z", "2026-03-29T12:30:00Z"],
        ),
        (
            "2026-10-25",
            ["2026-10-25T00:30:00Z", "2026-10-25T13:30:00Z"],
        ),
    ] {
        let times = between(
            "30 1,13 * * *",
            &format!("{day}T00:00:00Z"),
            &format!("{day}T23:00:00Z"),
        );
        assert_eq!(times, expected.map(utc), "{day}");
    }
    // Two listed times in the gap both move to its end, and fire once there.
    let times = between(
        "15,45 1 * * *",
        "2026-03-29T00:00:00Z",
        "2026-03-29T23:00:00Z",
    );
    assert_eq!(times, vec![utc("2026-03-29T01:00:00Z")]);
}

#[test]
fn every_30_minutes_counts_real_time_through_both_clock_changes() {
    for (after, until) in [
        ("2026-10-24T23:00:00Z", "2026-10-25T03:00:00Z"),
        ("2026-03-28T23:00:00Z", "2026-03-29T03:00:00Z"),
    ] {
        let times = between("*/30 * * * *", after, until);
        assert_strictly_increasing(&times);
        let expected: Vec<DateTime<Utc>> = (1..=8)
            .map(|n| utc(after) + TimeDelta::minutes(30 * n))
            .collect();
        assert_eq!(times, expected, "from {after}");
    }
    // In October 01:00 and 01:30 each come round twice, an hour apart.
    let locals: Vec<String> = between(
        "*/30 * * * *",
        "2026-10-24T23:45:00Z",
        "2026-10-25T01:45:00Z",
    )
    .into_iter()
    .map(|t| format_local(t, London))
    .collect();
    assert_eq!(
        locals,
        [
            "Sun 2026-10-25 01:00 BST",
            "Sun 2026-10-25 01:30 BST",
            "Sun 2026-10-25 01:00 GMT",
            "Sun 2026-10-25 01:30 GMT",
        ]
    );
}

#[test]
fn leap_day_pattern_waits_for_the_next_leap_year() {
    let next = between("0 9 29 2 *", "2026-01-01T00:00:00Z", "2100-01-01T00:00:00Z");
    assert_eq!(next[0], utc("2028-02-29T09:00:00Z"));
    assert_eq!(format_local(next[0], London), "Tue 2028-02-29 09:00 GMT");
    assert_eq!(next[1], utc("2032-02-29T09:00:00Z"));
}

#[test]
fn range_includes_its_first_and_last_days_and_then_stops() {
    let schedule = "0 10 * * MON from 2026-12-01 until 2027-01-25";
    let all = between(schedule, "2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z");
    let dates: Vec<String> = all.iter().map(|t| t.format("%m-%d").to_string()).collect();
    assert_eq!(
        dates,
        ["12-07", "12-14", "12-21", "12-28", "01-04", "01-11", "01-18", "01-25"]
    );
    assert_eq!(all.last(), Some(&utc("2027-01-25T10:00:00Z")));

    // A firing at the first instant of `from` counts; `until` is local, so a
    // BST evening that is already the next day in UTC still belongs to it.
    let midnight = between(
        "0 0 * * * from 2026-06-01 until 2026-06-02",
        "2026-05-01T00:00:00Z",
        "2030-01-01T00:00:00Z",
    );
    assert_eq!(
        midnight,
        [utc("2026-05-31T23:00:00Z"), utc("2026-06-01T23:00:00Z")]
    );

    // Asked from inside the range, it starts strictly after that instant.
    let inside = between(schedule, "2027-01-18T10:00:00Z", "2030-01-01T00:00:00Z");
    assert_eq!(inside, [utc("2027-01-25T10:00:00Z")]);
}

#[test]
fn extreme_starting_instants_neither_panic_nor_search_forever() {
    let firings = |after: DateTime<Utc>| -> Vec<DateTime<Utc>> {
        let range = Schedule::parse("0 10 * * MON from 2026-12-01 until 2026-12-14", London);
        range.unwrap().firings(after, London).unwrap().collect()
    };
    let expected = [utc("2026-12-07T10:00:00Z"), utc("2026-12-14T10:00:00Z")];
    assert_eq!(firings(DateTime::<Utc>::MIN_UTC), expected);
    assert!(firings(DateTime::<Utc>::MAX_UTC).is_empty());

    let unbounded = Schedule::parse("0 10 * * MON", London).unwrap();
    let first = unbounded
        .firings(DateTime::<Utc>::MIN_UTC, London)
        .unwrap()
        .next();
    assert_eq!(
        first.map(|t| t.format("%Y").to_string()),
        Some("0001".to_string())
    );
}

#[test]
fn six_field_patterns_have_seconds() {
    let times = between(
        "15 30 9 * * *",
        "2026-07-01T00:00:00Z",
        "2026-07-01T23:00:00Z",
    );
    assert_eq!(times, [utc("2026-07-01T08:30:15Z")]);
    assert_eq!(
        format_local(times[0], London),
        "Wed 2026-07-01 09:30:15 BST"
    );
}
