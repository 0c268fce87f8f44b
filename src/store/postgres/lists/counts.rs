//! Confirmed subscribers by topic at past times, counted from the consent
//! history (a consent counts from its confirmation until its withdrawal),
//! so a month that is over keeps the count it had.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::store::lists::TopicCounts;
use crate::store::postgres::{db_error, PgStore};
use crate::store::StoreError;

/// Each confirmed consent as a span `[start, stop)` in one pass: from its
/// confirmation (and, if imported, its import: its evidence may be older
/// than the list) until it was withdrawn or the address suppressed (a
/// bounce limit suppresses without withdrawing consent). A later consent
/// of the same person and topic ends the earlier one, so the spans of a
/// (person, topic) never overlap and summing them counts people.
const SPANS: &str = "WITH spans AS (
       SELECT s.channel, c.topic, c.subscriber_id,
              GREATEST(c.confirmed_at, COALESCE(c.imported_at, c.confirmed_at)) AS start,
              LEAST(COALESCE(c.withdrawn_at, 9223372036854775807),
                    COALESCE(x.at, 9223372036854775807)) AS stop
       FROM consents c JOIN subscribers s ON s.id = c.subscriber_id
       LEFT JOIN suppressions x ON x.channel = s.channel AND x.email_hash = s.email_hash
       WHERE c.confirmed_at IS NOT NULL),
     disjoint AS (
       SELECT channel, topic, start,
              LEAST(stop, COALESCE(LEAD(start) OVER (PARTITION BY subscriber_id, topic
                                                     ORDER BY start),
                                   9223372036854775807)) AS stop
       FROM spans)";

pub(super) async fn confirmed_counts(
    store: &PgStore,
    at: &[DateTime<Utc>],
) -> Result<Vec<TopicCounts>, StoreError> {
    if at.is_empty() {
        return Ok(Vec::new());
    }
    // One column per time: who was on the topic just before it.
    let columns: String = (1..=at.len())
        .map(|i| format!(", COUNT(*) FILTER (WHERE start < ${i} AND stop >= ${i})"))
        .collect();
    let sql = format!(
        "{SPANS} SELECT channel, topic{columns} FROM disjoint
         GROUP BY channel, topic HAVING MAX(start) IS NOT NULL ORDER BY channel, topic"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for t in at {
        query = query.bind(t.timestamp_millis());
    }
    let rows = query.fetch_all(&store.pool).await.map_err(db_error)?;
    let mut out = Vec::new();
    for row in rows {
        let mut counts = Vec::with_capacity(at.len());
        for i in 0..at.len() {
            let n: i64 = row.try_get(i + 2).map_err(db_error)?;
            counts.push(n.max(0) as u64);
        }
        // A pair nobody was ever on at these times is left out.
        if counts.iter().any(|n| *n > 0) {
            out.push(TopicCounts {
                channel: row.try_get(0).map_err(db_error)?,
                topic: row.try_get(1).map_err(db_error)?,
                counts,
            });
        }
    }
    Ok(out)
}
