//! Who is sent to next: recipients are checked again against the store in
//! batches just before the workers get them (and again if a checked batch
//! waits longer than `RECHECK`), so whoever unsubscribes during a long
//! send is not sent to unless their message is already in that batch.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::Shared;
use crate::store::lists::Recipient;

/// Recipients checked against the store this many at a time.
const BATCH: usize = 256;
/// A checked batch older than this is checked again (slow, paced sends).
const RECHECK: Duration = Duration::from_secs(2);

/// Who is left to send to: `ready` was checked at `checked_at`.
pub(super) struct Feed {
    unchecked: VecDeque<Recipient>,
    ready: VecDeque<Recipient>,
    checked_at: Instant,
}

impl Feed {
    pub(super) fn new(recipients: Vec<Recipient>) -> Feed {
        Feed {
            unchecked: recipients.into(),
            ready: VecDeque::new(),
            checked_at: Instant::now(),
        }
    }

    /// Recipients not handed to a worker yet.
    pub(super) fn len(&self) -> usize {
        self.unchecked.len() + self.ready.len()
    }
}

impl Shared {
    /// The next recipient to send to, checked recently; none once the send
    /// or the daemon is stopping, the hourly budget is spent, or nobody is
    /// left.
    pub(super) async fn next(&self) -> Option<Recipient> {
        if self.halted() || self.budget.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return None;
        }
        // Keep a checked batch ahead of the workers: when what is ready
        // runs low (or has waited too long), one worker checks the next
        // batch while the others carry on with what is ready.
        let low = self.options.concurrency * 2;
        loop {
            if self.halted() {
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
        let batch = self.take_batch();
        if batch.is_empty() {
            return;
        }
        let ids: Vec<i64> = batch.iter().map(|r| r.subscriber_id).collect();
        let owed = self
            .store
            .lists()
            .still_owed(
                self.delivery,
                &self.channel,
                &self.topics,
                self.cadence.as_str(),
                &ids,
            )
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

    /// The next batch to check (a stale ready batch goes first, again);
    /// empty if another worker refilled `ready` meanwhile.
    fn take_batch(&self) -> Vec<Recipient> {
        let mut q = self.queue.lock().expect("queue lock");
        if q.checked_at.elapsed() > RECHECK && !q.ready.is_empty() {
            // Waited too long since its check: check it again.
            let old = std::mem::take(&mut q.ready);
            for r in old.into_iter().rev() {
                q.unchecked.push_front(r);
            }
        } else if q.ready.len() > self.options.concurrency * 2 {
            return Vec::new(); // another worker refilled it meanwhile
        }
        let n = BATCH.min(q.unchecked.len());
        q.unchecked.drain(..n).collect()
    }

    /// Trouble stopped the send, or the daemon is stopping.
    fn halted(&self) -> bool {
        self.control.stop.load(Ordering::SeqCst) || self.stopping.is_set()
    }

    /// Not sent after all: back to the front so the summary counts it.
    pub(super) fn put_back(&self, r: Recipient) {
        self.queue.lock().expect("queue lock").ready.push_front(r);
    }
}
