//! The daemon is stopping (SIGTERM, SIGINT): a signal every publisher sees
//! through [`super::Services`], so a long send ends at a safe boundary —
//! between two recipients of a list, between two parts of a thread — with
//! what it sent recorded, instead of outliving the service manager's stop
//! timeout and being killed. Publishers that make one request just finish
//! it (HTTP timeouts bound it).

use tokio::sync::watch;

/// Whether the daemon is stopping. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Stopping(watch::Receiver<bool>);

impl Stopping {
    /// Follows a switch that turns `true` when the daemon stops.
    pub fn new(switch: watch::Receiver<bool>) -> Stopping {
        Stopping(switch)
    }

    /// Never set: for commands and tests that do not stop mid-send.
    pub fn never() -> Stopping {
        Stopping(watch::channel(false).1)
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once the daemon is stopping; never, if it never will.
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|stopping| *stopping).await.is_err() {
            // The switch is gone without being set: nobody can set it now.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wait_returns_once_set_and_never_for_never() {
        let (tx, rx) = watch::channel(false);
        let stopping = Stopping::new(rx);
        assert!(!stopping.is_set());
        let waiting = tokio::spawn({
            let s = stopping.clone();
            async move { s.wait().await }
        });
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("wait returned")
            .unwrap();
        assert!(stopping.is_set());
        // Set, then the switch dropped: still stopping.
        drop(tx);
        stopping.wait().await;

        let never = Stopping::never();
        assert!(!never.is_set());
        let waited = tokio::time::timeout(Duration::from_millis(50), never.wait()).await;
        assert!(waited.is_err(), "never() must not end a wait");
    }
}
