//! The audit log's rows: transitions and content changes as entries, and
//! a content change with its entry's text.

use chrono::{DateTime, Utc};

use super::Columns;
use crate::delivery::{Actor, State};
use crate::store::{AuditEntry, ContentChange, StoreError};

/// A row of the audit log's union (at, actor, item, channel, delivery,
/// from_state, to_state, what, not_in_git).
pub(crate) fn audit_entry(row: &impl Columns) -> Result<AuditEntry, StoreError> {
    let bad = |what: &str| StoreError::Corrupt(format!("audit log: unreadable {what}"));
    let at = row.int("at")?;
    let actor = row.text("actor")?;
    let state = |col: &str| -> Result<Option<State>, StoreError> {
        row.opt_text(col)?
            .map(|s| State::parse(&s).ok_or_else(|| bad("state")))
            .transpose()
    };
    Ok(AuditEntry {
        at: DateTime::<Utc>::from_timestamp_millis(at).ok_or_else(|| bad("time"))?,
        actor: Actor::parse(&actor).ok_or_else(|| bad("actor"))?,
        item: row.text("item")?,
        channel: row.opt_text("channel")?,
        delivery: row.opt_int("delivery")?,
        from: state("from_state")?,
        to: state("to_state")?,
        what: row.text("what")?,
        not_in_git: row.opt_text("not_in_git")?,
    })
}

/// A row of `content_changes`.
pub(crate) fn content_change(row: &impl Columns) -> Result<ContentChange, StoreError> {
    let bad = |what: &str| StoreError::Corrupt(format!("content changes: unreadable {what}"));
    let at = row.int("at")?;
    let actor = row.text("actor")?;
    Ok(ContentChange {
        at: DateTime::<Utc>::from_timestamp_millis(at).ok_or_else(|| bad("time"))?,
        actor: Actor::parse(&actor).ok_or_else(|| bad("actor"))?,
        item: row.text("item")?,
        action: row.text("action")?,
        version: row.text("version")?,
        file: row.text("file")?,
        before: row.opt_text("before_text")?,
        after: row.opt_text("after_text")?,
        reason: row.opt_text("reason")?,
        not_in_git: row.opt_text("not_in_git")?,
    })
}
