//! The workspace and store `bench/console.sh` measures the console on:
//!
//! ```sh
//! # 10,000 items in campaigns/*.toml, a year back and a year ahead
//! cargo run --release --example bench_console -- content campaigns --items 10000
//! # the past of that content sent, and older sent history up to 1,000,000
//! # deliveries in all once the daemon has planned the rest
//! cargo run --release --example bench_console -- fill channels.toml --total 1000000
//! ```
//!
//! `named` writes news items only, each on ten channels, all ahead (for
//! `bench/incremental.sh`: content that names every row).
//!
//! `content` writes items of every kind (news, briefings, notices, events
//! with reminders, campaign posts) on the shipped example's channels, one
//! in 20 needing approval, plus `bench-busy-event`: an event with 49
//! reminders on nine channels, 450 deliveries, the item with the most.
//!
//! `fill` checks the workspace and plans it as the daemon does, records
//! every planned delivery already due as sent (with the history a real send
//! leaves), and adds sent deliveries of older items no longer in the
//! files (copies of the content's items, ids `<item>-archive-<n>`, spread
//! over the `--months` before now) until the plan and the store together
//! make `--total`. The daemon, started afterwards, plans the rest. It
//! prints one JSON line: the local month with the most deliveries, the
//! busy item, and the counts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use clap::{Parser, Subcommand};
use crier::daemon::reload::load_checked;
use crier::delivery::Planned;
use crier::store::sqlite::SqliteStore;

#[derive(Parser)]
#[command(about = "Workspace and store for the console benchmark (benchmarks only)")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write generated campaign files into this folder.
    Content {
        dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        items: usize,
        /// Items are spread over this many days before today and after.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// Write news items on ten channels, all ahead (1 to 365 days): the
    /// content that names every row of `bench/incremental.sh`.
    Named {
        dir: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        items: usize,
    },
    /// Record the content's past as sent, and older history up to --total.
    Fill {
        config: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        total: usize,
        /// Older history is spread over this many months before now.
        #[arg(long, default_value_t = 24)]
        months: i64,
    },
}

const BUSY: &str = "bench-busy-event";
const ITEMS_PER_FILE: usize = 100;
const NEWS: &str = r#"["partners-email", "website", "mastodon", "bluesky", "x", "facebook", "linkedin", "partners-teams", "practitioners-slack", "partner-systems"]"#;
const BRIEFING: &str = r#"["partners-email", "website", "mastodon", "bluesky", "linkedin", "partners-teams", "practitioners-slack"]"#;
const NOTICE: &str = r#"["partners-email", "website", "facebook", "youth-discord"]"#;
const EVENT: &str = r#"["partners-email", "website", "training-feed", "mastodon", "bluesky", "x", "facebook", "linkedin", "partners-teams"]"#;
const CAMPAIGN: &str = r#"["mastodon", "bluesky", "x", "facebook", "website"]"#;
const SUBJECTS: [&str; 8] = [
    "neglect",
    "child exploitation",
    "online safety",
    "domestic abuse",
    "early help",
    "missing children",
    "mental health",
    "young carers",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Content { dir, items, days } => content(&dir, items, days),
        Command::Named { dir, items } => named(&dir, items),
        Command::Fill {
            config,
            total,
            months,
        } => fill(&config, total, months).await,
    }
}

/// Local "YYYY-MM-DD HH:MM" of item `i` of `n`: spread over `days` either
/// side of today, none within a day of now, 15 minutes apart in a day.
fn when(i: usize, n: usize, days: i64, today: NaiveDate) -> String {
    let offset = (i as i64 * 2 * days) / n.max(1) as i64 - days;
    let offset = if offset.abs() <= 1 {
        offset.signum() * 2
    } else {
        offset
    };
    let slot = (i % 32) as i64 * 15;
    let day = today + Duration::days(offset);
    format!("{day} {:02}:{:02}", 9 + slot / 60, slot % 60)
}

fn content(dir: &Path, n: usize, days: i64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let today = Utc::now().date_naive();
    let mut written = 0;
    for (file, first) in (0..n.saturating_sub(1)).step_by(ITEMS_PER_FILE).enumerate() {
        let last = (first + ITEMS_PER_FILE).min(n - 1);
        let campaign = file % 10 == 9;
        let mut text = String::new();
        if campaign {
            let _ = write!(
                text,
                "[campaign]\nname = \"Campaign {file}\"\nhashtags = [\"SafeStreets\"]\n\
                 channels = {CAMPAIGN}\ntopics = [\"campaigns\"]\nlink = \"https://www.example.org/campaigns/{file}\"\n\n"
            );
        }
        for i in first..last {
            let at = when(i, n, days, today);
            text.push_str(&if campaign { post(i, &at) } else { item(i, &at) });
        }
        std::fs::write(dir.join(format!("bench-{file:03}.toml")), text)?;
        written += last - first;
    }
    std::fs::write(dir.join("bench-busy.toml"), busy_event(today))?;
    println!("wrote {} items into {}", written + 1, dir.display());
    Ok(())
}

