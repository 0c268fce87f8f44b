//! Sending one email delivery to everyone it is owed to.
//!
//! One delivery in the queue, many recipients: each recipient's SMTP
//! outcome is written to the store before that worker sends its next
//! message. So at any moment at most `concurrency` messages are accepted
//! but unrecorded, and a send interrupted anywhere resumes with exactly the
//! recipients that have no final record (see ARCHITECTURE.md, "Email").
//!
//! Subscriptions can change during a long send: recipients are checked
//! again against the store in batches just before they are handed to the
//! workers (and again if a checked batch waits longer than `RECHECK`), so
//! whoever unsubscribes is not sent to unless their message is already in
//! that batch.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::address::Envelope;
use lettre::message::dkim::DkimConfig;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{info, warn};

use super::config::Options;
use super::links::{self, Purpose};
use super::message::{self, Content, Personal};
use super::sender::{Answer, Conn, Smtp};
use super::Email;
use crate::channels::{Job, PublishError, Services};
use crate::delivery::Receipt;
use crate::secret::Secret;
use crate::store::lists::{Recipient, RecipientOutcome, RecipientState};
use crate::store::ChannelStore;

/// Everything the workers share for one send.
struct Shared {
    delivery: i64,
    channel: String,
    options: Options,
    /// The message parts every recipient shares, encoded once.
    prepared: message::Prepared,
    base_url: String,
    key: Secret,
    dkim: Option<DkimConfig>,
    smtp: Smtp,
    store: Arc<dyn ChannelStore>,
    topics: Vec<String>,
    queue: Mutex<Feed>,
    /// Held by the one worker checking the next batch.
    refill: tokio::sync::Mutex<()>,
    /// Recipients no longer owed when their batch was checked.
    skipped: AtomicU64,
    /// Messages still allowed by the per-hour cap.
    budget: AtomicI64,
    control: Arc<Control>,
    pacer: Pacer,
    records: mpsc::Sender<(RecipientOutcome, oneshot::Sender<bool>)>,
    sent: AtomicU64,
    bounced: AtomicU64,
    deferred: AtomicU64,
    /// Bytes of the messages accepted (logged: what a send costs the relay).
    bytes: AtomicU64,
}

/// Recipients checked against the store this many at a time.
const BATCH: usize = 256;
/// A checked batch older than this is checked again (slow, paced sends).
const RECHECK: Duration = Duration::from_secs(2);

/// Who is left to send to: `ready` was checked at `checked_at`.
struct Feed {
    unchecked: VecDeque<Recipient>,
    ready: VecDeque<Recipient>,
    checked_at: Instant,
}

impl Feed {
    fn len(&self) -> usize {
        self.unchecked.len() + self.ready.len()
    }
}

/// Stopping a send early, and why; shared with the record writer.
#[derive(Default)]
struct Control {
    stop: AtomicBool,
    trouble: Mutex<Option<String>>,
    /// The trouble is refused credentials: held for a person, not retried.
    credentials_refused: AtomicBool,
}

impl Control {
    fn halt(&self, why: String) {
        self.stop.store(true, Ordering::SeqCst);
        let mut t = self.trouble.lock().expect("trouble lock");
        t.get_or_insert(why);
    }
}

/// Spaces messages `interval` apart across all workers (max_per_second).
struct Pacer {
    interval: Option<Duration>,
    next: tokio::sync::Mutex<Instant>,
}

