use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A parsed publish time: the instant, plus a note when the wall-clock time
/// was ambiguous and the earlier of the two instants was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub instant: DateTime<Utc>,
    /// Set when the local time occurred twice (clocks went back).
    pub ambiguous: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}` is not a date and time; write e.g. `2026-12-01 10:00` or `2026-12-01T10:00:00+00:00`")]
    Syntax(String),
    #[error("{time} does not exist in {tz}: the clocks go forward then; pick a time outside the gap")]
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
    fn nonsense_is_a_syntax_error() {
        assert!(matches!(
            parse_datetime("next tuesday", London),
            Err(TimeError::Syntax(_))
        ));
        assert!(parse_datetime("2026-02-30 10:00", London).is_err());
    }
}