/// `n` news items (each on the ten channels of [`NEWS`]), 100 to a file,
/// between 2 and 365 days ahead, so nothing falls due while measuring.
fn named(dir: &Path, n: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let today = Utc::now().date_naive();
    for (file, first) in (0..n).step_by(ITEMS_PER_FILE).enumerate() {
        let mut text = String::new();
        for i in first..(first + ITEMS_PER_FILE).min(n) {
            let day = today + Duration::days(2 + (i * 363 / n.max(1)) as i64);
            let slot = (i % 32) * 15;
            let at = format!("{day} {:02}:{:02}", 9 + slot / 60, slot % 60);
            // Every fourth generated item is news (`item`'s kinds by i % 4).
            text.push_str(&item(4 * i, &at));
        }
        std::fs::write(dir.join(format!("named-{file:04}.toml")), text)?;
    }
    println!("wrote {n} news items into {}", dir.display());
    Ok(())
}

fn approval(i: usize) -> &'static str {
    if i % 20 == 7 {
        "require_approval = true\n"
    } else {
        ""
    }
}

fn item(i: usize, at: &str) -> String {
    let subject = SUBJECTS[i % SUBJECTS.len()];
    let id = format!("bench-{i:05}");
    let body = format!(
        "Practitioners across the partnership asked for more on {subject}. This is item {i}: \
         what we learned, what changes, and where to find help. Read it with your team and \
         talk about what it means for the families you work with."
    );
    let approval = approval(i);
    match i % 4 {
        0 => format!(
            "[[item]]\nid = \"{id}\"\nkind = \"news\"\nedition = \"Edition {i}\"\n\
             title = \"News update {i}: {subject}\"\nsummary = \"Board decisions and training on {subject}.\"\n\
             at = \"{at}\"\nchannels = {NEWS}\ntopics = [\"news\"]\nlink = \"https://www.example.org/news/{i}\"\n\
             hashtags = [\"SafeguardingChildren\"]\n{approval}body = \"\"\"\n{body}\n\"\"\"\n\n\
             [[item.sections]]\nheading = \"Board\"\nbody = \"The Board met and agreed its priorities on {subject}.\"\n\n\
             [[item.sections]]\nheading = \"Training\"\nbody = \"New dates are open: see [the programme](https://www.example.org/training).\"\n\n"
        ),
        1 => format!(
            "[[item]]\nid = \"{id}\"\nkind = \"briefing\"\ntitle = \"Seven-minute briefing {i}: {subject}\"\n\
             summary = \"What a review found about {subject}.\"\nat = \"{at}\"\nchannels = {BRIEFING}\n\
             topics = [\"briefings\"]\nhashtags = [\"SevenMinuteBriefing\"]\n\
             document = \"https://www.example.org/briefings/{i}.pdf\"\n\
             themes = [\"Look at the pattern, not the incident\", \"Work with the family\", \"Share early\"]\n\
             questions = [\"What did you see?\", \"Who would you call?\", \"What would you record?\"]\n\
             {approval}body = \"\"\"\n{body}\n\"\"\"\n\n"
        ),
        2 => format!(
            "[[item]]\nid = \"{id}\"\nkind = \"notice\"\ntitle = \"Notice {i}: {subject}\"\n\
             summary = \"A change to how we work on {subject}.\"\nat = \"{at}\"\nchannels = {NOTICE}\n\
             topics = [\"news\"]\n{approval}body = \"\"\"\n{body}\n\"\"\"\n\n"
        ),
        _ => format!(
            "[[item]]\nid = \"{id}\"\nkind = \"event\"\ntitle = \"Course {i}: {subject}\"\n\
             summary = \"A one-day multi-agency course on {subject}.\"\nat = \"{at}\"\n\
             reminders = [\"7 days before booking_deadline at 10:00\", \"at booking_deadline\"]\n\
             start = \"{start} 09:30\"\nend = \"{start} 16:00\"\nvenue = \"Church Square House, Scunthorpe\"\n\
             booking_email = \"training@example.org\"\nbooking_deadline = \"{deadline} 17:00\"\n\
             channels = {EVENT}\ntopics = [\"training\"]\nhashtags = [\"MARSTraining\"]\n\
             {approval}body = \"\"\"\n{body}\n\"\"\"\n\n",
            start = shift(at, 28),
            deadline = shift(at, 21),
        ),
    }
}

/// The date part of `at` moved by `days`.
fn shift(at: &str, days: i64) -> NaiveDate {
    let day = NaiveDate::parse_from_str(&at[..10], "%Y-%m-%d").expect("a generated date");
    day + Duration::days(days)
}

fn post(i: usize, at: &str) -> String {
    let subject = SUBJECTS[i % SUBJECTS.len()];
    format!(
        "[[post]]\nid = \"bench-{i:05}\"\ntitle = \"Safe streets {i}: {subject}\"\nat = \"{at}\"\n{}\
         body = \"\"\"\nYoung people told us what would make their streets feel safe. Post {i} is about \
         {subject}: what you can do this week, and who to ask for help.\n\"\"\"\n\n",
        approval(i)
    )
}

