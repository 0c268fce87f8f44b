//! Group commit: outcome writes that arrive while another transaction is
//! committing wait for it, then go to disk together in one transaction —
//! one fsync for many deliveries. Alone, a write commits at once, so a
//! quiet daemon pays no delay; a burst of sends pays one commit per batch.
//!
//! The common cases — "request started" (one delivery's, or a whole burst's
//! from `mark_requests_started`) and "sent" for a delivery still in flight —
//! run as one set-based statement for the whole batch (a statement costs
//! far more than a row). The dispatcher hands a burst's "request started"
//! in as one write and its outcomes as they come, after each send has
//! freed its slot; while bursts come, an outcome waits up to `PATIENCE`
//! for the next burst's mark to take it into its commit (River's batch
//! completer), so the path that decides lateness pays one fsync a burst.
//! Whatever the fast path does not match runs alone in its own savepoint,
//! which also gives it its precise error, and a refused change never
//! undoes the others. A caller returns only after the
//! transaction holding its write has committed: durability is unchanged.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::ops::{apply_finish, apply_request_started, Outcome};
use super::{db_error, stamp, SqliteStore};
use crate::store::StoreError;

pub(super) enum Write {
    RequestStarted {
        id: i64,
        now: DateTime<Utc>,
    },
    /// A burst: the ids not in flight with a live lease are left out of
    /// the reply (never an error for one of them).
    Started {
        ids: Vec<i64>,
        now: DateTime<Utc>,
    },
    Finish {
        id: i64,
        outcome: Outcome,
        now: DateTime<Utc>,
    },
}

/// A write and where its result goes: for [`Write::Started`] the ids it
/// marked, for the others nothing.
type Waiting = (Write, oneshot::Sender<Result<Vec<i64>, StoreError>>);

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
    /// When a burst's "request started" last came: while bursts come,
    /// outcomes wait a moment for the next one to carry them.
    last_burst: Mutex<Option<Instant>>,
}

/// How long an outcome waits for a burst's mark to carry it before it
/// commits on its own. Only while bursts come: a quiet daemon never waits.
const PATIENCE: Duration = Duration::from_millis(5);

/// How recent a burst's mark must be for outcomes to wait for the next.
const BURST_GAP: Duration = Duration::from_millis(50);

impl GroupCommit {
    fn in_burst(&self) -> bool {
        let last = *self.last_burst.lock().expect("burst lock");
        last.is_some_and(|t| t.elapsed() < BURST_GAP)
    }
}

