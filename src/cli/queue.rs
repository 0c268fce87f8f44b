//! `crier queue`: what is planned, sent, waiting or stuck, and why.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use chrono_tz::Tz;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{with_opened, with_store, Format};
use crate::channels::registry;
use crate::delivery::{Delivery, State};
use crate::store::{ChannelStore, QueueFilter};

pub fn list(config: &Path, filter: QueueFilter, format: Format) -> ExitCode {
    with_store(config, |cfg, store| async move {
        let tz = cfg.organisation.timezone;
        let rows = store.list(&filter).await?;
        let notes = store.channel_statuses().await?;
        let paused = store.paused().await?;
        let now = Utc::now();
        match format {
            Format::Json => {
                let out: Vec<_> = rows.iter().map(|d| json_row(d, now)).collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Format::Text => {
                if paused.all {
                    println!("PAUSED: everything is paused (crier resume)");
                }
                for c in &paused.channels {
                    println!("PAUSED: channel {c} (crier resume --channel {c})");
                }
                for (c, note) in &notes {
                    println!("ATTENTION: channel {c}: {note}");
                }
                println!(
                    "{:>6}  {:<20}  {:<22}  {:<20}  {:<28}  {:>3}  NOTE",
                    "ID", "STATE", "DUE", "CHANNEL", "ITEM", "TRY"
                );
                for d in &rows {
                    println!(
                        "{:>6}  {:<20}  {:<22}  {:<20}  {:<28}  {:>3}  {}",
                        d.id,
                        d.display_state(now),
                        local(d.due_at, tz),
                        d.channel,
                        d.item,
                        d.attempts,
                        note(d)
                    );
                }
                println!("{} deliveries", rows.len());
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn show(config: &Path, id: i64, format: Format) -> ExitCode {
    with_opened(config, |cfg, opened| async move {
        let store = opened.queue;
        let tz = cfg.organisation.timezone;
        let Some(d) = store.get(id).await? else {
            anyhow::bail!("no delivery with id {id}");
        };
        let history = store.history(id).await?;
        // Fan-out deliveries keep one record per recipient.
        let progress = registry::recipients(&d, opened.channels.as_ref(), false)
            .await?
            .map(|(p, _)| p)
            .unwrap_or_default();
        // Threads keep one record per part already posted.
        let parts = store.posted_parts(id).await?;
        let now = Utc::now();
        match format {
            Format::Json => {
                let mut row = json_row(&d, now);
                row["history"] = serde_json::to_value(&history)?;
                row["variant"] = serde_json::to_value(&d.variant)?;
                if !progress.is_empty() {
                    row["recipients"] = serde_json::to_value(&progress)?;
                }
                if !parts.is_empty() {
                    row["posted_parts"] = serde_json::to_value(&parts)?;
                }
                println!("{}", serde_json::to_string_pretty(&row)?);
            }
            Format::Text => {
                println!(
                    "delivery {}: item {} → channel {} ({})",
                    d.id, d.item, d.channel, d.occasion
                );
                println!("state:    {}", d.display_state(now));
                println!("due:      {}", local(d.due_at, tz));
                if let Some(t) = d.next_attempt_at {
                    println!("retry at: {}", local(t, tz));
                }
                println!("attempts: {}", d.attempts);
                if let Some(e) = &d.last_error {
                    println!("error:    {e}");
                }
                if let Some(u) = &d.remote_url {
                    println!("posted:   {u}");
                }
                if !progress.is_empty() {
                    println!(
                        "recipients: {} sent, {} refused, {} deferred",
                        progress.sent, progress.bounced, progress.deferred
                    );
                    for (address, reply) in &progress.problems {
                        println!("  {address}: {reply}");
                    }
                }
                if !parts.is_empty() {
                    println!("thread:   {} parts posted", parts.len());
                    for (i, part) in parts.iter().enumerate() {
                        let at = part.remote_url.as_deref().or(part.remote_id.as_deref());
                        println!("  part {}: {}", i + 1, at.unwrap_or("(no id returned)"));
                    }
                }
                println!("history:");
                for t in &history {
                    println!(
                        "  {}  {:<10} → {:<10}  by {:<6}  {}",
                        local(t.at, tz),
                        t.from.map_or("-", State::as_str),
                        t.to.as_str(),
                        t.actor.to_stored(),
                        t.reason
                    );
                }
                println!("text:\n{}", d.variant.text);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// One look at a delivery being followed.
struct Snapshot {
    state: String,
    done: bool,
    sent: bool,
    last_error: Option<String>,
    /// For a fan-out delivery (email): recipients by outcome.
    recipients: Option<Counts>,
}

#[derive(PartialEq)]
struct Counts {
    sent: u64,
    refused: u64,
    deferred: u64,
    /// Still owed the message (deferred ones included).
    pending: u64,
}

impl Counts {
    fn total(&self) -> u64 {
        self.sent + self.refused + self.pending
    }
}

impl Snapshot {
    fn line(&self, id: i64, channel: &str) -> String {
        let mut line = format!("delivery {id} ({channel}): {}", self.state);
        if let Some(c) = &self.recipients {
            line += &format!(
                ": {} sent, {} refused, {} deferred, {} pending of {}",
                c.sent,
                c.refused,
                c.deferred,
                c.pending,
                c.total()
            );
        }
        line
    }
}

/// The same store queries as `queue show` (state, recipient progress) and
/// the sender's own "who is still owed it" query for what is left.
async fn snapshot(store: &Arc<dyn ChannelStore>, d: &Delivery) -> anyhow::Result<Snapshot> {
    let recipients = registry::recipients(d, store.as_ref(), true)
        .await?
        .map(|(p, pending)| Counts {
            sent: p.sent,
            refused: p.bounced,
            deferred: p.deferred,
            pending: pending.unwrap_or(0),
        });
    Ok(Snapshot {
        state: d.display_state(Utc::now()),
        // Held needs a person (approval, credentials, uncertain): nothing
        // more will happen by itself.
        done: matches!(
            d.state,
            State::Sent | State::Failed | State::Cancelled | State::Held
        ),
        sent: d.state == State::Sent,
        last_error: d.last_error.clone(),
        recipients,
    })
}

/// `queue show ID --follow`: polls the store until the delivery is done.
/// On a terminal, an indicatif bar of recipients reached; otherwise (a
/// log, a pipe) a line whenever something changed, and at least every
/// half minute so a quiet wait still shows it is alive.
pub fn follow(config: &Path, id: i64, every: Duration) -> ExitCode {
    with_opened(config, |_cfg, opened| async move {
        let store = opened.queue;
        let bar = std::io::stdout().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stdout());
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        let mut last: Option<(String, Instant)> = None;
        loop {
            let Some(d) = store.get(id).await? else {
                anyhow::bail!("no delivery with id {id}");
            };
            let s = snapshot(&opened.channels, &d).await?;
            let line = s.line(id, &d.channel);
            match &bar {
                Some(bar) => {
                    bar.set_prefix(format!("delivery {id} ({})", d.channel));
                    match &s.recipients {
                        Some(c) => {
                            bar.set_length(c.total());
                            bar.set_position(c.sent + c.refused);
                            bar.set_message(format!(
                                "{}: {} sent, {} refused, {} deferred",
                                s.state, c.sent, c.refused, c.deferred
                            ));
                        }
                        None => bar.set_message(s.state.clone()),
                    }
                }
                None => {
                    let stale = last.as_ref().is_none_or(|(l, at)| {
                        *l != line || at.elapsed() >= Duration::from_secs(30)
                    });
                    if stale {
                        println!("{line}");
                        std::io::stdout().flush()?;
                        last = Some((line.clone(), Instant::now()));
                    }
                }
            }
            if s.done {
                if let Some(bar) = &bar {
                    bar.finish();
                }
                if !s.sent {
                    if let Some(e) = &s.last_error {
                        println!("error: {e}");
                    }
                    return Ok(ExitCode::from(1));
                }
                return Ok(ExitCode::SUCCESS);
            }
            tokio::time::sleep(every).await;
        }
    })
}

fn json_row(d: &Delivery, now: chrono::DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "id": d.id,
        "item": d.item,
        "channel": d.channel,
        "occasion": d.occasion,
        "state": d.display_state(now),
        "hold_reason": d.hold_reason.map(|r| r.as_str()),
        "due_at": d.due_at,
        "next_attempt_at": d.next_attempt_at,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "remote_id": d.remote_id,
        "remote_url": d.remote_url,
        "sent_at": d.sent_at,
    })
}

fn note(d: &Delivery) -> String {
    d.remote_url
        .clone()
        .or_else(|| d.last_error.clone())
        .unwrap_or_default()
        .replace('\n', " ")
}

pub fn local(t: chrono::DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}
