//! The human controls — cancel, retry, approve, reject, pause, resume —
//! once, for every face: the CLI (`crier cancel …`), the HTTP API and the
//! console call these, so each decision is made in one place.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::path::Path;

use crate::channels::{learned, Configured, PublishError, Services};
use crate::config::Config;
use crate::delivery::{Actor, Delivery, HoldReason, State};
use crate::store::{Change, QueueFilter, Store, StoreError};

pub async fn cancel(
    store: &dyn Store,
    id: i64,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Delivery, StoreError> {
    let change = Change {
        from: vec![State::Planned, State::Retrying, State::Held],
        to: State::Cancelled,
        hold_reason: None,
        due_at: None,
        approve: false,
        actor,
        reason: "cancelled by hand".into(),
    };
    store.change(id, &change, now).await
}

pub async fn retry(
    store: &dyn Store,
    id: i64,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Delivery, StoreError> {
    let change = Change {
        from: vec![State::Failed, State::Held, State::Retrying],
        to: State::Planned,
        hold_reason: None,
        due_at: Some(now),
        approve: false,
        actor,
        reason: "retry requested by hand".into(),
    };
    store.change(id, &change, now).await
}

/// Approves a delivery: held for approval, it goes out now (or at its
/// time, if still ahead); planned, it keeps its time. `reason` names what
/// was approved (the item's version) for the audit log.
pub async fn approve(
    store: &dyn Store,
    id: i64,
    actor: Actor,
    reason: String,
    now: DateTime<Utc>,
) -> Result<Delivery, StoreError> {
    let d = store.get(id).await?.ok_or(StoreError::NotFound(id))?;
    let held = d.state == State::Held && d.hold_reason == Some(HoldReason::Approval);
    let change = Change {
        from: vec![State::Planned, State::Held, State::Retrying],
        to: if held { State::Planned } else { d.state },
        hold_reason: None,
        due_at: (held && d.due_at < now).then_some(now),
        approve: true,
        actor,
        reason,
    };
    store.change(id, &change, now).await
}

/// A delivery held because no one knows whether it went out, which a
/// person has seen on the network: recorded as sent, so no one sends it
/// again. Only an uncertain hold may be confirmed (checked first; nothing
/// but a person moves a delivery out of that hold).
pub async fn confirm_sent(
    store: &dyn Store,
    id: i64,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Delivery, StoreError> {
    let d = store.get(id).await?.ok_or(StoreError::NotFound(id))?;
    if d.hold_reason != Some(HoldReason::Uncertain) || d.state != State::Held {
        return Err(StoreError::WrongState {
            id,
            actual: d.display_state(now),
            expected: "held:uncertain".into(),
        });
    }
    let change = Change {
        from: vec![State::Held],
        to: State::Sent,
        hold_reason: None,
        due_at: None,
        approve: false,
        reason: format!("confirmed as sent by {actor}"),
        actor,
    };
    store.change(id, &change, now).await
}

/// Rejects a delivery: it stays held for approval, with the reason shown
/// to its author; an edit of the item asks for approval again.
pub async fn reject(
    store: &dyn Store,
    id: i64,
    actor: Actor,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Delivery, StoreError> {
    let d = store.get(id).await?.ok_or(StoreError::NotFound(id))?;
    if !d.state.is_pending() {
        return Err(StoreError::WrongState {
            id,
            actual: d.state.as_str().into(),
            expected: "planned, retrying or held".into(),
        });
    }
    let note = format!("rejected by {actor}: {reason}");
    store
        .hold(id, HoldReason::Approval, &note, actor, now)
        .await?;
    store.get(id).await?.ok_or(StoreError::NotFound(id))
}

/// What to do with a delivery whose time passed while paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Overdue {
    /// Send it now.
    SendNow,
    /// Move it to the channel's next posting slot.
    NextSlot,
    /// Do not send it.
    Skip,
}

/// Lifts a pause; the overdue deliveries it held stay held for a decision.
pub async fn resume(
    store: &dyn Store,
    channel: Option<&str>,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Vec<Delivery>, StoreError> {
    store.set_paused(channel, false, actor, now).await?;
    overdue(store, channel).await
}

/// Deliveries held because their time passed while paused, on channels no
/// pause covers now.
pub async fn overdue(
    store: &dyn Store,
    channel: Option<&str>,
) -> Result<Vec<Delivery>, StoreError> {
    let held = store
        .list(&QueueFilter {
            state: Some(State::Held),
            hold_reason: Some(HoldReason::Paused),
            channel: channel.map(str::to_string),
            ..QueueFilter::default()
        })
        .await?;
    let paused = store.paused().await?;
    Ok(held
        .into_iter()
        .filter(|d| !paused.covers(&d.channel))
        .collect())
}

/// Applies one decision about an overdue delivery. `Ok(None)`: left held
/// (next slot asked of a channel without posting slots).
pub async fn decide_overdue(
    store: &dyn Store,
    config: &Config,
    d: &Delivery,
    choice: Overdue,
    actor: Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Delivery>> {
    let (to, due_at, reason) = match choice {
        Overdue::SendNow => (State::Planned, Some(now), "resumed: send now"),
        Overdue::Skip => (State::Cancelled, None, "resumed: skipped"),
        Overdue::NextSlot => {
            let Some(spec) = config.spec(&d.channel).filter(|s| !s.slots.is_empty()) else {
                return Ok(None);
            };
            let slots = crier_schedule::Slots::parse(&spec.slots)?;
            let t = slots.next_free(now, &Default::default(), config.organisation.timezone);
            (State::Planned, Some(t), "resumed: moved to the next slot")
        }
    };
    let change = Change {
        from: vec![State::Held],
        to,
        hold_reason: None,
        due_at,
        approve: false,
        actor,
        reason: reason.into(),
    };
    Ok(Some(store.change(d.id, &change, now).await?))
}

/// What testing a channel found (nothing is posted).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ChannelTest {
    pub ok: bool,
    /// What the network said about the account, or why it failed.
    pub message: String,
    /// The limits it learned and saved, or why it could not.
    pub learned: Option<String>,
}

/// Tests one channel's credentials and learns its limits, posting nothing.
pub async fn test_channel(
    channel: &Configured,
    services: &Services,
    data_dir: &Path,
) -> ChannelTest {
    if let Some(missing) = channel.secrets().into_iter().find(|s| !s.is_set()) {
        return ChannelTest {
            ok: false,
            message: format!(
                "`{}` is not set: the channel has no credentials here",
                missing.0
            ),
            learned: None,
        };
    }
    let publisher = channel.publisher();
    let learned = match publisher.learn(services).await {
        Ok(Some(facts)) => Some(
            match learned::record(data_dir, channel, facts, services.clock.now()) {
                Ok((path, _)) => format!(
                    "saved its limits to {}; `crier check` and `preview` count with them",
                    path.display()
                ),
                Err(e) => format!("cannot save its limits: {e}"),
            },
        ),
        Ok(None) => None,
        Err(e) => Some(format!("could not read its limits: {e}")),
    };
    let (ok, message) = match publisher.check(services).await {
        Ok(found) => (true, found),
        Err(PublishError::Credentials { message, .. }) => {
            (false, format!("credentials refused: {message}"))
        }
        Err(e) => (false, e.to_string()),
    };
    ChannelTest {
        ok,
        message,
        learned,
    }
}