/// Started a month ago, on in six weeks, reminded daily for 49 days.
fn busy_event(today: NaiveDate) -> String {
    let start = today + Duration::days(45);
    let reminders: Vec<String> = (1..=49)
        .map(|d| format!("\"{d} days before start at 10:00\""))
        .collect();
    format!(
        "[[item]]\nid = \"{BUSY}\"\nkind = \"event\"\ntitle = \"Safeguarding conference\"\n\
         summary = \"The partnership's yearly conference.\"\nat = \"{} 09:00\"\n\
         reminders = [{}]\nstart = \"{start} 09:30\"\nend = \"{start} 16:30\"\n\
         venue = \"The Baths Hall, Scunthorpe\"\nbooking_email = \"conference@example.org\"\n\
         channels = {EVENT}\ntopics = [\"training\"]\nhashtags = [\"MARSConference\"]\n\
         body = \"\"\"\nA day for everyone who works with children in the area.\n\"\"\"\n",
        today - Duration::days(30),
        reminders.join(", ")
    )
}

async fn fill(config: &Path, total: usize, months: i64) -> anyhow::Result<()> {
    let began = Instant::now();
    let checked = load_checked(config).map_err(|p| anyhow::anyhow!("check: {}", p.join("\n")))?;
    let ws = &checked.workspace;
    let plan = crier::plan::from_variants(ws, &checked.variants);
    let tz = ws.config.organisation.timezone;
    let now = Utc::now();
    println_err(format!(
        "{} items planned into {} deliveries in {:.1} s",
        ws.items.len(),
        plan.len(),
        began.elapsed().as_secs_f64()
    ));
    let Some(archive_rows) = total.checked_sub(plan.len()) else {
        bail!(
            "the content alone plans {} deliveries, over --total",
            plan.len()
        );
    };
    let store = SqliteStore::open(&ws.config.data_dir().join("crier.db"))
        .await
        .context("cannot open the store")?;
    let mut months_seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut count = |d: &Planned| *months_seen.entry(local_month(d.due_at, tz)).or_default() += 1;
    plan.iter().for_each(&mut count);
    let past: Vec<Planned> = plan.iter().filter(|p| p.due_at < now).cloned().collect();
    let mut sent = store.insert_sent_for_bench(&past).await?;

    let mut older = older_deliveries(&plan, archive_rows, months, now);
    let mut made = 0;
    loop {
        let batch: Vec<Planned> = older.by_ref().take(100_000).collect();
        if batch.is_empty() {
            break;
        }
        batch.iter().for_each(&mut count);
        sent += store.insert_sent_for_bench(&batch).await?;
        made += batch.len();
        println_err(format!("{made} of {archive_rows} older deliveries"));
    }
    store.close().await;
    let busiest = months_seen
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(m, n)| (m.clone(), *n))
        .unwrap_or_default();
    let busy = plan.iter().filter(|p| p.item == BUSY).count();
    println!(
        "{}",
        serde_json::json!({
            "items": ws.items.len(),
            "planned": plan.len(),
            "sent": sent,
            "future": plan.len() - past.len(),
            "busiest_month": busiest.0,
            "busiest_month_deliveries": busiest.1,
            "busy_item": BUSY,
            "busy_item_deliveries": busy,
            "timezone": tz.name(),
            "seconds": began.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}

/// `n` deliveries of older items: copies of the content's items (all
/// their channels and occasions), each moved to a time of its own, spread
/// evenly over the `months` before now.
fn older_deliveries(
    plan: &[Planned],
    n: usize,
    months: i64,
    now: DateTime<Utc>,
) -> impl Iterator<Item = Planned> + '_ {
    let by_item = group_by_item(plan);
    let span_ms = months * 30 * 86_400_000;
    let copies = (n / (plan.len() / by_item.len()).max(1)).max(1) as i64;
    (0..)
        .flat_map(move |copy: usize| {
            let (item, rows) = by_item[copy % by_item.len()].clone();
            let back = Duration::milliseconds(span_ms * copy as i64 / copies);
            let base = minute(now - Duration::days(1) - back);
            let id = format!("{item}-archive-{}", copy / by_item.len());
            let first = rows
                .iter()
                .map(|p| p.due_at)
                .min()
                .expect("an item has rows");
            rows.into_iter().map(move |p| {
                let mut row = p.clone();
                row.item = id.clone();
                if let Some(variant) = &mut row.variant {
                    std::sync::Arc::make_mut(variant).item = id.clone();
                }
                row.due_at = base + (p.due_at - first);
                row
            })
        })
        .take(n)
}

fn group_by_item(plan: &[Planned]) -> Vec<(String, Vec<&Planned>)> {
    let mut by: BTreeMap<&str, Vec<&Planned>> = BTreeMap::new();
    for p in plan.iter().filter(|p| p.item != BUSY) {
        by.entry(&p.item).or_default().push(p);
    }
    by.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_opt(t.timestamp() / 60 * 60, 0)
        .single()
        .expect("a whole minute")
}

fn println_err(line: String) {
    eprintln!("   {line}");
}

fn local_month(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m").to_string()
}
