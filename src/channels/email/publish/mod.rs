//! Sending one email delivery to everyone it is owed to.
//!
//! One delivery in the queue, many recipients: each recipient's SMTP
//! outcome is written to the store before that worker sends its next
//! message. So at any moment at most `concurrency` messages are accepted
//! but unrecorded, and a send interrupted anywhere resumes with exactly the
//! recipients that have no final record (see ARCHITECTURE.md, "Email").
//!
//! When the daemon stops, the send stops at a recipient boundary: no new
//! message starts, the ones already handed to the server are answered and
//! recorded (the writer drains), and the delivery resumes on the next start
//! with whoever is left ([`PublishError::Stopped`]).
//!
//! Files: this one sets a send up and sums it up; `feed.rs` hands out
//! recipients, checked again in batches; `worker.rs` sends (one connection
//! per worker, paced); `writer.rs` group-commits the outcomes.

mod feed;
mod worker;
mod writer;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::dkim::DkimConfig;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::info;

use super::config::Options;
use super::digest::build::{Built, Digest};
use super::digest::{self, audience, Cadence};
use super::message::{self, Content};
use super::sender::Smtp;
use super::Email;
use crate::channels::stopping::Stopping;
use crate::channels::{Job, PublishError, Services};
use crate::delivery::Receipt;
use crate::secret::Secret;
use crate::store::lists::Recipient;
use crate::store::ChannelStore;
use feed::Feed;
use worker::{Control, Pacer};
use writer::{Record, Writer};

/// Everything the workers share for one send.
struct Shared {
    delivery: i64,
    channel: String,
    options: Options,
    /// The message parts every recipient shares, encoded once.
    prepared: message::Prepared,
    base_url: String,
    /// The envelope sender's domain (`verp.rs`).
    bounce_domain: String,
    /// The relay whose event header each message carries.
    relay: Option<String>,
    key: Secret,
    dkim: Option<DkimConfig>,
    smtp: Smtp,
    store: Arc<dyn ChannelStore>,
    topics: Vec<String>,
    /// Who takes `topics` this way: every item, or a digest's cadence.
    cadence: Cadence,
    queue: Mutex<Feed>,
    /// Held by the one worker checking the next batch.
    refill: tokio::sync::Mutex<()>,
    /// Recipients no longer owed when their batch was checked.
    skipped: AtomicU64,
    /// Messages still allowed by the per-hour cap.
    budget: AtomicI64,
    control: Arc<Control>,
    /// The daemon is stopping: no new message starts.
    stopping: Stopping,
    pacer: Pacer,
    records: mpsc::Sender<Record>,
    sent: AtomicU64,
    bounced: AtomicU64,
    deferred: AtomicU64,
    /// Bytes of the messages accepted (logged: what a send costs the relay).
    bytes: AtomicU64,
}

/// What is read and built once, before the first message.
struct Setup {
    options: Options,
    topics: Vec<String>,
    cadence: Cadence,
    key: Secret,
    dkim: Option<DkimConfig>,
    prepared: message::Prepared,
    auth: Option<(Secret, Secret)>,
    recipients: Vec<Recipient>,
    /// Messages the per-hour cap still allows.
    budget: i64,
}

pub async fn run(
    email: &Email,
    job: &Job<'_>,
    services: &Services,
) -> Result<Receipt, PublishError> {
    let d = job.delivery;
    let began = Instant::now();
    let digest = match Digest::of(job.variant) {
        None => None,
        Some(digest) => match digest::build::build(email, &digest, services).await? {
            Some(built) => {
                let build_ms = began.elapsed().as_secs_f64() * 1e3;
                info!(delivery = d.id, channel = %email.name, items = built.items, build_ms, "digest built");
                Some(built)
            }
            None => return Ok(no_digest(&digest)),
        },
    };
    let setup = setup(email, job, services, digest.as_ref()).await?;
    let total = setup.recipients.len();
    let (tx, rx) = mpsc::channel(setup.options.concurrency * 2);
    let shared = Arc::new(Shared::new(email, d.id, services, setup, tx));
    info!(delivery = d.id, channel = %email.name, recipients = total, "email send starting");
    let writer = tokio::spawn(writer::run(
        rx,
        Writer {
            store: services.store.clone(),
            clock: services.clock.clone(),
            control: shared.control.clone(),
            delivery: d.id,
            channel: email.name.clone(),
            bounce_limit: shared.options.bounce_limit,
            lease_span: lease_span(job, services.clock.now()),
            lease_left: lease_left(job, services.clock.now()),
            total,
        },
    ));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..shared.options.concurrency.min(total.max(1)) {
        workers.spawn(worker::run(shared.clone()));
    }
    while workers.join_next().await.is_some() {}
    let shared =
        Arc::try_unwrap(shared).map_err(|_| retry("workers still running".into(), None))?;
    // The workers are done and the last sender goes with `shared`: the
    // writer ends once it has written every outcome handed to it.
    let tally = Tally::of(shared, total);
    let _ = writer.await;
    info!(
        delivery = d.id,
        channel = %email.name,
        sent = tally.sent,
        bytes = tally.bytes,
        elapsed_s = began.elapsed().as_secs_f64(),
        "email send finished: {}",
        tally.summary()
    );
    tally.outcome()
}

