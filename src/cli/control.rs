//! The human controls: cancel, retry, approve, pause and resume. They work
//! on the store directly, so they work while the daemon runs; the daemon
//! is then woken to act on the change.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use clap::ValueEnum;

use super::with_store;
use crate::delivery::{Actor, HoldReason, State};
use crate::store::{Change, QueueFilter};

/// Which deliveries a control command acts on.
pub enum Target {
    Ids(Vec<i64>),
    Item(String),
}

pub fn cancel(config: &Path, target: Target) -> ExitCode {
    apply(config, target, "cancelled", |_| Change {
        from: vec![State::Planned, State::Retrying, State::Held],
        to: State::Cancelled,
        hold_reason: None,
        due_at: None,
        approve: false,
        actor: Actor::cli(),
        reason: "cancelled by hand".into(),
    })
}

pub fn retry(config: &Path, target: Target) -> ExitCode {
    apply(config, target, "queued to send now", |now| Change {
        from: vec![State::Failed, State::Held, State::Retrying],
        to: State::Planned,
        hold_reason: None,
        due_at: Some(now),
        approve: false,
        actor: Actor::cli(),
        reason: "retry requested by hand".into(),
    })
}

pub fn approve(config: &Path, target: Target) -> ExitCode {
    with_store(config, |_cfg, store| async move {
        let now = Utc::now();
        for id in ids(store.as_ref(), target).await? {
            let Some(d) = store.get(id).await? else {
                anyhow::bail!("no delivery with id {id}");
            };
            // A held delivery goes out now; a planned one keeps its time.
            let held = d.state == State::Held && d.hold_reason == Some(HoldReason::Approval);
            let change = Change {
                from: vec![State::Planned, State::Held, State::Retrying],
                to: if held { State::Planned } else { d.state },
                hold_reason: None,
                due_at: (held && d.due_at < now).then_some(now),
                approve: true,
                actor: Actor::cli(),
                reason: "approved".into(),
            };
            let d = store.change(id, &change, now).await?;
            println!("{id}: approved ({})", d.display_state(now));
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn pause(config: &Path, channel: Option<String>) -> ExitCode {
    with_store(config, |_cfg, store| async move {
        store
            .set_paused(channel.as_deref(), true, Actor::cli(), Utc::now())
            .await?;
        match channel {
            Some(c) => println!(
                "paused channel {c}: nothing will be sent to it until `crier resume --channel {c}`"
            ),
            None => println!("paused everything: nothing will be sent until `crier resume`"),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// What to do with a delivery whose time passed while paused.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Overdue {
    /// Send it now.
    SendNow,
    /// Move it to the channel's next posting slot.
    NextSlot,
    /// Do not send it.
    Skip,
}

pub fn resume(config: &Path, channel: Option<String>, all: Option<Overdue>) -> ExitCode {
    // Without a terminal nobody can answer the questions: lifting the pause
    // would leave overdue deliveries held with nothing saying so.
    if all.is_none() && !std::io::stdin().is_terminal() {
        eprintln!(
            "error: `crier resume` asks what to do with each overdue delivery, and there is \
             no terminal to ask on: give --all send-now, --all next-slot or --all skip. \
             Nothing was changed; still paused."
        );
        return ExitCode::from(2);
    }
    with_store(config, |cfg, store| async move {
        let now = Utc::now();
        store
            .set_paused(channel.as_deref(), false, Actor::cli(), now)
            .await?;
        let held = store
            .list(&QueueFilter {
                state: Some(State::Held),
                hold_reason: Some(HoldReason::Paused),
                channel: channel.clone(),
                ..QueueFilter::default()
            })
            .await?;
        let paused = store.paused().await?;
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        for d in held.iter().filter(|d| !paused.covers(&d.channel)) {
            let choice = match all {
                Some(c) => c,
                None => {
                    print!(
                        "{} {} → {} was due {}: [s]end now, [n]ext slot, s[k]ip, [l]eave held? ",
                        d.id,
                        d.item,
                        d.channel,
                        super::queue::local(d.due_at, cfg.organisation.timezone)
                    );
                    std::io::stdout().flush()?;
                    match lines.next().transpose()?.as_deref().map(str::trim) {
                        Some("s") => Overdue::SendNow,
                        Some("n") => Overdue::NextSlot,
                        Some("k") => Overdue::Skip,
                        _ => continue,
                    }
                }
            };
            let (to, due_at, reason) = match choice {
                Overdue::SendNow => (State::Planned, Some(now), "resumed: send now".to_string()),
                Overdue::Skip => (State::Cancelled, None, "resumed: skipped".to_string()),
                Overdue::NextSlot => {
                    let spec = cfg.spec(&d.channel);
                    let Some(slots) = spec.filter(|s| !s.slots.is_empty()) else {
                        println!(
                            "{}: channel {} has no posting slots; left held",
                            d.id, d.channel
                        );
                        continue;
                    };
                    let slots = crier_schedule::Slots::parse(&slots.slots)?;
                    let t = slots.next_free(now, &Default::default(), cfg.organisation.timezone);
                    (
                        State::Planned,
                        Some(t),
                        "resumed: moved to the next slot".to_string(),
                    )
                }
            };
            let change = Change {
                from: vec![State::Held],
                to,
                hold_reason: None,
                due_at,
                approve: false,
                actor: Actor::cli(),
                reason,
            };
            let d = store.change(d.id, &change, now).await?;
            println!("{}: {}", d.id, d.display_state(now));
        }
        println!(
            "resumed{}",
            channel.map(|c| format!(" channel {c}")).unwrap_or_default()
        );
        Ok(ExitCode::SUCCESS)
    })
}

fn apply(
    config: &Path,
    target: Target,
    done: &'static str,
    change: impl Fn(chrono::DateTime<Utc>) -> Change + Send + 'static,
) -> ExitCode {
    with_store(config, move |_cfg, store| async move {
        let now = Utc::now();
        let mut failed = false;
        for id in ids(store.as_ref(), target).await? {
            match store.change(id, &change(now), now).await {
                Ok(_) => println!("{id}: {done}"),
                Err(e) => {
                    eprintln!("{id}: {e}");
                    failed = true;
                }
            }
        }
        Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}

async fn ids(store: &dyn crate::store::Store, target: Target) -> anyhow::Result<Vec<i64>> {
    Ok(match target {
        Target::Ids(ids) => ids,
        Target::Item(item) => {
            let rows = store
                .list(&QueueFilter {
                    item: Some(item.clone()),
                    ..QueueFilter::default()
                })
                .await?;
            if rows.is_empty() {
                anyhow::bail!("no deliveries for item `{item}`");
            }
            rows.into_iter()
                .filter(|d| d.state.is_pending())
                .map(|d| d.id)
                .collect()
        }
    })
}
