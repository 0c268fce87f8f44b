//! Fills a crier SQLite store with planned deliveries, for `bench/daemon.sh`.
//!
//! ```sh
//! # 1,000,000 background rows, due over the next year (from tomorrow on)
//! cargo run --release --example bench_fill -- data/crier.db 1000000 --due-in-days 365
//! # 1,000 rows all due at one exact second
//! cargo run --release --example bench_fill -- data/crier.db 1000 \
//!     --due-at 2026-12-03T10:00:05Z --channel bench-null --prefix burst
//! ```
//!
//! Rows go in through `SqliteStore::insert_many_for_bench`, in transactions
//! of `--batch` rows, so a running daemon only waits for one batch at a time.
//! Every row carries a small, valid `Variant` (a document) as its payload.
//! A count of 0 just creates and migrates the database.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _};
use chrono::{DateTime, TimeDelta, Utc};
use clap::Parser;
use crier::delivery::Planned;
use crier::store::sqlite::SqliteStore;
use crier::variant::Variant;

#[derive(Parser)]
#[command(about = "Insert planned deliveries into a crier SQLite store (benchmarks only)")]
struct Args {
    /// The database file (`<data_dir>/crier.db`); created if missing.
    db: PathBuf,
    /// How many planned deliveries to insert.
    count: usize,
    /// Spread due times evenly from one day ahead to this many days ahead.
    #[arg(long, default_value_t = 365, conflicts_with = "due_at")]
    due_in_days: i64,
    /// Make every row due at this exact time instead (RFC 3339).
    #[arg(long)]
    due_at: Option<DateTime<Utc>>,
    /// The channel the rows go to (a `discard` channel for benchmarks).
    #[arg(long, default_value = "bench-null")]
    channel: String,
    /// Item ids are `<prefix>-<n>`; change it to add rows beside earlier ones.
    #[arg(long, default_value = "bench")]
    prefix: String,
    /// Rows per transaction.
    #[arg(long, default_value_t = 100_000)]
    batch: usize,
}

fn row(args: &Args, i: usize, due_at: DateTime<Utc>) -> Planned {
    let item = format!("{}-{i:07}", args.prefix);
    let text = format!("Benchmark delivery {i}: multi-agency safeguarding training, book now.");
    let variant = Variant::document(&item, &args.channel, "discard", text);
    Planned {
        fingerprint: format!("{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        item,
        channel: args.channel.clone(),
        occasion: "at".into(),
        due_at,
        variant: Some(variant.into()),
        requires_approval: false,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let store = SqliteStore::open(&args.db)
        .await
        .with_context(|| format!("cannot open {}", args.db.display()))?;

    // Background rows: evenly spaced over [now + 1 day, now + due_in_days).
    let start = Utc::now() + TimeDelta::days(1);
    let span_ms = (args.due_in_days - 1).max(0) * 86_400_000;
    let step_ms = span_ms / i64::try_from(args.count.max(1))?;
    let due = |i: usize| match args.due_at {
        Some(t) => t,
        None => start + TimeDelta::milliseconds(step_ms * i as i64),
    };

    let began = Instant::now();
    let mut inserted = 0;
    let mut from = 0;
    while from < args.count {
        let to = (from + args.batch).min(args.count);
        let rows: Vec<Planned> = (from..to).map(|i| row(&args, i, due(i))).collect();
        inserted += store.insert_many_for_bench(&rows).await?;
        from = to;
    }
    store.close().await;
    let secs = began.elapsed().as_secs_f64();
    println!(
        "inserted {inserted} of {} planned deliveries into {} in {secs:.2} s ({:.0} rows/s)",
        args.count,
        args.db.display(),
        inserted as f64 / secs.max(1e-9)
    );
    if inserted as usize != args.count {
        bail!(
            "{} rows already existed (same item/channel/occasion): use another --prefix",
            args.count - inserted as usize
        );
    }
    Ok(())
}