/// A digest whose period published nothing of its topic: sent to no one.
fn no_digest(digest: &Digest) -> Receipt {
    Receipt {
        remote_id: Some(format!(
            "no digest: nothing of topic `{}` was published in the period",
            digest.topic
        )),
        remote_url: None,
    }
}

/// Options, key, DKIM, the shared message parts (the variant's, or the
/// digest built for this send), credentials, who is owed the message, and
/// how many the hourly cap allows.
async fn setup(
    email: &Email,
    job: &Job<'_>,
    services: &Services,
    digest: Option<&Built>,
) -> Result<Setup, PublishError> {
    let v = job.variant;
    let options = email.options.clone();
    let (topics, cadence) = audience(v).unwrap_or((Vec::new(), Cadence::Item));
    let key = email
        .keyring
        .key(&services.credentials, &email.name)
        .map_err(PublishError::permanent)?;
    let dkim = message::dkim_config(&options).map_err(PublishError::permanent)?;
    let content = match digest {
        Some(b) => Content {
            subject: &b.subject,
            text: &b.text,
            html: &b.html,
        },
        None => Content {
            subject: v.subject.as_deref().unwrap_or_default(),
            text: &v.text,
            html: v.html.as_deref().unwrap_or_default(),
        },
    };
    let prepared =
        message::prepare(&options, &email.org, &content).map_err(PublishError::permanent)?;
    let auth = options
        .smtp_auth()
        .map_err(|e| PublishError::credentials(e.to_string()))?;
    let recipients = services
        .store
        .lists()
        .pending_recipients(job.delivery.id, &email.name, &topics, cadence.as_str())
        .await
        .map_err(|e| retry(format!("cannot read the recipients: {e}"), None))?;
    let budget = hourly_budget(email, &options, services, !recipients.is_empty()).await?;
    Ok(Setup {
        options,
        topics,
        cadence,
        key,
        dkim,
        prepared,
        auth,
        recipients,
        budget,
    })
}

/// Messages the per-hour cap still allows; a retry for when the oldest
/// message of the hour leaves the window if none (and someone is owed).
async fn hourly_budget(
    email: &Email,
    options: &Options,
    services: &Services,
    anyone: bool,
) -> Result<i64, PublishError> {
    let Some(cap) = options.max_per_hour else {
        return Ok(i64::MAX);
    };
    let now = services.clock.now();
    let (n, oldest) = services
        .store
        .lists()
        .sent_since(&email.name, now - chrono::TimeDelta::hours(1))
        .await
        .map_err(|e| retry(e.to_string(), None))?;
    let left = cap.saturating_sub(n);
    if left == 0 && anyone {
        return Err(retry(
            format!("the hourly cap of {cap} messages is reached"),
            Some(until_free(oldest, now)),
        ));
    }
    Ok(i64::try_from(left).unwrap_or(i64::MAX))
}

/// What the dispatcher's lease has left: the writer renews it within a
/// third of that (it may be far less than `lease_span`).
fn lease_left(job: &Job<'_>, now: DateTime<Utc>) -> Duration {
    job.delivery
        .lease_expires_at
        .and_then(|t| (t - now).to_std().ok())
        .unwrap_or(Duration::ZERO)
}

/// How far each renewal extends the lease (at least 30 s): the writer
/// renews it every third.
fn lease_span(job: &Job<'_>, now: DateTime<Utc>) -> Duration {
    job.delivery
        .lease_expires_at
        .and_then(|t| (t - now).to_std().ok())
        .unwrap_or(Duration::from_secs(60))
        .max(Duration::from_secs(30))
}