impl SqliteStore {
    /// Records a delivery's outcome through the group commit.
    pub(super) async fn finish(
        &self,
        id: i64,
        outcome: super::ops::Outcome,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.grouped(Write::Finish { id, outcome, now })
            .await
            .map(drop)
    }
    pub(super) async fn grouped(&self, write: Write) -> Result<Vec<i64>, StoreError> {
        let dropped = |_| Err(StoreError::Other("a grouped write was dropped".into()));
        let patient = matches!(write, Write::Finish { .. }) && self.group.in_burst();
        if matches!(write, Write::Started { .. }) {
            *self.group.last_burst.lock().expect("burst lock") = Some(Instant::now());
        }
        let (done, mut result) = oneshot::channel();
        self.group
            .queue
            .lock()
            .expect("queue lock")
            .push((write, done));
        if patient {
            // The dispatcher's next mark takes this outcome into its commit
            // (River's batch completer): one fsync for both.
            if let Ok(r) = tokio::time::timeout(PATIENCE, &mut result).await {
                return r.unwrap_or_else(dropped);
            }
        }
        {
            let _turn = self.group.turn.lock().await;
            let batch = std::mem::take(&mut *self.group.queue.lock().expect("queue lock"));
            if !batch.is_empty() {
                self.commit_batch(batch).await;
            }
        }
        result.await.unwrap_or_else(dropped)
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
        let fast = match fast_path(&mut tx, &batch).await {
            Ok(done) => done,
            Err(e) => {
                for (_, done) in batch {
                    let _ = done.send(Err(e.clone()));
                }
                return;
            }
        };
        let mut results = Vec::with_capacity(batch.len());
        for (write, done) in batch {
            let r = match &write {
                Write::Started { ids, now } => stamp(*now).map(|_| {
                    let marked = ids.iter().filter(|id| fast.contains(&(true, **id)));
                    marked.copied().collect()
                }),
                w if applied(&fast, w) => Ok(Vec::new()),
                w => savepoint(&mut tx, w).await.map(|()| Vec::new()),
            };
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

/// The fast path's "sent" for a batch ($1: a JSON array). The unary `+`
/// keeps SQLite from reading every in-flight row through the state index
/// and scanning the batch for each (a burst has a thousand in flight): the
/// batch drives, each row found by its id.
pub(super) const SENT_SQL: &str =
    "UPDATE deliveries SET state = 'sent', hold_reason = NULL, lease_expires_at = NULL,
         next_attempt_at = NULL, last_error = NULL, remote_id = j.rid, remote_url = j.url,
         sent_at = j.at, updated_at = j.at
     FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.at') AS at,
                  json_extract(value, '$.rid') AS rid, json_extract(value, '$.url') AS url
           FROM json_each($1)) AS j
     WHERE deliveries.id = j.id AND +deliveries.state = 'in_flight'
     RETURNING deliveries.id";

/// The fast path's "request started" for a batch, as [`SENT_SQL`].
pub(super) const STARTED_SQL: &str =
    "UPDATE deliveries SET request_started_at = j.at, updated_at = j.at
     FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.at') AS at
           FROM json_each($1)) AS j
     WHERE deliveries.id = j.id AND +deliveries.state = 'in_flight'
       AND deliveries.lease_expires_at > j.at
     RETURNING deliveries.id";

/// Which (is "request started", delivery id) the fast path applied.
type Applied = std::collections::HashSet<(bool, i64)>;

/// Whether the fast path applied a single delivery's write.
fn applied(done: &Applied, write: &Write) -> bool {
    match write {
        Write::RequestStarted { id, .. } => done.contains(&(true, *id)),
        Write::Finish { id, outcome, .. } => {
            outcome.to == crate::delivery::State::Sent && done.contains(&(false, *id))
        }
        Write::Started { .. } => false,
    }
}

/// Applies every "request started" and "sent" of the batch whose delivery
/// is in flight (with a live lease, for "request started") in a few set
/// statements; says which it applied. A delivery id appears once per kind
/// in a batch: each caller waits for its own write before making the next.
async fn fast_path(
    conn: &mut sqlx::SqliteConnection,
    batch: &[Waiting],
) -> Result<Applied, StoreError> {
    let mut started = Vec::new();
    let mut sent = Vec::new();
    for (write, _) in batch {
        match write {
            // A time the store refuses goes the slow way, which says why.
            Write::RequestStarted { id, now } => {
                if let Ok(at) = stamp(*now) {
                    started.push(serde_json::json!({"id": id, "at": at}))
                }
            }
            Write::Started { ids, now } => {
                if let Ok(at) = stamp(*now) {
                    let each = ids.iter().map(|id| serde_json::json!({"id": id, "at": at}));
                    started.extend(each)
                }
            }
            Write::Finish { id, outcome, now } if outcome.to == crate::delivery::State::Sent => {
                let Ok(at) = stamp(*now) else { continue };
                let r = outcome.receipt.clone().unwrap_or_default();
                sent.push(serde_json::json!({
                    "id": id, "at": at, "rid": r.remote_id,
                    "url": r.remote_url, "reason": outcome.reason,
                }))
            }
            Write::Finish { .. } => {}
        }
    }
    let mut done = Applied::new();
    // Outcomes first: in the audit log they come before the next marks.
    if !sent.is_empty() {
        let rows: Vec<(i64,)> = sqlx::query_as(SENT_SQL)
            .bind(serde_json::Value::Array(sent.clone()).to_string())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
        let ok: std::collections::HashSet<i64> = rows.into_iter().map(|r| r.0).collect();
        let logged: Vec<_> = sent
            .into_iter()
            .filter(|j| ok.contains(&j["id"].as_i64().unwrap_or(-1)))
            .collect();
        sqlx::query(
            "INSERT INTO transitions (delivery_id, at, from_state, to_state, actor, reason)
             SELECT json_extract(value, '$.id'), json_extract(value, '$.at'),
                    'in_flight', 'sent', 'daemon', json_extract(value, '$.reason')
             FROM json_each($1)",
        )
        .bind(serde_json::Value::Array(logged).to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        done.extend(ok.into_iter().map(|id| (false, id)));
    }
    if !started.is_empty() {
        let rows: Vec<(i64,)> = sqlx::query_as(STARTED_SQL)
            .bind(serde_json::Value::Array(started.clone()).to_string())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
        let ok: std::collections::HashSet<i64> = rows.into_iter().map(|r| r.0).collect();
        let logged: Vec<_> = started
            .into_iter()
            .filter(|j| ok.contains(&j["id"].as_i64().unwrap_or(-1)))
            .collect();
        sqlx::query(
            "INSERT INTO transitions (delivery_id, at, from_state, to_state, actor, reason)
             SELECT json_extract(value, '$.id'), json_extract(value, '$.at'),
                    'in_flight', 'in_flight', 'daemon', 'request started'
             FROM json_each($1)",
        )
        .bind(serde_json::Value::Array(logged).to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        done.extend(ok.into_iter().map(|id| (true, id)));
    }
    Ok(done)
}

async fn savepoint(conn: &mut sqlx::SqliteConnection, write: &Write) -> Result<(), StoreError> {
    sqlx::query("SAVEPOINT write")
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    let r = match write {
        Write::RequestStarted { id, now } => apply_request_started(conn, *id, *now).await,
        Write::Finish { id, outcome, now } => apply_finish(conn, *id, outcome, *now).await,
        Write::Started { .. } => Ok(()),
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
