//! The outcome writer: workers hand it each recipient's SMTP outcome and
//! wait for the commit before their next message. It group-commits (every
//! outcome waiting goes in one transaction) and keeps the lease alive.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::info;

use super::worker::Control;
use crate::store::lists::RecipientOutcome;
use crate::store::ChannelStore;

/// An outcome and where to say whether it was committed.
pub(super) type Record = (RecipientOutcome, oneshot::Sender<bool>);

/// An outcome on its way to the store.
pub(super) struct Durable(pub(super) Option<oneshot::Receiver<bool>>);

impl Durable {
    /// Whether it was committed.
    pub(super) async fn wait(self) -> bool {
        match self.0 {
            Some(done) => done.await.unwrap_or(false),
            None => false,
        }
    }
}

/// What the record writer needs; it holds no sender of its own channel,
/// so it ends when the workers are done (and has then written everything
/// they handed it).
pub(super) struct Writer {
    pub(super) store: Arc<dyn ChannelStore>,
    pub(super) clock: Arc<dyn crier_schedule::Clock>,
    pub(super) control: Arc<Control>,
    pub(super) delivery: i64,
    pub(super) channel: String,
    pub(super) bounce_limit: i64,
    pub(super) lease_span: Duration,
    /// What the dispatcher's lease had left when the send began.
    pub(super) lease_left: Duration,
    pub(super) total: usize,
}

/// How long after a renewal (or the start) to renew again: a third of what
/// the lease then has left, so a lease shorter than the span a renewal
/// grants is renewed before it runs out, not after.
fn renew_every(left: Duration, span: Duration) -> Duration {
    left.min(span) / 3
}

/// Group commit: takes every outcome waiting, writes them in one
/// transaction, then acknowledges each worker. Keeps the lease alive.
pub(super) async fn run(mut rx: mpsc::Receiver<Record>, w: Writer) {
    let mut renewed = Instant::now();
    let mut every = renew_every(w.lease_left, w.lease_span);
    let mut done = 0usize;
    let mut logged = Instant::now();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let ok = w.write(&batch).await;
        if ok && renewed.elapsed() >= every {
            renewed = Instant::now();
            every = renew_every(w.lease_span, w.lease_span);
            w.renew().await;
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

impl Writer {
    /// One transaction for the batch; a failure stops the send.
    async fn write(&self, batch: &[Record]) -> bool {
        let outcomes: Vec<RecipientOutcome> = batch.iter().map(|(o, _)| o.clone()).collect();
        let result = self
            .store
            .lists()
            .record_recipients(
                self.delivery,
                &self.channel,
                &outcomes,
                self.bounce_limit,
                self.clock.now(),
            )
            .await;
        match result {
            Ok(()) => true,
            Err(e) => {
                self.control.halt(format!("cannot record outcomes: {e}"));
                false
            }
        }
    }

    /// Extends the lease by its span; if it was taken as dead, stop.
    async fn renew(&self) {
        let span =
            chrono::TimeDelta::from_std(self.lease_span).unwrap_or(chrono::TimeDelta::minutes(1));
        let now = self.clock.now();
        if let Err(e) = self.store.renew_lease(self.delivery, now + span, now).await {
            self.control.halt(format!("lost the lease, stopping: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lease shorter than the span a renewal grants (`lease_seconds = 5`,
    /// the span at least 30 s) is renewed before it runs out, not after:
    /// seen failing when the first renewal came a third of the span (10 s)
    /// after the start, so every send over 5 s lost its lease to another
    /// instance while its holder was alive.
    #[test]
    fn the_first_renewal_comes_before_the_dispatchers_lease_runs_out() {
        let (left, span) = (Duration::from_secs(4), Duration::from_secs(30));
        let first = renew_every(left, span);
        assert!(
            first < left,
            "first renewal after {first:?}, lease ends after {left:?}"
        );
        assert!(first > Duration::ZERO);
        assert_eq!(renew_every(span, span), Duration::from_secs(10));
    }
}
