//! What every backend does the same way with a row: the check on times
//! being recorded, and one reader per row type. Both backends store times
//! as unix milliseconds, states, roles and actors as text, and flags that
//! sqlx reads as `bool` from either (SQLite's 0/1, PostgreSQL's boolean),
//! so a reader takes any backend's row through [`Columns`]: a delivery and
//! a listing's summary here, people in `people.rs`, review links in
//! `reviews.rs`, the audit log in `audit.rs`, subscribers in `lists.rs`.
//! The statements naming the columns a reader reads sit beside it.

mod audit;
mod lists;
mod people;
mod reviews;

pub(crate) use audit::{audit_entry, content_change};
pub(crate) use lists::{ms_time, opt_ms, subscriber, SUBSCRIBER_COLUMNS};
pub(crate) use people::{account, api_token, at, link, ACCOUNT_COLUMNS};
pub(crate) use reviews::{review_link, select_links};

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::delivery::{Delivery, DeliverySummary, HoldReason, State};
use crate::store::StoreError;
use crate::variant::Variant;

/// A row's columns by name, whichever backend's row it is. A column
/// missing or of another type is `Corrupt`, as both backends' error
/// mappings have it for a column (`sqlite::db_error`, `postgres::db_error`).
pub(crate) trait Columns {
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
}

impl<R> Columns for R
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.try_get(column).map_err(corrupt)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.try_get(column).map_err(corrupt)
    }
    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.try_get(column).map_err(corrupt)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.try_get(column).map_err(corrupt)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        self.try_get(column).map_err(corrupt)
    }
}

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

/// Reads a row selected with `delivery_columns!`; bad data is `Corrupt`,
/// an unreadable variant included, never a panic.
pub(crate) fn delivery_from_row(row: &impl Columns) -> Result<Delivery, StoreError> {
    read_delivery(row)?.map_err(|u| corrupt(format!("delivery {}: {}", u.id, u.reason())))
}

/// Reads a row selected with `delivery_columns!` (`id, item, channel,
/// occasion, state, hold_reason, due_at, next_attempt_at, attempts,
/// lease_expires_at, request_started_at, last_error, remote_id,
/// remote_url, sent_at, requires_approval, approved, variant,
/// fingerprint`). Bad data is `Corrupt`; a variant this version cannot
/// read is told apart, for the caller to deal with that one delivery
/// (leasing fails it).
pub(crate) fn read_delivery(
    row: &impl Columns,
) -> Result<Result<Delivery, UnreadableVariant>, StoreError> {
    let id = row.int("id")?;
    let get_time = |col: &str| opt_time(row.opt_int(col)?, id, col);
    let state = row.text("state")?;
    let attempts_ = row.int("attempts")?;
    let variant = row.text("variant")?;
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
        item: row.text("item")?,
        channel: row.text("channel")?,
        occasion: row.text("occasion")?,
        state: parse_state(&state, id)?,
        hold_reason: parse_hold(row.opt_text("hold_reason")?, id)?,
        due_at: time(row.int("due_at")?, id, "due_at")?,
        next_attempt_at: get_time("next_attempt_at")?,
        attempts: attempts(attempts_, id)?,
        lease_expires_at: get_time("lease_expires_at")?,
        request_started_at: get_time("request_started_at")?,
        last_error: row.opt_text("last_error")?,
        remote_id: row.opt_text("remote_id")?,
        remote_url: row.opt_text("remote_url")?,
        sent_at: get_time("sent_at")?,
        requires_approval: row.flag("requires_approval")?,
        approved: row.flag("approved")?,
        variant,
        fingerprint: row.text("fingerprint")?,
    }))
}

fn attempts(n: i64, id: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| corrupt(format!("delivery {id} has {n} attempts")))
}

/// What a listing reads of each delivery: not the variant, the bulk of a
/// row. [`SummaryColumns`] in the same order.
pub(crate) const SUMMARY_COLUMNS: &str =
    "id, item, channel, occasion, state, hold_reason, due_at, \
     attempts, last_error, remote_url, sent_at, requires_approval, approved";

/// [`SUMMARY_COLUMNS`]' values as read: SQLite's listing takes them from
/// one JSON array (`sqlite/queries.rs`), PostgreSQL's from a row
/// ([`summary_columns`]); [`summary`] checks them either way.
pub(crate) type SummaryColumns = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    Flag,
    Flag,
);

/// A yes/no value: a boolean in a row, 0 or 1 in SQLite's JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag(pub bool);

impl<'de> serde::Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Flag, D::Error> {
        i64::deserialize(d).map(|n| Flag(n != 0))
    }
}

/// A row selected with [`SUMMARY_COLUMNS`], as [`summary`] takes it.
pub(crate) fn summary_columns(row: &impl Columns) -> Result<SummaryColumns, StoreError> {
    Ok((
        row.int("id")?,
        row.text("item")?,
        row.text("channel")?,
        row.text("occasion")?,
        row.text("state")?,
        row.opt_text("hold_reason")?,
        row.int("due_at")?,
        row.int("attempts")?,
        row.opt_text("last_error")?,
        row.opt_text("remote_url")?,
        row.opt_int("sent_at")?,
        Flag(row.flag("requires_approval")?),
        Flag(row.flag("approved")?),
    ))
}

/// A listing's delivery, checked as [`read_delivery`] checks a whole one.
pub(crate) fn summary(c: SummaryColumns) -> Result<DeliverySummary, StoreError> {
    let (id, item, channel, occasion, state, hold, due_at, attempts_, error, url, sent, req, ok) =
        c;
    Ok(DeliverySummary {
        id,
        item,
        channel,
        occasion,
        state: parse_state(&state, id)?,
        hold_reason: parse_hold(hold, id)?,
        due_at: time(due_at, id, "due_at")?,
        attempts: attempts(attempts_, id)?,
        last_error: error,
        remote_url: url,
        sent_at: opt_time(sent, id, "sent_at")?,
        requires_approval: req.0,
        approved: ok.0,
    })
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
