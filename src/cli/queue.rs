//! `crier queue`: what is planned, sent, waiting or stuck, and why.

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use chrono_tz::Tz;

use super::{with_store, Format};
use crate::delivery::{Delivery, State};
use crate::store::QueueFilter;

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
    with_store(config, |cfg, store| async move {
        let tz = cfg.organisation.timezone;
        let Some(d) = store.get(id).await? else {
            anyhow::bail!("no delivery with id {id}");
        };
        let history = store.history(id).await?;
        // Fan-out deliveries (email) keep one record per recipient.
        let progress = store.lists().progress(id).await?;
        // Threads keep one record per part already posted.
        let parts = store.posted_parts(id).await?;
        let now = Utc::now();
        match format {
            Format::Json => {
                let mut row = json_row(&d, now);
                row["history"] = serde_json::to_value(&history)?;
                row["variant"] = d.variant.clone();
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
                        t.actor.as_str(),
                        t.reason
                    );
                }
                if let Some(text) = d.variant.get("text").and_then(|t| t.as_str()) {
                    println!("text:\n{text}");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
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
