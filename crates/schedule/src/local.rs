use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;

/// A parsed publish time: the instant, plus a note when the wall-clock time
/// was ambiguous and the earlier of the two instants was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// The instant meant.
    pub instant: DateTime<Utc>,
    /// Set when the local time occurred twice (clocks went back).
    pub ambiguous: bool,
}

/// Why a date and time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}` is not a date and time; write e.g. `2026-12-01 10:00` or `2026-12-01T10:00:00+00:00`")]
    Syntax(String),
    #[error(
        "{time} does not exist in {tz}: the clocks go forward then; pick a time outside the gap"
    )]
    Gap { time: NaiveDateTime, tz: Tz },
}

const NAIVE_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
];

/// Parses `2026-12-01 10:00`, `2026-12-01T10:00:00`, a bare date (midnight),
/// or RFC 3339 with an offset. Times without an offset are local to `tz`.
pub fn parse_datetime(input: &str, tz: Tz) -> Result<LocalTime, TimeError> {
    let s = input.trim();
    if let Ok(dt) = DateTime::<FixedOffset>::parse_from_rfc3339(s) {
        return Ok(LocalTime {
            instant: dt.with_timezone(&Utc),
            ambiguous: false,
        });
    }
    let naive = NAIVE_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| TimeError::Syntax(s.to_string()))?;
    resolve_local(naive, tz)
}

/// Maps a wall-clock time in `tz` to an instant: a gap is an error, an
/// overlap takes the earlier instant and says so.
pub fn resolve_local(naive: NaiveDateTime, tz: Tz) -> Result<LocalTime, TimeError> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(LocalTime {
            instant: t.with_timezone(&Utc),
            ambiguous: false,
        }),
        LocalResult::Ambiguous(early, _) => Ok(LocalTime {
            instant: early.with_timezone(&Utc),
            ambiguous: true,
        }),
        LocalResult::None => Err(TimeError::Gap { time: naive, tz }),
    }
}

/// Maps a wall-clock time in `tz` to an instant for something that must
/// still happen: a time in the spring-forward gap moves to the first instant
/// after the gap (01:30 on a London spring-forward day is 02:00 BST), and a
/// time that happens twice takes the earlier instant, so it fires once.
pub fn resolve_forward(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(early, _) => early.with_timezone(&Utc),
        LocalResult::None => end_of_gap(naive, tz),
    }
}

/// The instant the clocks jump, for a wall-clock time inside the jump.
fn end_of_gap(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    let offset_secs =
        |utc: NaiveDateTime| i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc());
    let before = offset_secs(naive - TimeDelta::days(1));
    let after = offset_secs(naive + TimeDelta::days(1));
    let local_at = |secs: i64| {
        DateTime::from_timestamp(secs, 0)
            .map(|t| t.naive_utc() + TimeDelta::seconds(offset_secs(t.naive_utc())))
    };
    // Read with the later offset, `naive` names an instant before the jump;
    // with the earlier offset, one at or after it. Bisect between the two
    // for the first instant whose wall clock has passed `naive`.
    let mut lo = (naive - TimeDelta::seconds(after)).and_utc().timestamp();
    let mut hi = (naive - TimeDelta::seconds(before)).and_utc().timestamp();
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match local_at(mid) {
            Some(local) if local >= naive => hi = mid,
            _ => lo = mid,
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or_else(|| naive.and_utc())
}

/// Formats an instant as a person in `tz` reads it, e.g.
/// `Sun 2026-03-29 02:00 BST`; seconds appear only when not zero.
pub fn format_local(instant: DateTime<Utc>, tz: Tz) -> String {
    let local = instant.with_timezone(&tz);
    let format = if local.second() == 0 {
        "%a %Y-%m-%d %H:%M %Z"
    } else {
        "%a %Y-%m-%d %H:%M:%S %Z"
    };
    local.format(format).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::London;

    #[test]
    fn local_time_in_summer_is_bst() {
        let t = parse_datetime("2026-07-01 10:00", London).unwrap();
        assert_eq!(t.instant.to_rfc3339(), "2026-07-01T09:00:00+00:00");
        assert!(!t.ambiguous);
    }

    #[test]
    fn explicit_offset_wins() {
        let t = parse_datetime("2026-07-01T10:00:00Z", London).unwrap();
        assert_eq!(t.instant.to_rfc3339(), "2026-07-01T10:00:00+00:00");
    }

    #[test]
    fn gap_is_an_error_and_overlap_takes_the_earlier() {
        assert!(matches!(
            parse_datetime("2026-03-29 01:30", London),
            Err(TimeError::Gap { .. })
        ));
        let t = parse_datetime("2026-10-25 01:30", London).unwrap();
        assert!(t.ambiguous);
        assert_eq!(t.instant.to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }

    #[test]
    fn forward_resolution_moves_gap_times_past_the_gap() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        for gap_time in [
            "2026-03-29 01:00:00",
            "2026-03-29 01:30:00",
            "2026-03-29 01:59:59",
        ] {
            let t = resolve_forward(at(gap_time), London);
            assert_eq!(t.to_rfc3339(), "2026-03-29T01:00:00+00:00", "{gap_time}");
            assert_eq!(format_local(t, London), "Sun 2026-03-29 02:00 BST");
        }
        // Overlap: the earlier (BST) instant.
        let t = resolve_forward(at("2026-10-25 01:30:00"), London);
        assert_eq!(t.to_rfc3339(), "2026-10-25T00:30:00+00:00");
        // A zone whose clocks jump by 30 minutes: Lord Howe, 2026-10-04 02:00 -> 02:30.
        let lord_howe = chrono_tz::Australia::Lord_Howe;
        let t = resolve_forward(at("2026-10-04 02:10:00"), lord_howe);
        assert_eq!(
            t.with_timezone(&lord_howe).to_rfc3339(),
            "2026-10-04T02:30:00+11:00"
        );
    }

    #[test]
    fn nonsense_is_a_syntax_error() {
        assert!(matches!(
            parse_datetime("next tuesday", London),
            Err(TimeError::Syntax(_))
        ));
        assert!(parse_datetime("2026-02-30 10:00", London).is_err());
    }
}
