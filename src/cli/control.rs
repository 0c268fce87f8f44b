//! The human controls: cancel, retry, approve, pause and resume. They work
//! on the store directly, so they work while the daemon runs; the daemon
//! is then woken to act on the change.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::with_store;
use crate::api::ops;
pub use crate::api::ops::Overdue;
use crate::delivery::{Actor, Delivery};
use crate::store::{QueueFilter, Store, StoreError};

/// Which deliveries a control command acts on.
pub enum Target {
    Ids(Vec<i64>),
    Item(String),
}

pub fn cancel(config: &Path, target: Target) -> ExitCode {
    apply(config, target, "cancelled", |store, id, now| {
        Box::pin(async move { ops::cancel(store, id, Actor::cli(), now).await })
    })
}

pub fn retry(config: &Path, target: Target) -> ExitCode {
    apply(config, target, "queued to send now", |store, id, now| {
        Box::pin(async move { ops::retry(store, id, Actor::cli(), now).await })
    })
}

pub fn approve(config: &Path, target: Target) -> ExitCode {
    with_store(config, |_cfg, store| async move {
        let now = Utc::now();
        for id in ids(store.as_ref(), target).await? {
            let d = ops::approve(store.as_ref(), id, Actor::cli(), "approved".into(), now).await?;
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
        let overdue = ops::resume(store.as_ref(), channel.as_deref(), Actor::cli(), now).await?;
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        for d in &overdue {
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
            match ops::decide_overdue(store.as_ref(), &cfg, d, choice, Actor::cli(), now).await? {
                Some(d) => println!("{}: {}", d.id, d.display_state(now)),
                None => println!(
                    "{}: channel {} has no posting slots; left held",
                    d.id, d.channel
                ),
            }
        }
        println!(
            "resumed{}",
            channel.map(|c| format!(" channel {c}")).unwrap_or_default()
        );
        Ok(ExitCode::SUCCESS)
    })
}

type Op = for<'a> fn(
    &'a dyn Store,
    i64,
    DateTime<Utc>,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Delivery, StoreError>> + Send + 'a>,
>;

fn apply(config: &Path, target: Target, done: &'static str, op: Op) -> ExitCode {
    with_store(config, move |_cfg, store| async move {
        let now = Utc::now();
        let mut failed = false;
        for id in ids(store.as_ref(), target).await? {
            match op(store.as_ref(), id, now).await {
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

async fn ids(store: &dyn Store, target: Target) -> anyhow::Result<Vec<i64>> {
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
