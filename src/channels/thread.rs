//! Threads on networks with no idempotency key, posted part by part.
//!
//! Each part the network accepts is recorded in the store before the next
//! is sent, so a later attempt (after a 429, a 5xx, a crash, or a person's
//! `crier retry`) starts after the last recorded part instead of posting
//! the start of the thread again. Only the one part whose answer was lost
//! can ever be in doubt, and the error says which.
//!
//! When the daemon is stopping ([`Services::stopping`]), a thread stops
//! after the part just recorded: [`Thread::posted`] answers
//! [`PublishError::Stopped`] while parts are left, and the next start
//! resumes with the first of them.

use super::{Job, PublishError, Services};
use crate::delivery::Receipt;

/// A thread being posted: the parts already up, oldest first.
pub struct Thread<'a> {
    delivery_id: i64,
    total: usize,
    services: &'a Services,
    posted: Vec<Receipt>,
}

impl<'a> Thread<'a> {
    /// Picks up where earlier attempts of this delivery stopped.
    pub async fn resume(job: &Job<'_>, services: &'a Services) -> Result<Self, PublishError> {
        let posted = services
            .store
            .posted_parts(job.delivery.id)
            .await
            .map_err(|e| {
                PublishError::retry(
                    format!("cannot read which parts of the thread are up: {e}"),
                    None,
                )
            })?;
        Ok(Thread {
            delivery_id: job.delivery.id,
            total: job.variant.parts.len().max(1),
            services,
            posted,
        })
    }

    /// The index of the next part to send (0 for a fresh thread).
    pub fn next(&self) -> usize {
        self.posted.len()
    }

    /// The parts up so far, in order.
    pub fn parts(&self) -> &[Receipt] {
        &self.posted
    }

    /// The network's id of the last part up, which the next one replies to.
    pub fn previous_id(&self) -> Option<&str> {
        self.posted.last().and_then(|r| r.remote_id.as_deref())
    }

    /// Records the part just accepted. If the record cannot be written the
    /// part is up but the store does not know it: a later attempt would
    /// repeat it, so the delivery is held for a person. Once recorded, if
    /// the daemon is stopping and parts are left, says so: the caller
    /// returns the error and posts nothing more.
    pub async fn posted(&mut self, receipt: Receipt) -> Result<(), PublishError> {
        let part = self.posted.len();
        let now = self.services.clock.now();
        if let Err(e) = self
            .services
            .store
            .record_part(self.delivery_id, part, &receipt, now)
            .await
        {
            return Err(PublishError::uncertain(format!(
                "part {} of the thread is up ({}) but could not be recorded: {e}",
                part + 1,
                where_(&receipt)
            )));
        }
        self.posted.push(receipt);
        let up = self.posted.len();
        if self.services.stopping.is_set() && up < self.total {
            return Err(PublishError::Stopped(format!(
                "stopped by shutdown: {up} of {} posts of the thread are up (last {}); \
                 resumes with post {}",
                self.total,
                where_(self.posted.last().expect("just pushed")),
                up + 1
            )));
        }
        Ok(())
    }

    /// Says how far the thread got when part [`Self::next`] failed. The
    /// kind of failure is kept: a retry resumes with that part, so it is as
    /// safe as retrying a single post.
    pub fn failed(&self, e: PublishError) -> PublishError {
        let total = self.total;
        let up = self.posted.len();
        if up == 0 {
            return e;
        }
        let so_far = format!(
            "{up} of {total} posts of the thread are up (last {})",
            where_(self.posted.last().expect("up > 0"))
        );
        let failing = up + 1;
        let told = match &e {
            PublishError::Retry { message, .. } => {
                format!("{so_far}; post {failing} will be sent next: {message}")
            }
            PublishError::Permanent { message, .. } => format!(
                "{so_far}; post {failing} was refused: {message}. \
                 `crier retry` sends the rest, starting with post {failing}"
            ),
            PublishError::Uncertain { message, .. } => format!(
                "{so_far}; post {failing} may or may not be up: {message}. \
                 If it is not, `crier retry` sends the rest starting with it"
            ),
            PublishError::Credentials { message, .. } => {
                format!("{so_far}; the rest waits for new credentials: {message}")
            }
            PublishError::Stopped(message) => {
                format!("{so_far}; post {failing} goes next: {message}")
            }
        };
        e.map_message(|_| told)
    }

    /// The receipt of the whole thread: its first post.
    pub fn finish(self) -> Result<Receipt, PublishError> {
        self.posted
            .into_iter()
            .next()
            .ok_or_else(|| PublishError::permanent("the stored variant has no text to post".into()))
    }
}

fn where_(receipt: &Receipt) -> &str {
    receipt
        .remote_url
        .as_deref()
        .or(receipt.remote_id.as_deref())
        .unwrap_or("no id returned")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::watch;

    use super::*;
    use crate::channels::stopping::Stopping;
    use crate::store::contract::{at, planned, LEASE};
    use crate::store::sqlite::SqliteStore;
    use crate::store::Store;
    use crate::variant::{Part, Variant};

    fn receipt(id: &str) -> Receipt {
        Receipt {
            remote_id: Some(id.into()),
            remote_url: None,
        }
    }

    #[tokio::test]
    async fn a_stopping_daemon_ends_a_thread_after_the_part_just_recorded() {
        let sqlite = Arc::new(SqliteStore::open_in_memory().await.unwrap());
        let store: Arc<dyn Store> = sqlite.clone();
        store
            .sync_plan(&[planned("t", "x", "at", 0, "t")], at(0))
            .await
            .unwrap();
        let delivery = store.lease_due(at(1), 1, LEASE).await.unwrap().remove(0);
        let mut variant = Variant::document("t", "x", "mastodon", "one".into());
        variant.parts = ["one", "two", "three"]
            .map(|t| Part {
                text: t.into(),
                length: t.len(),
                annotations: None,
            })
            .to_vec();
        let (switch, rx) = watch::channel(false);
        let services = Services {
            http: crate::channels::http::client(),
            publish_dir: std::env::temp_dir(),
            public_url: "http://127.0.0.1:8080".into(),
            store: sqlite,
            clock: Arc::new(crier_schedule::ManualClock::new(at(1))),
            credentials: crate::credentials::Credentials::new(std::path::Path::new("/nonexistent")),
            campaigns_dir: std::env::temp_dir(),
            stopping: Stopping::new(rx),
        };
        let job = Job {
            delivery: &delivery,
            variant: &variant,
        };
        let mut thread = Thread::resume(&job, &services).await.unwrap();
        thread.posted(receipt("p1")).await.unwrap();
        switch.send(true).unwrap();
        let stopped = thread.posted(receipt("p2")).await.unwrap_err();
        let PublishError::Stopped(note) = stopped else {
            panic!("{stopped:?}")
        };
        assert!(note.contains("2 of 3 posts"), "{note}");
        assert!(note.contains("resumes with post 3"), "{note}");
        // Both parts are recorded: the next attempt starts with the third,
        // and posting the last part is no reason to stop.
        let mut again = Thread::resume(&job, &services).await.unwrap();
        assert_eq!(again.next(), 2);
        again.posted(receipt("p3")).await.unwrap();
        assert_eq!(again.finish().unwrap(), receipt("p1"));
    }
}
