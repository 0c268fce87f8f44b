//! What every backend does the same way with a row: the check on times
//! being recorded, and reading a delivery's columns into a [`Delivery`].
//! Both backends store times as unix milliseconds and states as text, so
//! one reader serves both; each passes its own error mapping.

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::delivery::{Delivery, HoldReason, State};
use crate::store::StoreError;
use crate::variant::Variant;

/// The milliseconds to store for a time being recorded (a change's `now`,
/// a due, retry or lease time). The shared check every write goes through:
/// a time more than [`FUTURE_LIMIT`] past the wall clock is no clock
/// reading and no plausible schedule — it is a sentinel passed by mistake
/// (`DateTime::MAX_UTC`, "the end of time", to take every lease) — so it is
/// refused before anything is written. Past times are fine (tests and
/// replays use fixed clocks).
pub(crate) fn stamp(t: DateTime<Utc>) -> Result<i64, StoreError> {
    stamp_at(t, Utc::now())
}

/// How far ahead of the wall clock a recorded time may be: content is
/// planned months ahead, never decades.
pub(crate) const FUTURE_LIMIT: chrono::TimeDelta = chrono::TimeDelta::days(10 * 366);

pub(crate) fn stamp_at(t: DateTime<Utc>, wall: DateTime<Utc>) -> Result<i64, StoreError> {
    if t <= wall + FUTURE_LIMIT {
        Ok(t.timestamp_millis())
    } else {
        Err(StoreError::BadTime {
            at: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(crate) fn time(ms: i64, id: i64, column: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| corrupt(format!("delivery {id}: {column} {ms} is out of range")))
}

pub(crate) fn opt_time(
    ms: Option<i64>,
    id: i64,
    column: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(|ms| time(ms, id, column)).transpose()
}

pub(crate) fn parse_state(text: &str, id: i64) -> Result<State, StoreError> {
    State::parse(text).ok_or_else(|| corrupt(format!("delivery {id} has unknown state {text:?}")))
}

pub(crate) fn parse_hold(text: Option<String>, id: i64) -> Result<Option<HoldReason>, StoreError> {
    text.map(|t| {
        HoldReason::parse(&t)
            .ok_or_else(|| corrupt(format!("delivery {id} has unknown hold reason {t:?}")))
    })
    .transpose()
}

/// A delivery row whose variant is JSON that this version cannot read as a
/// [`Variant`] (edited by hand; a change to `Variant`'s form comes with a
/// migration in each backend's schema, as only the store reads stored
/// variants).
pub(crate) struct UnreadableVariant {
    pub id: i64,
    pub error: String,
}

impl UnreadableVariant {
    /// Why it cannot be sent, as recorded on the delivery.
    pub(crate) fn reason(&self) -> String {
        format!("stored variant unreadable: {}", self.error)
    }
}

/// Reads a row selected with the backend's delivery columns (`id, item,
/// channel, occasion, state, hold_reason, due_at, next_attempt_at,
/// attempts, lease_expires_at, request_started_at, last_error, remote_id,
/// remote_url, sent_at, requires_approval, approved, variant,
/// fingerprint`). Bad data is `Corrupt`; a variant this version cannot read
/// is told apart, for the caller to deal with that one delivery (leasing
/// fails it). `err` is the backend's mapping of sqlx errors.
pub(crate) fn read_delivery<R>(
    row: &R,
    err: fn(sqlx::Error) -> StoreError,
) -> Result<Result<Delivery, UnreadableVariant>, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: i64 = row.try_get("id").map_err(err)?;
    let get_time = |col: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        opt_time(row.try_get(col).map_err(err)?, id, col)
    };
    let state: String = row.try_get("state").map_err(err)?;
    let attempts: i64 = row.try_get("attempts").map_err(err)?;
    let variant: String = row.try_get("variant").map_err(err)?;
    let variant: serde_json::Value = serde_json::from_str(&variant)
        .map_err(|e| corrupt(format!("delivery {id}: variant is not JSON: {e}")))?;
    let variant: Variant = match serde_json::from_value(variant) {
        Ok(v) => v,
        Err(e) => {
            let error = e.to_string();
            return Ok(Err(UnreadableVariant { id, error }));
        }
    };
    Ok(Ok(Delivery {
        id,
        item: row.try_get("item").map_err(err)?,
        channel: row.try_get("channel").map_err(err)?,
        occasion: row.try_get("occasion").map_err(err)?,
        state: parse_state(&state, id)?,
        hold_reason: parse_hold(row.try_get("hold_reason").map_err(err)?, id)?,
        due_at: time(row.try_get("due_at").map_err(err)?, id, "due_at")?,
        next_attempt_at: get_time("next_attempt_at")?,
        attempts: u32::try_from(attempts)
            .map_err(|_| corrupt(format!("delivery {id} has {attempts} attempts")))?,
        lease_expires_at: get_time("lease_expires_at")?,
        request_started_at: get_time("request_started_at")?,
        last_error: row.try_get("last_error").map_err(err)?,
        remote_id: row.try_get("remote_id").map_err(err)?,
        remote_url: row.try_get("remote_url").map_err(err)?,
        sent_at: get_time("sent_at")?,
        requires_approval: row.try_get("requires_approval").map_err(err)?,
        approved: row.try_get("approved").map_err(err)?,
        variant,
        fingerprint: row.try_get("fingerprint").map_err(err)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_far_past_the_wall_clock_are_refused() {
        let wall = DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ok = [
            wall,
            wall - FUTURE_LIMIT,
            wall + chrono::TimeDelta::days(400),
        ];
        for t in ok {
            assert_eq!(stamp_at(t, wall).unwrap(), t.timestamp_millis());
        }
        let bad = [
            DateTime::<Utc>::MAX_UTC,
            wall + FUTURE_LIMIT + chrono::TimeDelta::seconds(1),
            wall + chrono::TimeDelta::days(365 * 50),
        ];
        for t in bad {
            assert!(
                matches!(stamp_at(t, wall), Err(StoreError::BadTime { .. })),
                "{t}"
            );
        }
    }
}