impl Pacer {
    async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

pub async fn run(
    email: &Email,
    job: &Job<'_>,
    services: &Services,
) -> Result<Receipt, PublishError> {
    let d = job.delivery;
    let v = job.variant;
    let now = services.clock.now();
    let began = Instant::now();
    let options = email.options.clone();
    let topics: Vec<String> = v
        .payload
        .as_ref()
        .and_then(|p| p.get("topics"))
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default();
    let key = email
        .keyring
        .key(&services.credentials, &email.name)
        .map_err(PublishError::permanent)?;
    let dkim = message::dkim_config(&options).map_err(PublishError::permanent)?;
    let prepared = message::prepare(
        &options,
        &email.org,
        &Content {
            subject: v.subject.as_deref().unwrap_or_default(),
            text: &v.text,
            html: v.html.as_deref().unwrap_or_default(),
        },
    )
    .map_err(PublishError::permanent)?;
    let auth = match (&options.username_env, &options.password_env) {
        (Some(u), Some(p)) => Some((
            u.resolve()
                .map_err(|e| PublishError::credentials(e.to_string()))?,
            p.resolve()
                .map_err(|e| PublishError::credentials(e.to_string()))?,
        )),
        _ => None,
    };
    let lists = services.store.lists();
    let recipients = lists
        .pending_recipients(d.id, &email.name, &topics)
        .await
        .map_err(|e| retry(format!("cannot read the recipients: {e}"), None))?;
    let budget = match options.max_per_hour {
        None => i64::MAX,
        Some(cap) => {
            let (n, oldest) = lists
                .sent_since(&email.name, now - chrono::TimeDelta::hours(1))
                .await
                .map_err(|e| retry(e.to_string(), None))?;
            let left = cap.saturating_sub(n);
            if left == 0 && !recipients.is_empty() {
                return Err(retry(
                    format!("the hourly cap of {cap} messages is reached"),
                    Some(until_free(oldest, now)),
                ));
            }
            i64::try_from(left).unwrap_or(i64::MAX)
        }
    };
    let total = recipients.len();
    let (tx, rx) = mpsc::channel(options.concurrency * 2);
    let shared = Arc::new(Shared {
        delivery: d.id,
        channel: email.name.clone(),
        smtp: Smtp::new(&options, auth),
        pacer: Pacer {
            interval: (options.max_per_second > 0)
                .then(|| Duration::from_secs(1) / options.max_per_second),
            next: tokio::sync::Mutex::new(Instant::now()),
        },
        prepared,
        base_url: format!("{}/lists/{}", services.public_url, email.name),
        key,
        dkim,
        store: services.store.clone(),
        topics,
        queue: Mutex::new(Feed {
            unchecked: recipients.into(),
            ready: VecDeque::new(),
            checked_at: Instant::now(),
        }),
        refill: tokio::sync::Mutex::new(()),
        skipped: AtomicU64::new(0),
        budget: AtomicI64::new(budget),
        control: Arc::default(),
        records: tx,
        sent: AtomicU64::new(0),
        bounced: AtomicU64::new(0),
        deferred: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        options,
    });
    info!(delivery = d.id, channel = %email.name, recipients = total, "email send starting");
    let lease_span = d
        .lease_expires_at
        .and_then(|t| (t - now).to_std().ok())
        .unwrap_or(Duration::from_secs(60))
        .max(Duration::from_secs(30));
    let writer = tokio::spawn(writer(
        rx,
        Writer {
            store: services.store.clone(),
            clock: services.clock.clone(),
            control: shared.control.clone(),
            delivery: d.id,
            channel: email.name.clone(),
            bounce_limit: shared.options.bounce_limit,
            lease_span,
            total,
        },
    ));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..shared.options.concurrency.min(total.max(1)) {
        workers.spawn(worker(shared.clone()));
    }
    while workers.join_next().await.is_some() {}
    let shared =
        Arc::try_unwrap(shared).map_err(|_| retry("workers still running".into(), None))?;
    let Shared {
        records,
        queue,
        control,
        sent,
        bounced,
        deferred,
        budget,
        bytes,
        skipped,
        ..
    } = shared;
    drop(records);
    let _ = writer.await;
    let (sent, bounced, deferred) = (
        sent.into_inner(),
        bounced.into_inner(),
        deferred.into_inner(),
    );
    let unreached = queue.into_inner().expect("queue lock").len() as u64;
    let mut summary = format!(
        "{sent} sent, {bounced} refused, {deferred} deferred, {unreached} not reached of {total}"
    );
    let skipped = skipped.into_inner();
    if skipped > 0 {
        summary += &format!(" ({skipped} left the list during the send)");
    }
    info!(
        delivery = d.id,
        channel = %email.name,
        sent,
        bytes = bytes.into_inner(),
        elapsed_s = began.elapsed().as_secs_f64(),
        "email send finished: {summary}"
    );
    let trouble = control.trouble.lock().expect("trouble lock").take();
    if let Some(t) = trouble {
        let message = format!("{summary}: {t}");
        if control.credentials_refused.load(Ordering::SeqCst) {
            return Err(PublishError::credentials(message));
        }
        return Err(retry(message, None));
    }
    if budget.into_inner() <= 0 && unreached > 0 {
        return Err(retry(
            format!("{summary}: the hourly cap is reached"),
            Some(Duration::from_secs(600)),
        ));
    }
    if deferred > 0 {
        return Err(retry(format!("{summary}: deferred ones go again"), None));
    }
    Ok(Receipt {
        remote_id: Some(summary),
        remote_url: None,
    })
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

impl Shared {
    fn halt(&self, why: String) {
        self.control.halt(why);
    }

    async fn next(&self) -> Option<Recipient> {
        if self.control.stop.load(Ordering::SeqCst)
            || self.budget.fetch_sub(1, Ordering::SeqCst) <= 0
        {
            return None;
        }
        // Keep a checked batch ahead of the workers: when what is ready
        // runs low (or has waited too long), one worker checks the next
        // batch while the others carry on with what is ready.
        let low = self.options.concurrency * 2;
        loop {
            if self.control.stop.load(Ordering::SeqCst) {
                return None;
            }
            let (r, check) = {
                let mut q = self.queue.lock().expect("queue lock");
                let stale = q.checked_at.elapsed() > RECHECK && !q.ready.is_empty();
                let check = stale || (q.ready.len() <= low && !q.unchecked.is_empty());
                let r = if stale { None } else { q.ready.pop_front() };
                if r.is_none() && !check {
                    return None; // nobody left
                }
                (r, check)
            };
            if check {
                let guard = match r {
                    Some(_) => self.refill.try_lock().ok(),
                    None => Some(self.refill.lock().await),
                };
                if guard.is_some() {
                    self.check_batch().await;
                }
            }
            if r.is_some() {
                return r;
            }
        }
    }

    /// Moves the next batch from `unchecked` to `ready`, keeping only the
    /// recipients the store says are still owed this delivery.
    async fn check_batch(&self) {
        let batch: Vec<Recipient> = {
            let mut q = self.queue.lock().expect("queue lock");
            if q.checked_at.elapsed() > RECHECK && !q.ready.is_empty() {
                // Waited too long since its check: check it again.
                let old = std::mem::take(&mut q.ready);
                for r in old.into_iter().rev() {
                    q.unchecked.push_front(r);
                }
            } else if q.ready.len() > self.options.concurrency * 2 {
                return; // another worker refilled it meanwhile
            }
            let n = BATCH.min(q.unchecked.len());
            q.unchecked.drain(..n).collect()
        };
        if batch.is_empty() {
            return;
        }
        let ids: Vec<i64> = batch.iter().map(|r| r.subscriber_id).collect();
        let owed = self
            .store
            .lists()
            .still_owed(self.delivery, &self.channel, &self.topics, &ids)
            .await;
        let mut q = self.queue.lock().expect("queue lock");
        match owed {
            Ok(owed) => {
                let owed: HashSet<i64> = owed.into_iter().collect();
                let before = batch.len();
                q.ready.extend(
                    batch
                        .into_iter()
                        .filter(|r| owed.contains(&r.subscriber_id)),
                );
                let kept = owed.len().min(before);
                self.skipped
                    .fetch_add((before - kept) as u64, Ordering::Relaxed);
                q.checked_at = Instant::now();
            }
            Err(e) => {
                for r in batch.into_iter().rev() {
                    q.unchecked.push_front(r);
                }
                drop(q);
                self.halt(format!("cannot check the recipients again: {e}"));
            }
        }
    }

    /// Not sent after all: back to the front so the summary counts it.
    fn put_back(&self, r: Recipient) {
        self.queue.lock().expect("queue lock").ready.push_front(r);
    }

    fn message(&self, r: &Recipient) -> Result<(Envelope, Vec<u8>), String> {
        let manage = links::sign(
            &self.key,
            &self.channel,
            Purpose::Manage,
            r.subscriber_id,
            0,
        );
        let unsubscribe_url = format!("{}/unsubscribe?t={manage}", self.base_url);
        let preferences_url = format!("{}/preferences?t={manage}", self.base_url);
        let personal = Personal {
            email: &r.email,
            name: r.name.as_deref(),
            unsubscribe_url: &unsubscribe_url,
            preferences_url: &preferences_url,
            // The same for every attempt: receivers can fold a repeat.
            message_key: format!("crier.{}.{}", self.delivery, r.subscriber_id),
        };
        let msg = message::build_prepared(&self.prepared, &personal, self.dkim.as_ref())?;
        Ok((msg.envelope().clone(), msg.formatted()))
    }

    /// Hands the outcome to the writer; the answer says when it is durable.
    async fn record(
        &self,
        r: &Recipient,
        state: RecipientState,
        detail: Option<String>,
    ) -> Durable {
        let counter = match state {
            RecipientState::Sent => &self.sent,
            RecipientState::Bounced => &self.bounced,
            RecipientState::Deferred => &self.deferred,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let (ack, done) = oneshot::channel();
        let outcome = RecipientOutcome {
            subscriber_id: r.subscriber_id,
            email: r.email.clone(),
            state,
            detail,
        };
        match self.records.send((outcome, ack)).await {
            Ok(()) => Durable(Some(done)),
            Err(_) => Durable(None),
        }
    }
}

/// An outcome on its way to the store.
struct Durable(Option<oneshot::Receiver<bool>>);

impl Durable {
    /// Whether it was committed.
    async fn wait(self) -> bool {
        match self.0 {
            Some(done) => done.await.unwrap_or(false),
            None => false,
        }
    }
}

/// Each worker owns one connection and has at most one accepted message
/// not yet recorded: the next message is built (and its recipient
/// checked) while the last outcome commits, but only sent once it has.
async fn worker(s: Arc<Shared>) {
    let mut conn: Option<Conn> = None;
    let mut last: Option<Durable> = None;
    while let Some(r) = s.next().await {
        let built = s.message(&r);
        if let Some(d) = last.take() {
            if !d.wait().await {
                s.put_back(r);
                s.halt("cannot record outcomes in the store".into());
                break;
            }
        }
        let (envelope, bytes) = match built {
            Ok(m) => m,
            Err(e) => {
                // Only an address lettre cannot parse gets here: refused.
                last = Some(s.record(&r, RecipientState::Bounced, Some(e)).await);
                continue;
            }
        };
        let mut tries = 0;
        let answer = loop {
            tries += 1;
            if conn
                .as_ref()
                .is_none_or(|c| c.broken() || c.sent >= s.smtp.recycle_after)
            {
                if let Some(old) = conn.take() {
                    old.quit().await;
                }
                match s.smtp.connect().await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        if e.credentials_refused {
                            s.control.credentials_refused.store(true, Ordering::SeqCst);
                        }
                        break Answer::Broken(e.message);
                    }
                }
            }
            s.pacer.wait().await;
            let c = conn.as_mut().expect("connected above");
            match s.smtp.send(c, &envelope, &bytes).await {
                Answer::Broken(e) if tries < 3 => {
                    warn!(
                        delivery = s.delivery,
                        "SMTP connection lost, reconnecting: {e}"
                    );
                    conn = None;
                }
                other => break other,
            }
        };
        let (state, detail) = match answer {
            Answer::Accepted => {
                s.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                (RecipientState::Sent, None)
            }
            Answer::Refused(t) => (RecipientState::Bounced, Some(t)),
            Answer::Deferred(t) => (RecipientState::Deferred, Some(t)),
            Answer::Broken(e) => {
                // Not accepted: left unrecorded, so the next attempt has it.
                s.put_back(r);
                s.halt(e);
                break;
            }
        };
        last = Some(s.record(&r, state, detail).await);
    }
    if let Some(d) = last {
        if !d.wait().await {
            s.halt("cannot record outcomes in the store".into());
        }
    }
    if let Some(c) = conn {
        c.quit().await;
    }
}

/// What the record writer needs; it holds no sender of its own channel,
/// so it ends when the workers are done.
struct Writer {
    store: Arc<dyn ChannelStore>,
    clock: Arc<dyn crier_schedule::Clock>,
    control: Arc<Control>,
    delivery: i64,
    channel: String,
    bounce_limit: i64,
    lease_span: Duration,
    total: usize,
}

/// Group commit: takes every outcome waiting, writes them in one
/// transaction, then acknowledges each worker. Keeps the lease alive.
async fn writer(mut rx: mpsc::Receiver<(RecipientOutcome, oneshot::Sender<bool>)>, w: Writer) {
    let span = chrono::TimeDelta::from_std(w.lease_span).unwrap_or(chrono::TimeDelta::minutes(1));
    let mut renewed = Instant::now();
    let mut done = 0usize;
    let mut logged = Instant::now();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let outcomes: Vec<RecipientOutcome> = batch.iter().map(|(o, _)| o.clone()).collect();
        let now = w.clock.now();
        let ok = match w
            .store
            .lists()
            .record_recipients(w.delivery, &w.channel, &outcomes, w.bounce_limit, now)
            .await
        {
            Ok(()) => true,
            Err(e) => {
                w.control.halt(format!("cannot record outcomes: {e}"));
                false
            }
        };
        if ok && renewed.elapsed() > w.lease_span / 3 {
            renewed = Instant::now();
            if let Err(e) = w.store.renew_lease(w.delivery, now + span, now).await {
                w.control.halt(format!("lost the lease, stopping: {e}"));
            }
        }
        done += batch.len();
        if logged.elapsed() > Duration::from_secs(5) {
            logged = Instant::now();
            info!(
                delivery = w.delivery,
                done,
                total = w.total,
                "email send progress"
            );
        }
        for (_, ack) in batch {
            let _ = ack.send(ok);
        }
    }
}
