//! `crier subscribers list|export|erase|import`: the comms team's view of
//! the email lists, and a person's rights (access, erasure) on request.
//! The email kind adds this command to `crier` through its
//! [`KindHooks`](crate::channels::registry::KindHooks).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{FromArgMatches, Subcommand};

use super::config::{valid_address, Options};
use super::confirm::Confirmer;
use super::digest::Cadence;
use super::links::Keyring;
use super::message::clean_name;
use crate::config::Config;
use crate::delivery::{Delivery, Progress};
use crate::store::lists::{Added, Lists, NewSubscriber, Subscriber};
use crate::store::StoreError;

/// An import larger than this is refused whole, before anything is read.
pub const MAX_IMPORT_BYTES: u64 = 10 * 1024 * 1024;

#[derive(Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    #[default]
    Csv,
    Json,
}

#[derive(Subcommand)]
enum Action {
    /// Subscribers of an email channel, optionally of one topic.
    List {
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        topic: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
    },
    /// Everything held about one address, as JSON.
    Export { email: String },
    /// Deletes everything about one address; keeps only a hash so no
    /// import can add it again.
    Erase { email: String },
    /// Adds subscribers from a CSV file (columns: email, and optionally
    /// name, organisation, topics, consent_at, consent_wording). Rows with
    /// consent_at are confirmed; the others get a confirmation email.
    Import {
        file: PathBuf,
        /// Topics for rows without a topics column (comma-separated).
        #[arg(long, value_delimiter = ',')]
        topics: Vec<String>,
        #[arg(long)]
        channel: Option<String>,
        /// New subscribers take their topics as this digest (`daily` or
        /// `weekly`, as the channel's `digests` table offers) instead of
        /// every item.
        #[arg(long)]
        digest: Option<String>,
    },
}

/// The `subscribers` subcommand, as `crier --help` lists it.
pub fn command() -> clap::Command {
    let command = clap::Command::new("subscribers")
        .about("Email subscribers: list, export or erase one person's data, import a CSV")
        .subcommand_required(true)
        .arg_required_else_help(true);
    Action::augment_subcommands(command)
}

pub async fn run(
    matches: &clap::ArgMatches,
    cfg: Config,
    lists: &dyn Lists,
) -> anyhow::Result<ExitCode> {
    match Action::from_arg_matches(matches)? {
        Action::List {
            channel,
            topic,
            format,
        } => list(&cfg, lists, channel, topic, format).await,
        Action::Export { email } => export(lists, &email).await,
        Action::Erase { email } => erase(&cfg, lists, &email).await,
        Action::Import {
            file,
            topics,
            channel,
            digest,
        } => import(&cfg, lists, &file, channel, topics, digest).await,
    }
}

/// For `crier queue show --follow`: a send's outcomes so far and how many
/// subscribers are still owed it; `None` if it is not a send to a list.
pub async fn owed(
    d: &Delivery,
    lists: &dyn Lists,
) -> Result<Option<(Progress, Option<u64>)>, StoreError> {
    // A list's variant names the topics whose subscribers receive it.
    let Some((topics, cadence)) = super::digest::audience(&d.variant) else {
        return Ok(None);
    };
    // Two queries, while the sender commits between them: read the
    // outcomes again after the pending list and keep a pair that no commit
    // came between, so the total stays the total.
    let mut before = lists.progress(d.id).await?;
    let mut tries = 0;
    loop {
        let pending = lists
            .pending_recipients(d.id, &d.channel, &topics, cadence.as_str())
            .await?;
        let after = lists.progress(d.id).await?;
        tries += 1;
        let settled = (before.sent, before.bounced, before.deferred)
            == (after.sent, after.bounced, after.deferred);
        if settled || tries == 5 {
            return Ok(Some((after, Some(pending.len() as u64))));
        }
        before = after;
    }
}

/// The email channel meant: the one named, or the only one.
fn channel(cfg: &Config, name: Option<&str>) -> anyhow::Result<(String, Options)> {
    let emails: Vec<_> = cfg
        .channels
        .iter()
        .filter(|c| c.kind == super::KIND.name)
        .collect();
    let spec = match name {
        Some(n) => emails
            .iter()
            .find(|c| c.name == n)
            .ok_or_else(|| anyhow::anyhow!("no email channel `{n}` in channels.toml"))?,
        None => match emails.as_slice() {
            [one] => one,
            [] => anyhow::bail!("channels.toml has no email channel"),
            _ => anyhow::bail!("several email channels: choose one with --channel"),
        },
    };
    let options = Options::parse(spec).map_err(|e| anyhow::anyhow!(e))?;
    Ok((spec.name.clone(), options))
}