impl Shared {
    fn new(
        email: &Email,
        delivery: i64,
        services: &Services,
        setup: Setup,
        records: mpsc::Sender<Record>,
    ) -> Shared {
        Shared {
            delivery,
            channel: email.name.clone(),
            smtp: Smtp::new(&setup.options, setup.auth),
            pacer: Pacer::per_second(setup.options.max_per_second),
            prepared: setup.prepared,
            base_url: format!("{}/lists/{}", services.public_url, email.name),
            bounce_domain: setup.options.bounce_domain().to_string(),
            relay: setup.options.bounces.as_ref().and_then(|b| b.relay.clone()),
            key: setup.key,
            dkim: setup.dkim,
            store: services.store.clone(),
            topics: setup.topics,
            cadence: setup.cadence,
            queue: Mutex::new(Feed::new(setup.recipients)),
            refill: tokio::sync::Mutex::new(()),
            skipped: AtomicU64::new(0),
            budget: AtomicI64::new(setup.budget),
            control: Arc::default(),
            stopping: services.stopping.clone(),
            records,
            sent: AtomicU64::new(0),
            bounced: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            options: setup.options,
        }
    }
}

/// How a send ended, once its workers are done.
struct Tally {
    total: usize,
    sent: u64,
    bounced: u64,
    deferred: u64,
    /// Never handed to a worker (or put back unsent).
    unreached: u64,
    skipped: u64,
    bytes: u64,
    budget_left: i64,
    trouble: Option<String>,
    credentials_refused: bool,
    /// The daemon was stopping when the workers ended.
    stopping: bool,
}

impl Tally {
    /// Takes the counts; dropping `shared` drops the writer's last sender.
    fn of(shared: Shared, total: usize) -> Tally {
        let control = &shared.control;
        Tally {
            total,
            sent: shared.sent.into_inner(),
            bounced: shared.bounced.into_inner(),
            deferred: shared.deferred.into_inner(),
            unreached: shared.queue.into_inner().expect("queue lock").len() as u64,
            skipped: shared.skipped.into_inner(),
            bytes: shared.bytes.into_inner(),
            budget_left: shared.budget.into_inner(),
            trouble: control.trouble.lock().expect("trouble lock").take(),
            credentials_refused: control.credentials_refused.load(Ordering::SeqCst),
            stopping: shared.stopping.is_set(),
        }
    }

    fn summary(&self) -> String {
        let (sent, bounced, deferred, unreached, total) = (
            self.sent,
            self.bounced,
            self.deferred,
            self.unreached,
            self.total,
        );
        let mut summary = format!(
            "{sent} sent, {bounced} refused, {deferred} deferred, {unreached} not reached of {total}"
        );
        if self.skipped > 0 {
            summary += &format!(" ({} left the list during the send)", self.skipped);
        }
        summary
    }

    /// Sent when everyone owed it has a final record; otherwise why not.
    fn outcome(self) -> Result<Receipt, PublishError> {
        let summary = self.summary();
        if let Some(t) = self.trouble {
            let message = format!("{summary}: {t}");
            if self.credentials_refused {
                return Err(PublishError::credentials(message));
            }
            return Err(retry(message, None));
        }
        if self.stopping && self.unreached > 0 {
            // Everyone sent to is recorded; deferred ones go again too.
            let left = self.unreached + self.deferred;
            return Err(PublishError::Stopped(format!(
                "stopped by shutdown; resumes with the {left} recipients left ({summary})"
            )));
        }
        if self.budget_left <= 0 && self.unreached > 0 {
            return Err(retry(
                format!("{summary}: the hourly cap is reached"),
                Some(Duration::from_secs(600)),
            ));
        }
        if self.deferred > 0 {
            return Err(retry(format!("{summary}: deferred ones go again"), None));
        }
        Ok(Receipt {
            remote_id: Some(summary),
            remote_url: None,
        })
    }
}

fn retry(message: String, after: Option<Duration>) -> PublishError {
    PublishError::retry(message, after)
}

/// When the oldest message of the last hour leaves the window.
fn until_free(oldest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Duration {
    oldest
        .and_then(|t| (t + chrono::TimeDelta::hours(1) - now).to_std().ok())
        .unwrap_or(Duration::from_secs(60))
        .max(Duration::from_secs(1))
}
