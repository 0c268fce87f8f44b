//! Times written in entries: absolute (a string or a TOML datetime, in the
//! organisation's timezone) or, for events, relative to the event.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use toml::Spanned;

use super::Context;
use crate::diagnostics::{Report, SourceFile};

/// A time written as a string (`"2026-12-01 10:00"`) or a TOML datetime.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum TimeValue {
    Text(String),
    Toml(toml::value::Datetime),
}

impl TimeValue {
    pub(super) fn as_text(&self) -> String {
        match self {
            TimeValue::Text(s) => s.clone(),
            TimeValue::Toml(d) => d.to_string(),
        }
    }
}

pub(super) fn parse_time(
    src: &SourceFile,
    field: &str,
    v: &Spanned<TimeValue>,
    ctx: &Context,
    report: &mut Report,
) -> Option<DateTime<Utc>> {
    match crier_schedule::parse_datetime(&v.get_ref().as_text(), ctx.timezone) {
        Ok(t) => {
            if t.ambiguous {
                report.warning(
                    src.span(&v.span()),
                    format!("`{field}` happens twice when the clocks go back; the first (summer time) is used: add an offset to choose"),
                );
            }
            Some(t.instant)
        }
        Err(e) => {
            report.error(src.span(&v.span()), format!("bad `{field}`: {e}"));
            None
        }
    }
}

/// `at` written relative to an event ("21 days before start at 10:00").
pub(super) fn relative(v: &Spanned<TimeValue>) -> bool {
    matches!(v.get_ref(), TimeValue::Text(t) if t.contains("before") || t.contains("after") || t.trim_start().starts_with("at "))
}

pub(super) fn relative_time(
    src: &SourceFile,
    field: &str,
    span: std::ops::Range<usize>,
    text: &str,
    anchors: Option<&crier_schedule::Anchors>,
    ctx: &Context,
    report: &mut Report,
) -> Option<DateTime<Utc>> {
    let anchors = anchors?;
    match crier_schedule::Relative::parse(text).and_then(|r| r.resolve(anchors, ctx.timezone)) {
        Ok(t) => Some(t),
        Err(e) => {
            report.error(src.span(&span), format!("bad `{field}`: {e}"));
            None
        }
    }
}
