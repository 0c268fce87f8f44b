//! `crier subscribers import` and `POST /api/v1/subscribers/import`: one
//! CSV file into one list, with the same checks and consent rules whoever
//! asks (see [`crate::channels::import`]). Rows with `consent_at` are
//! confirmed with that time as when consent was given; the others are
//! sent the double opt-in email.

use chrono::{DateTime, NaiveDate, Utc};

use super::config::{valid_address, Options};
use super::confirm::Confirmer;
use super::digest::Cadence;
use super::links::Keyring;
use super::message::clean_name;
use crate::channels::import::{ImportRefused, ImportRequest, Imported, LineProblem};
use crate::config::Config;
use crate::store::lists::{Added, Lists, NewSubscriber, Subscriber};

/// Adds the rows of `request.csv` to the list of the email channel
/// `request.channel`; lines that cannot be added are told in the answer.
pub async fn run(
    cfg: &Config,
    lists: &dyn Lists,
    request: ImportRequest,
) -> Result<Imported, ImportRefused> {
    ImportRefused::check_size(request.csv.len() as u64)?;
    let spec = cfg
        .spec(&request.channel)
        .filter(|s| s.kind == super::KIND.name)
        .ok_or_else(|| {
            ImportRefused::invalid("channel", format!("`{}` keeps no list", request.channel))
        })?;
    let options = Options::parse(spec).map_err(ImportRefused::Unavailable)?;
    let known = options.topic_ids();
    let digest = digest_cadence(&request.channel, &options, request.digest.as_deref())?;
    let import = Import {
        source: &request.source,
        channel: request.channel.clone(),
        topics: default_topics(&request.topics, &known)?,
        known,
    };
    let mut done = Imported::default();
    let rows = import.rows(&request.csv, &mut done.problems)?;
    let now = Utc::now();
    let batch: Vec<NewSubscriber> = rows.iter().map(|(_, n)| n.clone()).collect();
    let added = lists.add_subscribers(&batch, now).await?;
    let mut pending = Vec::new();
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
            Added::Confirmed(_) => done.confirmed += 1,
            Added::Known(_) => done.already_subscribed += 1,
            Added::Pending(s) => pending.push((*line, s)),
            Added::Suppressed => done.problems.push(LineProblem {
                line: Some(*line),
                field: Some("email".into()),
                message: format!(
                    "{} was erased or suppressed; it can only come back through the subscription form (new consent)",
                    n.email
                ),
            }),
        }
    }
    lists.set_cadences(&cadences, now).await?;
    done.awaiting_confirmation = pending.len();
    done.confirmations_not_sent = confirm_pending(cfg, request.channel, options, &pending, now)
        .await
        .map_err(ImportRefused::Unavailable)?;
    Ok(done)
}

/// A consent date from a CSV cell: RFC 3339, or a day.
/// The digest asked for, checked against what the channel offers.
fn digest_cadence(
    channel: &str,
    options: &Options,
    digest: Option<&str>,
) -> Result<Option<Cadence>, ImportRefused> {
    let Some(d) = digest.filter(|d| !d.is_empty()) else {
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
        None if digests.is_empty() => Err(ImportRefused::invalid(
            "digest",
            format!("`{d}`: channel {channel} offers no digest (set the times in [channels.{channel}.digests])"),
        )),
        None => Err(ImportRefused::invalid(
            "digest",
            format!("`{d}`: channel {channel} offers {}", digests.join(" or ")),
        )),
    }
}

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
    source: &'a str,
    channel: String,
    /// The list's topic ids.
    known: Vec<&'a str>,
    /// Topics for rows without a topics column.
    topics: Vec<String>,
}

