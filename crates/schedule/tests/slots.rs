//! Posting slots in Europe/London.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use chrono_tz::Europe::London;
use crier_schedule::{format_local, ScheduleError, Slots};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// Queues `count` posts after `after`, each taking the next free slot.
fn fill(
    slots: &Slots,
    count: usize,
    after: &str,
    taken: &mut BTreeSet<DateTime<Utc>>,
) -> Vec<String> {
    (0..count)
        .map(|_| {
            let slot = slots.next_free(utc(after), taken, London);
            taken.insert(slot);
            format_local(slot, London)
        })
        .collect()
}

#[test]
fn filling_skips_taken_slots_and_wraps_over_the_weekend_and_the_clock_change() {
    let slots = Slots::parse(["Mon-Fri 09:30", "Mon-Fri 12:15", "Sat 10:00"]).unwrap();
    // Friday 27 March, noon GMT; the clocks go forward early on Sunday.
    let mut taken = BTreeSet::from([utc("2026-03-27T12:15:00Z"), utc("2026-03-30T08:30:00Z")]);
    let placed = fill(&slots, 4, "2026-03-27T12:00:00Z", &mut taken);
    assert_eq!(
        placed,
        [
            "Sat 2026-03-28 10:00 GMT",
            "Mon 2026-03-30 12:15 BST",
            "Tue 2026-03-31 09:30 BST",
            "Tue 2026-03-31 12:15 BST",
        ]
    );
    assert!(taken.contains(&utc("2026-03-30T11:15:00Z")));
}

#[test]
fn slot_times_are_strictly_after_the_given_instant() {
    let slots = Slots::parse(["Mon-Fri 09:30"]).unwrap();
    let none = BTreeSet::new();
    let at_slot = utc("2026-07-01T08:30:00Z"); // Wed 09:30 BST
    assert_eq!(
        slots.next_free(at_slot, &none, London),
        utc("2026-07-02T08:30:00Z")
    );
    // Friday after the slot wraps to Monday.
    let friday = utc("2026-07-03T10:00:00Z");
    assert_eq!(
        slots.next_free(friday, &none, London),
        utc("2026-07-06T08:30:00Z")
    );
}

#[test]
fn weekly_slot_in_the_gap_and_the_overlap() {
    let slots = Slots::parse(["Sun 01:30"]).unwrap();
    let weeks: Vec<String> = slots
        .instants_after(utc("2026-03-21T00:00:00Z"), London)
        .take(3)
        .map(|t| format_local(t, London))
        .collect();
    // 01:30 does not exist on 29 March; the slot opens as the clocks land.
    assert_eq!(
        weeks,
        [
            "Sun 2026-03-22 01:30 GMT",
            "Sun 2026-03-29 02:00 BST",
            "Sun 2026-04-05 01:30 BST"
        ]
    );
    let weeks: Vec<DateTime<Utc>> = slots
        .instants_after(utc("2026-10-24T00:00:00Z"), London)
        .take(2)
        .collect();
    // 01:30 happens twice on 25 October; the slot is there once.
    assert_eq!(
        weeks,
        [utc("2026-10-25T00:30:00Z"), utc("2026-11-01T01:30:00Z")]
    );
}

#[test]
fn extreme_instants_do_not_panic() {
    let slots = Slots::parse(["daily 09:00"]).unwrap();
    let early = slots.next_free(DateTime::<Utc>::MIN_UTC, &BTreeSet::new(), London);
    assert!(early > DateTime::<Utc>::MIN_UTC);
    let tokyo = chrono_tz::Asia::Tokyo;
    let mut late = slots.instants_after(DateTime::<Utc>::MAX_UTC, tokyo);
    assert_eq!(late.next(), None);
}

#[test]
fn two_slots_in_the_gap_share_one_instant() {
    let slots = Slots::parse(["Sun 01:15", "Sun 01:45"]).unwrap();
    let end_of_gap = utc("2026-03-29T01:00:00Z");
    let taken = BTreeSet::from([end_of_gap]);
    let next = slots.next_free(utc("2026-03-28T12:00:00Z"), &taken, London);
    assert_eq!(next, utc("2026-04-05T00:15:00Z"));
}

#[test]
fn weekday_lists_ranges_and_wrapping_ranges() {
    let slots = Slots::parse(["Fri-Mon 08:00", "tue,Thursday 18:00:30", "daily 07:00"]).unwrap();
    let shown: Vec<String> = slots.slots().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["Mon,Fri,Sat,Sun 08:00", "Tue,Thu 18:00:30", "daily 07:00"]
    );
    let reparsed = Slots::parse(&shown).unwrap();
    assert_eq!(reparsed, slots);
}

#[test]
fn malformed_slots_say_what_is_wrong() {
    let err = |spec: &str| Slots::parse([spec]).unwrap_err().to_string();
    assert_eq!(
        err("Funday 09:00"),
        "posting slot \"Funday 09:00\": unknown weekday \"Funday\" (expected e.g. Mon, Tuesday, daily)"
    );
    assert!(
        err("Mon-Fri").contains("write weekdays then a time"),
        "{}",
        err("Mon-Fri")
    );
    assert!(
        err("Mon 9h30").contains("\"9h30\" is not a time of day"),
        "{}",
        err("Mon 9h30")
    );
    assert!(err("Mon-Fri 24:00").contains("not a time of day"));
    assert_eq!(
        Slots::parse(Vec::<String>::new()),
        Err(ScheduleError::NoSlots)
    );
}