async fn list(
    cfg: &Config,
    lists: &dyn Lists,
    name: Option<String>,
    topic: Option<String>,
    format: ListFormat,
) -> anyhow::Result<ExitCode> {
    let (channel, _) = channel(cfg, name.as_deref())?;
    let subs = lists.subscribers(Some(&channel), topic.as_deref()).await?;
    match format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&subs)?),
        ListFormat::Csv => write_csv(&subs)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_csv(subs: &[Subscriber]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout());
    w.write_record([
        "email",
        "name",
        "organisation",
        "status",
        "topics",
        "confirmed_at",
    ])?;
    for s in subs {
        w.write_record([
            s.email.as_str(),
            s.name.as_deref().unwrap_or(""),
            s.organisation.as_deref().unwrap_or(""),
            s.status.as_str(),
            &s.topics.join(";"),
            &s.confirmed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

async fn export(lists: &dyn Lists, email: &str) -> anyhow::Result<ExitCode> {
    let data = lists.export(&email.trim().to_lowercase()).await?;
    println!("{}", serde_json::to_string_pretty(&data)?);
    Ok(ExitCode::SUCCESS)
}

async fn erase(cfg: &Config, lists: &dyn Lists, email: &str) -> anyhow::Result<ExitCode> {
    let email = email.trim().to_lowercase();
    let channels: Vec<String> = cfg
        .channels
        .iter()
        .filter(|c| c.kind == super::KIND.name)
        .map(|c| c.name.clone())
        .collect();
    let n = lists.erase(&email, &channels, Utc::now()).await?;
    println!(
        "erased {n} subscription(s) of {email}; only a hash remains on the suppression list, \
         so no import can add this address again"
    );
    Ok(ExitCode::SUCCESS)
}

/// A consent date from a CSV cell: RFC 3339, or a day.
fn consent_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

/// What an import adds to one list, and with what defaults.
struct Import<'a> {
    file: &'a Path,
    channel: String,
    /// The list's topic ids.
    known: Vec<&'a str>,
    /// Topics for rows without a topics column.
    topics: Vec<String>,
}

async fn import(
    cfg: &Config,
    lists: &dyn Lists,
    file: &Path,
    name: Option<String>,
    topics: Vec<String>,
    digest: Option<String>,
) -> anyhow::Result<ExitCode> {
    check_size(file)?;
    let (channel, options) = channel(cfg, name.as_deref())?;
    let digest = digest_cadence(&channel, &options, digest.as_deref())?;
    let import = Import {
        file,
        channel: channel.clone(),
        known: options.topic_ids(),
        topics: default_topics(&topics, &options.topic_ids())?,
    };
    let mut problems = Vec::new();
    let rows = import.rows(&mut problems)?;
    let now = Utc::now();
    let batch: Vec<NewSubscriber> = rows.iter().map(|(_, n)| n.clone()).collect();
    let added = lists.add_subscribers(&batch, now).await?;
    let (mut confirmed, mut known_n, mut pending) = (0, 0, Vec::new());
    let mut cadences = Vec::new();
    for ((line, n), a) in rows.iter().zip(added) {
        if let (Some(c), Added::Confirmed(s) | Added::Pending(s)) = (digest, &a) {
            cadences.extend(
                n.topics
                    .iter()
                    .map(|t| (s.id, t.clone(), c.as_str().into())),
            );
        }
        match a {
            Added::Confirmed(_) => confirmed += 1,
            Added::Known(_) => known_n += 1,
            Added::Pending(s) => pending.push(s),
            Added::Suppressed => problems.push(format!(
                "line {line}: {} was erased or suppressed; it can only come back through the subscription form (new consent)",
                n.email
            )),
        }
    }
    lists.set_cadences(&cadences, now).await?;
    let unsent = confirm_pending(cfg, channel, options, &pending, now).await?;
    for p in &problems {
        eprintln!("{p}");
    }
    println!(
        "imported {} ({confirmed} confirmed with consent evidence, {} awaiting confirmation{}), {known_n} already on the list, {} refused",
        confirmed + pending.len(),
        pending.len(),
        if unsent > 0 { format!(", {unsent} confirmation emails not sent") } else { String::new() },
        problems.len()
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `--digest`, checked against what the channel offers.
fn digest_cadence(
    channel: &str,
    options: &Options,
    digest: Option<&str>,
) -> anyhow::Result<Option<Cadence>> {
    let Some(d) = digest else {
        return Ok(None);
    };
    let offered = options.digest_times(channel).offered();
    let digests: Vec<&str> = offered
        .iter()
        .filter(|c| **c != Cadence::Item)
        .map(|c| c.as_str())
        .collect();
    match Cadence::parse(d).filter(|c| *c != Cadence::Item && offered.contains(c)) {
        Some(c) => Ok(Some(c)),
        None if digests.is_empty() => anyhow::bail!(
            "--digest {d}: channel {channel} offers no digest (set the times in [channels.{channel}.digests])"
        ),
        None => anyhow::bail!(
            "--digest {d}: channel {channel} offers {}",
            digests.join(" or ")
        ),
    }
}

/// Refuses a file that cannot be read or is too big, before anything is.
fn check_size(file: &Path) -> anyhow::Result<()> {
    let size = std::fs::metadata(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
        .len();
    if size > MAX_IMPORT_BYTES {
        anyhow::bail!(
            "{} is {:.1} MB; an import takes at most {} MB. Split it into smaller files; nothing was imported",
            file.display(),
            size as f64 / 1e6,
            MAX_IMPORT_BYTES / 1024 / 1024
        );
    }
    Ok(())
}

/// `--topics`, split on commas and checked against the list's.
fn default_topics(topics: &[String], known: &[&str]) -> anyhow::Result<Vec<String>> {
    let topics: Vec<String> = topics
        .iter()
        .flat_map(|t| t.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(bad) = topics.iter().find(|t| !known.contains(&t.as_str())) {
        anyhow::bail!(
            "unknown topic `{bad}` (this list has: {})",
            known.join(", ")
        );
    }
    Ok(topics)
}

/// Where each column is, by its header; only `email` is required.
struct Columns {
    email: usize,
    name: Option<usize>,
    organisation: Option<usize>,
    consent_at: Option<usize>,
    wording: Option<usize>,
    topics: Option<usize>,
}

impl Columns {
    fn find(headers: &csv::StringRecord) -> Option<Columns> {
        let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
        Some(Columns {
            email: col("email")?,
            name: col("name"),
            organisation: col("organisation"),
            consent_at: col("consent_at"),
            wording: col("consent_wording"),
            topics: col("topics"),
        })
    }
}

impl Import<'_> {
    /// The rows that can be added, with their line numbers; the others are
    /// told in `problems`.
    fn rows(&self, problems: &mut Vec<String>) -> anyhow::Result<Vec<(u64, NewSubscriber)>> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_path(self.file)?;
        let Some(columns) = Columns::find(reader.headers()?) else {
            anyhow::bail!(
                "{}: the first line must name the columns, with at least `email`",
                self.file.display()
            );
        };
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{}: {e}", self.file.display()));
                    continue;
                }
            };
            // The physical line, so a name with a line break in quotes
            // does not shift the numbers people look up.
            let line = record.position().map_or(0, |p| p.line());
            match self.row(&columns, &record) {
                Ok(new) => rows.push((line, new)),
                Err(problem) => problems.push(format!("line {line}: {problem}")),
            }
        }
        Ok(rows)
    }

    /// One row as a new subscriber, or what is wrong with it.
    fn row(&self, c: &Columns, record: &csv::StringRecord) -> Result<NewSubscriber, String> {
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_string();
        let email = get(Some(c.email)).to_lowercase();
        if !valid_address(&email) {
            return Err(format!(
                "`{}` is not an email address",
                get(Some(c.email)).escape_debug()
            ));
        }
        let topics: Vec<String> = match get(c.topics) {
            t if t.is_empty() => self.topics.clone(),
            t => t.split(';').map(|s| s.trim().to_string()).collect(),
        };
        if topics.is_empty() {
            return Err("no topics (give --topics or a topics column)".into());
        }
        if let Some(bad) = topics.iter().find(|t| !self.known.contains(&t.as_str())) {
            return Err(format!("unknown topic `{bad}`"));
        }
        let at = get(c.consent_at);
        let confirmed_at = match at.as_str() {
            "" => None,
            at => Some(consent_time(at).ok_or_else(|| {
                format!("consent_at `{at}` is not a date (2026-11-30 or RFC 3339)")
            })?),
        };
        // Evidence of consent is of something that happened.
        if confirmed_at.is_some_and(|t| t > chrono::Utc::now()) {
            return Err(format!("consent_at `{at}` is in the future"));
        }
        let wording = get(c.wording);
        Ok(NewSubscriber {
            channel: self.channel.clone(),
            email,
            name: Some(clean_name(&get(c.name))).filter(|s| !s.is_empty()),
            organisation: Some(clean_name(&get(c.organisation))).filter(|s| !s.is_empty()),
            topics,
            method: "import".into(),
            wording: if wording.is_empty() {
                format!("imported from {}", self.file.display())
            } else {
                wording
            },
            client_addr: None,
            confirmed_at,
            override_suppression: false,
        })
    }
}

/// Sends the double opt-in email to the rows imported without consent
/// evidence; returns how many could not be sent (each told on stderr).
async fn confirm_pending(
    cfg: &Config,
    channel: String,
    options: Options,
    pending: &[Subscriber],
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    if pending.is_empty() {
        return Ok(0);
    }
    let key = Keyring::default()
        .key(
            &crate::credentials::Credentials::new(&cfg.data_dir()),
            &channel,
        )
        .map_err(|e| anyhow::anyhow!(e))?;
    let confirmer = Confirmer {
        channel,
        options,
        org: cfg.organisation.name.clone(),
        key,
        public_url: cfg.daemon.public_url.trim_end_matches('/').to_string(),
    };
    let mut unsent = 0;
    for s in pending {
        if let Err(e) = confirmer.send(s, now).await {
            unsent += 1;
            eprintln!("confirmation to {} not sent: {e}", s.email);
        }
    }
    Ok(unsent)
}
