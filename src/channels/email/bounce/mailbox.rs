//! The bounce mailbox, read over IMAP every `poll_seconds` by a task the
//! channel starts (`Channel::start`).
//!
//! Never lost, never applied twice: a message is read with BODY.PEEK (so
//! reading marks nothing), its outcome committed to the store, and only
//! then moved to the processed folder (UID MOVE, a batch at a time). A
//! crash after the commit and before the move leaves it in the mailbox;
//! read again, the store finds its key already recorded and changes
//! nothing, and it is moved then.

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_imap::Session;
use crier_schedule::Clock;
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tracing::{info, warn};

use super::parse;
use crate::channels::stopping::Stopping;
use crate::secret::Secret;
use crate::store::lists::{BounceApplied, BounceEvent, SoftBounces};
use crate::store::ChannelStore;

/// Messages fetched and moved at a time.
const BATCH: usize = 200;
/// How long one IMAP step may take.
const STEP: Duration = Duration::from_secs(60);

/// Where the mailbox is: `imaps://host[:993]/FOLDER`, or `imap://` to a
/// loopback host (a test or a local relay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub folder: String,
}

impl Address {
    pub fn parse(url: &str) -> Result<Address, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let tls = match parsed.scheme() {
            "imaps" => true,
            "imap" => false,
            other => return Err(format!("`{other}:` is not imaps: or imap:")),
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("`{url}` names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !tls && !loopback {
            return Err("plain imap:// only to a loopback host; use imaps://".into());
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("no credentials in the URL: use user_env and password_env".into());
        }
        let folder = parsed.path().trim_start_matches('/');
        Ok(Address {
            host,
            port: parsed.port().unwrap_or(if tls { 993 } else { 143 }),
            tls,
            folder: if folder.is_empty() {
                "INBOX".into()
            } else {
                percent_encoding::percent_decode_str(folder)
                    .decode_utf8_lossy()
                    .into_owned()
            },
        })
    }
}

/// A connection's stream, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Stream for T {}

/// One channel's bounce mailbox and where its outcomes go.
pub struct Mailbox {
    pub channel: String,
    pub address: Address,
    pub user: Secret,
    pub password: Secret,
    pub processed: String,
    pub poll: Duration,
    pub soft: SoftBounces,
    /// The link key, which signs the VERP tokens.
    pub key: Secret,
    pub ca_file: Option<PathBuf>,
    pub store: Arc<dyn ChannelStore>,
    pub clock: Arc<dyn Clock>,
}

/// What one look at the mailbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub recorded: u64,
    pub suppressed: u64,
    /// Seen before (a crash between the commit and the move).
    pub repeated: u64,
    /// A bounce or complaint with no genuine token: not applied.
    pub unattributed: u64,
    /// Not a bounce or complaint (an auto-reply, a person).
    pub other: u64,
}

impl Mailbox {
    /// Looks at the mailbox every `poll` until the daemon stops.
    pub async fn run(self, stopping: Stopping) {
        loop {
            let look = tokio::select! {
                t = self.poll_once(&stopping) => t,
                _ = stopping.wait() => return,
            };
            match look {
                Ok(t) if t != Tally::default() => {
                    info!(channel = %self.channel, recorded = t.recorded, suppressed = t.suppressed,
                        repeated = t.repeated, unattributed = t.unattributed, other = t.other,
                        "bounce mailbox processed");
                }
                Ok(_) => {}
                Err(e) => warn!(channel = %self.channel, "bounce mailbox: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                _ = stopping.wait() => return,
            }
        }
    }

    /// Processes every message in the folder now; stops early (between
    /// batches) when the daemon stops.
    pub async fn poll_once(&self, stopping: &Stopping) -> Result<Tally, String> {
        let mut session = self.open().await?;
        let result = self.process(&mut session, stopping).await;
        let _ = tokio::time::timeout(STEP, session.logout()).await;
        result
    }

    async fn open(&self) -> Result<Session<Box<dyn Stream>>, String> {
        let a = &self.address;
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            format!("IMAP {}:{}: {what}: {e}", a.host, a.port)
        };
        let tcp = step(TcpStream::connect((a.host.as_str(), a.port)))
            .await
            .map_err(|e| fail("connect", &e))?;
        let stream: Box<dyn Stream> = if a.tls {
            let tls = super::super::sender::tls_stream(tcp, &a.host, self.ca_file.as_deref());
            Box::new(
                step(async { tls.await.map_err(std::io::Error::other) })
                    .await
                    .map_err(|e| fail("TLS", &e))?,
            )
        } else {
            Box::new(tcp)
        };
        let mut client = async_imap::Client::new(stream);
        step(async {
            client
                .read_response()
                .await
                .map_err(std::io::Error::other)?
                .ok_or_else(|| std::io::Error::other("no greeting"))
        })
        .await
        .map_err(|e| fail("greeting", &e))?;
        let login = tokio::time::timeout(
            STEP,
            client.login(self.user.expose(), self.password.expose()),
        )
        .await
        .map_err(|_| fail("LOGIN", &"timed out"))?;
        // The server's answer only: never the credentials.
        let mut session = login.map_err(|(e, _)| fail("LOGIN refused", &e))?;
        // Created once; "already exists" is the usual answer.
        let _ = step(async {
            session
                .create(&self.processed)
                .await
                .map_err(std::io::Error::other)
        })
        .await;
        step(async {
            session
                .select(&a.folder)
                .await
                .map_err(std::io::Error::other)
        })
        .await
        .map_err(|e| fail(&format!("opening folder {}", a.folder), &e))?;
        Ok(session)
    }

