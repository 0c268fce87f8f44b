//! Confirmed subscribers by topic at past times, counted from the consent
//! history (a consent counts from its confirmation until its withdrawal),
//! so a month that is over keeps the count it had.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::store::lists::TopicCounts;
use crate::store::sqlite::{db_error, SqliteStore};
use crate::store::StoreError;

/// Who was on a (channel, topic) just before `$1`: a consent confirmed
/// (and, if imported, imported: its evidence may be older than the list)
/// before it and not withdrawn by then, of an address not suppressed by
/// then (a bounce limit suppresses without withdrawing consent).
const CONFIRMED_BEFORE: &str = "SELECT s.channel, c.topic, COUNT(DISTINCT c.subscriber_id)
     FROM consents c JOIN subscribers s ON s.id = c.subscriber_id
     WHERE MAX(c.confirmed_at, COALESCE(c.imported_at, c.confirmed_at)) < $1
       AND (c.withdrawn_at IS NULL OR c.withdrawn_at >= $1)
       AND NOT EXISTS (SELECT 1 FROM suppressions x
                       WHERE x.channel = s.channel AND x.email_hash = s.email_hash AND x.at < $1)
     GROUP BY s.channel, c.topic";

pub(super) async fn confirmed_counts(
    store: &SqliteStore,
    at: &[DateTime<Utc>],
) -> Result<Vec<TopicCounts>, StoreError> {
    // One read transaction: every count from the same history.
    let mut tx = store.pool.begin().await.map_err(db_error)?;
    let mut counts: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for (i, t) in at.iter().enumerate() {
        let rows = sqlx::query(CONFIRMED_BEFORE)
            .bind(t.timestamp_millis())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        for row in rows {
            let key = (
                row.try_get(0).map_err(db_error)?,
                row.try_get(1).map_err(db_error)?,
            );
            let n: i64 = row.try_get(2).map_err(db_error)?;
            counts.entry(key).or_insert_with(|| vec![0; at.len()])[i] = n.max(0) as u64;
        }
    }
    Ok(counts
        .into_iter()
        .map(|((channel, topic), counts)| TopicCounts {
            channel,
            topic,
            counts,
        })
        .collect())
}
