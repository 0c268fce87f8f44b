//! `crier subscribers list|export|erase|import`: the comms team's view of
//! the email lists, and a person's rights (access, erasure) on request.
//! The email kind adds this command to `crier` through its
//! [`KindHooks`](crate::channels::registry::KindHooks).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use clap::{FromArgMatches, Subcommand};

use super::config::Options;
use crate::channels::import::{ImportRefused, ImportRequest};
use crate::config::Config;
use crate::delivery::{Delivery, Progress};
use crate::store::lists::{Lists, Subscriber};
use crate::store::StoreError;

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

async fn import(
    cfg: &Config,
    lists: &dyn Lists,
    file: &Path,
    name: Option<String>,
    topics: Vec<String>,
    digest: Option<String>,
) -> anyhow::Result<ExitCode> {
    let refused = |e: ImportRefused| anyhow::anyhow!("{}: {e}", file.display());
    let size = std::fs::metadata(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
        .len();
    // Before reading it: a file too big is refused whole.
    ImportRefused::check_size(size).map_err(refused)?;
    let csv =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let (channel, _) = channel(cfg, name.as_deref())?;
    let request = ImportRequest {
        channel,
        source: file.display().to_string(),
        csv,
        topics,
        digest,
    };
    let done = super::import::run(cfg, lists, request)
        .await
        .map_err(refused)?;
    for p in done.problems.iter().chain(&done.confirmations_not_sent) {
        eprintln!("{p}");
    }
    let unsent = done.confirmations_not_sent.len();
    println!(
        "imported {} ({} confirmed with consent evidence, {} awaiting confirmation{}), {} already on the list, {} refused",
        done.imported(),
        done.confirmed,
        done.awaiting_confirmation,
        if unsent > 0 { format!(", {unsent} confirmation emails not sent") } else { String::new() },
        done.already_subscribed,
        done.problems.len()
    );
    Ok(if done.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
