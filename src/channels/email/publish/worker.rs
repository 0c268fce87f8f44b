//! The workers: each owns one SMTP connection and sends one message at a
//! time, paced across all workers, and has at most one accepted message
//! not yet recorded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::address::Envelope;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::warn;

use super::super::bounce::providers::relay_header;
use super::super::links::{self, Purpose};
use super::super::message::{self, Personal};
use super::super::sender::{Answer, Conn};
use super::super::verp;
use super::writer::Durable;
use super::Shared;
use crate::store::lists::{Recipient, RecipientOutcome, RecipientState};

/// How long a message under way when the daemon stops may take to finish.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(10);

/// Stopping a send early, and why; shared with the record writer.
#[derive(Default)]
pub(super) struct Control {
    pub(super) stop: AtomicBool,
    pub(super) trouble: Mutex<Option<String>>,
    /// The trouble is refused credentials: held for a person, not retried.
    pub(super) credentials_refused: AtomicBool,
}

impl Control {
    pub(super) fn halt(&self, why: String) {
        self.stop.store(true, Ordering::SeqCst);
        let mut t = self.trouble.lock().expect("trouble lock");
        t.get_or_insert(why);
    }
}

/// Spaces messages `interval` apart across all workers (max_per_second).
pub(super) struct Pacer {
    interval: Option<Duration>,
    next: tokio::sync::Mutex<Instant>,
}

impl Pacer {
    pub(super) fn per_second(max: u32) -> Pacer {
        Pacer {
            interval: (max > 0).then(|| Duration::from_secs(1) / max),
            next: tokio::sync::Mutex::new(Instant::now()),
        }
    }

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

/// Each worker owns one connection and has at most one accepted message
/// not yet recorded: the next message is built (and its recipient
/// checked) while the last outcome commits, but only sent once it has.
pub(super) async fn run(s: Arc<Shared>) {
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
        let Some(answer) = s.send(&mut conn, &envelope, &bytes).await else {
            // The daemon is stopping: this message never started (or was
            // cut after STOP_GRACE), so the next attempt has it.
            s.put_back(r);
            break;
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

impl Shared {
    pub(super) fn halt(&self, why: String) {
        self.control.halt(why);
    }

    /// One message, on `conn` (connected, or reconnected when broken or
    /// used `recycle_after` times). A dropped connection is tried again
    /// on a new one, three times in all. None if the daemon is stopping
    /// before the message starts, or if a message under way when it
    /// stopped did not finish within `STOP_GRACE`.
    async fn send(
        &self,
        conn: &mut Option<Conn>,
        envelope: &Envelope,
        bytes: &[u8],
    ) -> Option<Answer> {
        let mut tries = 0;
        loop {
            tries += 1;
            if self.stopping.is_set() {
                return None;
            }
            if let Err(e) = self.connected(conn).await? {
                return Some(Answer::Broken(e));
            }
            tokio::select! {
                _ = self.pacer.wait() => {}
                _ = self.stopping.wait() => return None,
            }
            let c = conn.as_mut().expect("connected above");
            let Some(answer) = self.transaction(c, envelope, bytes).await else {
                *conn = None; // cut mid-transaction: no QUIT on it
                return None;
            };
            match answer {
                Answer::Broken(e) if tries < 3 => {
                    warn!(
                        delivery = self.delivery,
                        "SMTP connection lost, reconnecting: {e}"
                    );
                    *conn = None;
                }
                other => return Some(other),
            }
        }
    }

    /// Makes `conn` a usable connection: kept, or replaced when broken or
    /// used `recycle_after` times. None if the daemon stops meanwhile
    /// (nothing was sent on the new connection).
    async fn connected(&self, conn: &mut Option<Conn>) -> Option<Result<(), String>> {
        let usable = |c: &Conn| !c.broken() && c.sent < self.smtp.recycle_after;
        if conn.as_ref().is_some_and(usable) {
            return Some(Ok(()));
        }
        if let Some(old) = conn.take() {
            old.quit().await;
        }
        let connecting = tokio::select! {
            c = self.smtp.connect() => c,
            _ = self.stopping.wait() => return None,
        };
        Some(match connecting {
            Ok(c) => {
                *conn = Some(c);
                Ok(())
            }
            Err(e) => {
                if e.credentials_refused {
                    self.control
                        .credentials_refused
                        .store(true, Ordering::SeqCst);
                }
                Err(e.message)
            }
        })
    }

    /// One SMTP transaction. When the daemon stops during it, it still
    /// gets `STOP_GRACE` to finish (a server answers in milliseconds);
    /// after that it is cut (None) and its recipient stays unrecorded, so
    /// the next attempt sends it again, as after a crash.
    async fn transaction(&self, c: &mut Conn, envelope: &Envelope, bytes: &[u8]) -> Option<Answer> {
        let cut = async {
            self.stopping.wait().await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        tokio::select! {
            answer = self.smtp.send(c, envelope, bytes) => Some(answer),
            _ = cut => {
                warn!(delivery = self.delivery, "stopping: an SMTP transaction did not finish in time and was cut");
                None
            }
        }
    }

    /// The recipient's own message: the shared parts with their greeting
    /// and signed links spliced in.
    fn message(&self, r: &Recipient) -> Result<(Envelope, Vec<u8>), String> {
        let sent = verp::Sent {
            delivery: self.delivery,
            subscriber: r.subscriber_id,
        };
        let token = verp::token(&self.key, &self.channel, sent);
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
            reference: Some(token.clone()),
            relay_header: self.relay.as_deref().and_then(|r| relay_header(r, &token)),
        };
        let msg = message::build_prepared(&self.prepared, &personal, self.dkim.as_ref())?;
        // Bounces come back to an address naming this (delivery, recipient).
        let bounces = verp::address(&self.key, &self.channel, &self.bounce_domain, sent);
        let from = bounces.parse().map_err(|e| format!("`{bounces}`: {e}"))?;
        let envelope =
            Envelope::new(Some(from), msg.envelope().to().to_vec()).map_err(|e| e.to_string())?;
        Ok((envelope, msg.formatted()))
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
