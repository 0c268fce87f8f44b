//! Group commit: outcome writes that arrive while another transaction is
//! committing wait for it, then go to disk together in one transaction —
//! one fsync for many deliveries. Alone, a write commits at once, so a
//! quiet daemon pays no delay; a burst of sends pays one commit per batch.
//!
//! Each write runs in its own savepoint, so one refused change (a lease
//! that expired) does not undo the others. A caller returns only after the
//! transaction holding its write has committed: durability is unchanged.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::ops::{apply_finish, apply_request_started, Outcome};
use super::{db_error, SqliteStore};
use crate::store::StoreError;

pub(super) enum Write {
    RequestStarted {
        id: i64,
        now: DateTime<Utc>,
    },
    Finish {
        id: i64,
        outcome: Outcome,
        now: DateTime<Utc>,
    },
}

type Waiting = (Write, oneshot::Sender<Result<(), StoreError>>);

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

#[derive(Default)]
pub(super) struct GroupCommit {
    queue: Mutex<Vec<Waiting>>,
    /// Held by whoever is committing; the next holder takes the whole queue.
    turn: tokio::sync::Mutex<()>,
}

impl SqliteStore {
    pub(super) async fn grouped(&self, write: Write) -> Result<(), StoreError> {
        let (done, result) = oneshot::channel();
        self.group
            .queue
            .lock()
            .expect("queue lock")
            .push((write, done));
        {
            let _turn = self.group.turn.lock().await;
            let batch = std::mem::take(&mut *self.group.queue.lock().expect("queue lock"));
            if !batch.is_empty() {
                self.commit_batch(batch).await;
            }
        }
        result
            .await
            .unwrap_or_else(|_| Err(StoreError::Other("a grouped write was dropped".into())))
    }

    async fn commit_batch(&self, batch: Vec<Waiting>) {
        let mut tx = match self.write().await {
            Ok(tx) => tx,
            Err(e) => {
                for (_, done) in batch {
                    let _ = done.send(Err(e.clone()));
                }
                return;
            }
        };
        let mut results = Vec::with_capacity(batch.len());
        for (write, done) in batch {
            let r = savepoint(&mut tx, &write).await;
            results.push((done, r));
        }
        match tx.commit().await.map_err(db_error) {
            Ok(()) => {
                for (done, r) in results {
                    let _ = done.send(r);
                }
            }
            Err(e) => {
                for (done, _) in results {
                    let _ = done.send(Err(e.clone()));
                }
            }
        }
    }
}

async fn savepoint(conn: &mut sqlx::SqliteConnection, write: &Write) -> Result<(), StoreError> {
    sqlx::query("SAVEPOINT write")
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    let r = match write {
        Write::RequestStarted { id, now } => apply_request_started(conn, *id, *now).await,
        Write::Finish { id, outcome, now } => apply_finish(conn, *id, outcome, *now).await,
    };
    if r.is_err() {
        sqlx::query("ROLLBACK TO SAVEPOINT write")
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    sqlx::query("RELEASE SAVEPOINT write")
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    r
}