/// The default topics (comma-separated, possibly repeated), checked
/// against the list's.
fn default_topics(topics: &[String], known: &[&str]) -> Result<Vec<String>, ImportRefused> {
    let topics: Vec<String> = topics
        .iter()
        .flat_map(|t| t.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(bad) = topics.iter().find(|t| !known.contains(&t.as_str())) {
        return Err(ImportRefused::invalid(
            "topics",
            format!(
                "unknown topic `{bad}` (this list has: {})",
                known.join(", ")
            ),
        ));
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

/// The physical line of the record the reader says starts at `byte`,
/// counted in the file itself, so the numbers are the ones an editor
/// shows: the reader's position is where it began reading, before the
/// blank lines it skipped (its own line count leaves those out), and a
/// line break inside quotes is a line too.
fn line_at(csv: &[u8], byte: u64) -> u64 {
    let mut start = (byte as usize).min(csv.len());
    while matches!(csv.get(start), Some(b'\r' | b'\n')) {
        start += 1;
    }
    let before = &csv[..start];
    let breaks = before
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && before.get(i + 1) != Some(&b'\n')))
        .count();
    breaks as u64 + 1
}

/// A row's fault: the column and what is wrong.
type Fault = (&'static str, String);

impl Import<'_> {
    /// The rows that can be added, with their line numbers; the others are
    /// told in `problems`.
    fn rows(
        &self,
        csv: &[u8],
        problems: &mut Vec<LineProblem>,
    ) -> Result<Vec<(u64, NewSubscriber)>, ImportRefused> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(csv);
        let no_columns = || {
            ImportRefused::invalid(
                "file",
                "the first line must name the columns, with at least `email`",
            )
        };
        let headers = reader.headers().map_err(|_| no_columns())?;
        let columns = Columns::find(headers).ok_or_else(no_columns)?;
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    problems.push(LineProblem {
                        line: e.position().map(|p| line_at(csv, p.byte())),
                        field: None,
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| line_at(csv, p.byte()));
            match self.row(&columns, &record) {
                Ok(new) => rows.push((line, new)),
                Err((field, message)) => problems.push(LineProblem {
                    line: Some(line),
                    field: Some(field.into()),
                    message,
                }),
            }
        }
        Ok(rows)
    }

    /// One row as a new subscriber, or what is wrong with it.
    fn row(&self, c: &Columns, record: &csv::StringRecord) -> Result<NewSubscriber, Fault> {
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_string();
        let email = get(Some(c.email)).to_lowercase();
        if !valid_address(&email) {
            let shown = get(Some(c.email));
            return Err((
                "email",
                format!("`{}` is not an email address", shown.escape_debug()),
            ));
        }
        let topics: Vec<String> = match get(c.topics) {
            t if t.is_empty() => self.topics.clone(),
            t => t.split(';').map(|s| s.trim().to_string()).collect(),
        };
        if topics.is_empty() {
            return Err((
                "topics",
                "no topics (give default topics or a topics column)".into(),
            ));
        }
        if let Some(bad) = topics.iter().find(|t| !self.known.contains(&t.as_str())) {
            return Err(("topics", format!("unknown topic `{bad}`")));
        }
        let confirmed_at = self.consent_at(&get(c.consent_at))?;
        let wording = get(c.wording);
        Ok(NewSubscriber {
            channel: self.channel.clone(),
            email,
            name: Some(clean_name(&get(c.name))).filter(|s| !s.is_empty()),
            organisation: Some(clean_name(&get(c.organisation))).filter(|s| !s.is_empty()),
            topics,
            method: "import".into(),
            wording: if wording.is_empty() {
                format!("imported from {}", self.source)
            } else {
                wording
            },
            client_addr: None,
            confirmed_at,
            override_suppression: false,
        })
    }

    /// When consent was given, if the row says; evidence of consent is of
    /// something that happened.
    fn consent_at(&self, at: &str) -> Result<Option<DateTime<Utc>>, Fault> {
        if at.is_empty() {
            return Ok(None);
        }
        let fault = |what: &str| ("consent_at", format!("consent_at `{at}` {what}"));
        let time =
            consent_time(at).ok_or_else(|| fault("is not a date (2026-11-30 or RFC 3339)"))?;
        if time > Utc::now() {
            return Err(fault("is in the future"));
        }
        Ok(Some(time))
    }
}

/// Sends the double opt-in email to the rows imported without consent
/// evidence; the ones that could not be sent, by line.
async fn confirm_pending(
    cfg: &Config,
    channel: String,
    options: Options,
    pending: &[(u64, Subscriber)],
    now: DateTime<Utc>,
) -> Result<Vec<LineProblem>, String> {
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let key = Keyring::default().key(
        &crate::credentials::Credentials::new(&cfg.data_dir()),
        &channel,
    )?;
    let confirmer = Confirmer {
        channel,
        options,
        org: cfg.organisation.name.clone(),
        key,
        public_url: cfg.daemon.public_url.trim_end_matches('/').to_string(),
    };
    let mut unsent = Vec::new();
    for (line, s) in pending {
        if let Err(e) = confirmer.send(s, now).await {
            unsent.push(LineProblem {
                line: Some(*line),
                field: Some("email".into()),
                message: format!("confirmation to {} not sent: {e}", s.email),
            });
        }
    }
    Ok(unsent)
}

#[cfg(test)]
mod tests {
    use super::line_at;

    /// The line an editor shows, whatever the reader skipped or read
    /// across.
    #[test]
    fn lines_are_counted_in_the_file_blank_and_quoted_breaks_included() {
        let csv = b"email,name\n\n\nann@example.org,\"Ann\r\nTeacher\"\r\nbob@example.org,Bob\r\n";
        let mut reader = csv::ReaderBuilder::new().from_reader(&csv[..]);
        let lines: Vec<u64> = reader
            .records()
            .map(|r| line_at(csv, r.unwrap().position().unwrap().byte()))
            .collect();
        assert_eq!(lines, [4, 6]);
    }
}