    async fn process(
        &self,
        session: &mut Session<Box<dyn Stream>>,
        stopping: &Stopping,
    ) -> Result<Tally, String> {
        let mut uids: Vec<u32> = step(async {
            session
                .uid_search("ALL")
                .await
                .map_err(std::io::Error::other)
        })
        .await
        .map_err(|e| format!("UID SEARCH: {e}"))?
        .into_iter()
        .collect();
        uids.sort_unstable();
        let mut tally = Tally::default();
        for batch in uids.chunks(BATCH) {
            if stopping.is_set() {
                break;
            }
            let set = join(batch);
            let fetched: Vec<(u32, Vec<u8>)> = step(async {
                let stream = session
                    .uid_fetch(&set, "(UID BODY.PEEK[])")
                    .await
                    .map_err(std::io::Error::other)?;
                let all: Vec<_> = stream.try_collect().await.map_err(std::io::Error::other)?;
                Ok(all
                    .iter()
                    .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
                    .collect())
            })
            .await
            .map_err(|e| format!("UID FETCH: {e}"))?;
            let mut done = Vec::with_capacity(fetched.len());
            let mut failed = None;
            for (uid, body) in &fetched {
                match self.apply(body, &mut tally).await {
                    Ok(()) => done.push(*uid),
                    Err(e) => {
                        // Left in the mailbox, unmarked: read again next time.
                        failed = Some(e);
                        break;
                    }
                }
            }
            if !done.is_empty() {
                // Only now, with every outcome in `done` committed.
                let set = join(&done);
                step(async {
                    session
                        .uid_mv(&set, &self.processed)
                        .await
                        .map_err(std::io::Error::other)
                })
                .await
                .map_err(|e| format!("UID MOVE to {}: {e}", self.processed))?;
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(tally)
    }

    /// Reads one message and commits its outcome; `Err` only when the
    /// store could not record it (the message stays in the mailbox).
    async fn apply(&self, raw: &[u8], tally: &mut Tally) -> Result<(), String> {
        let read = parse::read(raw, &self.key, &self.channel);
        let (report, sent) = match (read.report, read.sent) {
            (None, _) => {
                tally.other += 1;
                return Ok(());
            }
            (Some(_), None) => {
                // Never guessed from an address: without a genuine token it
                // could suppress someone who never bounced.
                warn!(channel = %self.channel, message = %read.key,
                    "a bounce or complaint with no genuine crier token; moved aside, not applied");
                tally.unattributed += 1;
                return Ok(());
            }
            (Some(r), Some(s)) => (r, s),
        };
        let event = BounceEvent {
            key: read.key,
            channel: self.channel.clone(),
            delivery_id: sent.delivery,
            subscriber_id: sent.subscriber,
            kind: report.kind,
            source: "mailbox".into(),
            status: report.status,
            detail: report.detail,
        };
        let applied = self
            .store
            .lists()
            .record_bounce(&event, self.soft, self.clock.now())
            .await
            .map_err(|e| format!("cannot record a bounce: {e}"))?;
        match applied {
            BounceApplied::Duplicate => tally.repeated += 1,
            BounceApplied::Counted => tally.recorded += 1,
            BounceApplied::Suppressed => {
                tally.recorded += 1;
                tally.suppressed += 1;
            }
        }
        Ok(())
    }
}

fn join(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// One IMAP step, bounded by [`STEP`].
async fn step<T>(f: impl std::future::Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    tokio::time::timeout(STEP, f)
        .await
        .map_err(|_| std::io::Error::other("timed out"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_addresses() {
        let a = Address::parse("imaps://mail.example.org/Bounces").unwrap();
        assert_eq!((a.port, a.tls, a.folder.as_str()), (993, true, "Bounces"));
        let l = Address::parse("imap://127.0.0.1:14143").unwrap();
        assert_eq!((l.port, l.tls, l.folder.as_str()), (14143, false, "INBOX"));
        assert!(Address::parse("imap://mail.example.org/INBOX")
            .unwrap_err()
            .contains("loopback"));
        assert!(Address::parse("imaps://u:p@mail.example.org/")
            .unwrap_err()
            .contains("no credentials"));
        assert!(Address::parse("pop3://mail.example.org").is_err());
    }
}
