//! Recording what a send came to. The send's slot is already free: these
//! writes share commits with other outcomes and the next burst's marks
//! (the store's group commit), off the path that decides lateness.

use tracing::{info, warn};

use super::{backoff, Dispatcher};
use crate::channels::PublishError;
use crate::delivery::{Actor, Delivery, HoldReason, Receipt};
use crate::store::StoreError;

impl Dispatcher {
    pub(super) async fn record(
        &self,
        d: &Delivery,
        outcome: Result<Receipt, PublishError>,
    ) -> Result<(), StoreError> {
        let now = self.now();
        match outcome {
            Ok(receipt) => {
                self.metrics.outcome(&d.channel, "sent");
                self.metrics
                    .lateness((now - d.due_at).num_milliseconds() as f64 / 1000.0);
                info!(delivery = d.id, item = %d.item, channel = %d.channel, remote_url = receipt.remote_url.as_deref(), "sent");
                self.store.record_sent(d.id, &receipt, now, "sent").await
            }
            Err(PublishError::Retry { message, after, .. })
                if d.attempts < self.settings.max_attempts =>
            {
                let wait = backoff::delay(
                    d.attempts,
                    self.settings.retry_base,
                    self.settings.retry_max,
                    after,
                );
                let next =
                    now + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX);
                self.metrics.outcome(&d.channel, "retry");
                warn!(delivery = d.id, channel = %d.channel, attempt = d.attempts, retry_in_s = wait.as_secs_f64(), "{message}");
                self.store.record_retry(d.id, next, &message, now).await
            }
            Err(PublishError::Retry { message, .. }) => {
                self.metrics.outcome(&d.channel, "failed");
                let msg = format!("gave up after {} attempts: {message}", d.attempts);
                warn!(delivery = d.id, channel = %d.channel, "{msg}");
                self.store.record_failed(d.id, &msg, now).await
            }
            Err(PublishError::Permanent { message, .. }) => {
                self.metrics.outcome(&d.channel, "failed");
                warn!(delivery = d.id, channel = %d.channel, "refused: {message}");
                self.store.record_failed(d.id, &message, now).await
            }
            Err(PublishError::Uncertain { message, .. }) => {
                self.metrics.outcome(&d.channel, "uncertain");
                warn!(delivery = d.id, channel = %d.channel, "outcome unknown, held for a human: {message}");
                let note = format!("may have been posted ({message}): check the channel, then `crier retry` or `crier cancel`");
                self.store
                    .hold(d.id, HoldReason::Uncertain, &note, Actor::Daemon, now)
                    .await
            }
            Err(PublishError::Stopped(note)) => {
                self.metrics.outcome(&d.channel, "stopped");
                info!(delivery = d.id, item = %d.item, channel = %d.channel, "{note}");
                self.store.record_stopped(d.id, &note, now).await
            }
            Err(PublishError::Credentials { message, .. }) => {
                self.metrics.outcome(&d.channel, "credentials");
                warn!(channel = %d.channel, "credentials refused: {message}");
                self.store
                    .set_channel_status(
                        &d.channel,
                        Some(&format!("needs new credentials: {message}")),
                        now,
                    )
                    .await?;
                self.store
                    .hold(d.id, HoldReason::Credentials, &message, Actor::Daemon, now)
                    .await
            }
        }
    }
}
