//! `crier subscribers list|export|erase|import`: the comms team's view of
//! the email lists, and a person's rights (access, erasure) on request.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::with_store;
use crate::channels::email::config::{valid_address, Options};
use crate::channels::email::confirm::Confirmer;
use crate::channels::email::links::Keyring;
use crate::channels::email::message::clean_name;
use crate::config::Config;
use crate::store::lists::{Added, NewSubscriber};

/// An import larger than this is refused whole, before anything is read.
pub const MAX_IMPORT_BYTES: u64 = 10 * 1024 * 1024;

#[derive(Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    #[default]
    Csv,
    Json,
}

/// The email channel meant: the one named, or the only one.
fn channel(cfg: &Config, name: Option<&str>) -> anyhow::Result<(String, Options)> {
    let emails: Vec<_> = cfg.channels.iter().filter(|c| c.kind == "email").collect();
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

pub fn list(
    config: &Path,
    name: Option<String>,
    topic: Option<String>,
    format: ListFormat,
) -> ExitCode {
    with_store(config, |cfg, store| async move {
        let (channel, _) = channel(&cfg, name.as_deref())?;
        let subs = store
            .lists()
            .subscribers(Some(&channel), topic.as_deref())
            .await?;
        match format {
            ListFormat::Json => println!("{}", serde_json::to_string_pretty(&subs)?),
            ListFormat::Csv => {
                let mut w = csv::Writer::from_writer(std::io::stdout());
                w.write_record([
                    "email",
                    "name",
                    "organisation",
                    "status",
                    "topics",
                    "confirmed_at",
                ])?;
                for s in &subs {
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
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn export(config: &Path, email: String) -> ExitCode {
    with_store(config, |_, store| async move {
        let data = store.lists().export(&email.trim().to_lowercase()).await?;
        println!("{}", serde_json::to_string_pretty(&data)?);
        Ok(ExitCode::SUCCESS)
    })
}

pub fn erase(config: &Path, email: String) -> ExitCode {
    with_store(config, |cfg, store| async move {
        let email = email.trim().to_lowercase();
        let channels: Vec<String> = cfg
            .channels
            .iter()
            .filter(|c| c.kind == "email")
            .map(|c| c.name.clone())
            .collect();
        let n = store.lists().erase(&email, &channels, Utc::now()).await?;
        println!(
            "erased {n} subscription(s) of {email}; only a hash remains on the suppression list, \
             so no import can add this address again"
        );
        Ok(ExitCode::SUCCESS)
    })
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

pub fn import(config: &Path, file: &Path, name: Option<String>, topics: Vec<String>) -> ExitCode {
    let size = match std::fs::metadata(file) {
        Ok(m) => m.len(),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return ExitCode::from(1);
        }
    };
    if size > MAX_IMPORT_BYTES {
        eprintln!(
            "error: {} is {:.1} MB; an import takes at most {} MB. Split it into smaller files; nothing was imported",
            file.display(),
            size as f64 / 1e6,
            MAX_IMPORT_BYTES / 1024 / 1024
        );
        return ExitCode::from(1);
    }
    let file = file.to_path_buf();
    with_store(config, |cfg, store| async move {
        let (channel, options) = channel(&cfg, name.as_deref())?;
        let known = options.topic_ids();
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
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_path(&file)?;
        let headers = reader.headers()?.clone();
        let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
        let Some(email_col) = col("email") else {
            anyhow::bail!(
                "{}: the first line must name the columns, with at least `email`",
                file.display()
            );
        };
        let (name_col, org_col, at_col, wording_col, topics_col) = (
            col("name"),
            col("organisation"),
            col("consent_at"),
            col("consent_wording"),
            col("topics"),
        );
        let mut problems = Vec::new();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{}: {e}", file.display()));
                    continue;
                }
            };
            // The physical line, so a name with a line break in quotes
            // does not shift the numbers people look up.
            let line = record.position().map_or(0, |p| p.line());
            let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_string();
            let email = get(Some(email_col)).to_lowercase();
            if !valid_address(&email) {
                problems.push(format!(
                    "line {line}: `{}` is not an email address",
                    get(Some(email_col)).escape_debug()
                ));
                continue;
            }
            let row_topics: Vec<String> = match get(topics_col) {
                t if t.is_empty() => topics.clone(),
                t => t.split(';').map(|s| s.trim().to_string()).collect(),
            };
            if row_topics.is_empty() {
                problems.push(format!(
                    "line {line}: no topics (give --topics or a topics column)"
                ));
                continue;
            }
            if let Some(bad) = row_topics.iter().find(|t| !known.contains(&t.as_str())) {
                problems.push(format!("line {line}: unknown topic `{bad}`"));
                continue;
            }
            let at = get(at_col);
            let confirmed_at = if at.is_empty() {
                None
            } else {
                match consent_time(&at) {
                    Some(t) => Some(t),
                    None => {
                        problems.push(format!(
                            "line {line}: consent_at `{at}` is not a date (2026-11-30 or RFC 3339)"
                        ));
                        continue;
                    }
                }
            };
            let wording = get(wording_col);
            rows.push((
                line,
                NewSubscriber {
                    channel: channel.clone(),
                    email,
                    name: Some(clean_name(&get(name_col))).filter(|s| !s.is_empty()),
                    organisation: Some(clean_name(&get(org_col))).filter(|s| !s.is_empty()),
                    topics: row_topics,
                    method: "import".into(),
                    wording: if wording.is_empty() {
                        format!("imported from {}", file.display())
                    } else {
                        wording
                    },
                    client_addr: None,
                    confirmed_at,
                    override_suppression: false,
                },
            ));
        }
        let now = Utc::now();
        let batch: Vec<NewSubscriber> = rows.iter().map(|(_, n)| n.clone()).collect();
        let added = store.lists().add_subscribers(&batch, now).await?;
        let (mut confirmed, mut known_n, mut pending) = (0, 0, Vec::new());
        for ((line, n), a) in rows.iter().zip(added) {
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
        let mut unsent = 0;
        if !pending.is_empty() {
            let key = Keyring::default()
                .key(
                    &crate::credentials::Credentials::new(&cfg.data_dir()),
                    &channel,
                )
                .map_err(|e| anyhow::anyhow!(e))?;
            let confirmer = Arc::new(Confirmer {
                channel: channel.clone(),
                options,
                org: cfg.organisation.name.clone(),
                key,
                public_url: cfg.daemon.public_url.trim_end_matches('/').to_string(),
            });
            for s in &pending {
                if let Err(e) = confirmer.send(s, now).await {
                    unsent += 1;
                    eprintln!("confirmation to {} not sent: {e}", s.email);
                }
            }
        }
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
    })
}
