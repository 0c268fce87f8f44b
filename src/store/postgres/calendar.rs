//! [`Calendar`] on PostgreSQL: day counts and clashes, each one statement
//! over the due index, with the day bounds passed as two arrays.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};

use super::queries::{bind_filter, filter_sql, AWAITING_APPROVAL};
use super::{corrupt, db_error, stamp, PgStore};
use crate::store::rows::{parse_hold, parse_state, time};
use crate::store::{Calendar, Clash, QueueFilter, StoreError, Tally};

/// `filter` without what a calendar's own range replaces.
fn unbounded(filter: &QueueFilter) -> QueueFilter {
    QueueFilter {
        after: None,
        limit: None,
        due_from: None,
        due_before: None,
        ..filter.clone()
    }
}

/// [`Calendar::tally`]'s statement: `filter`'s values bound first, then
/// the spans' starts and ends (`[from, before)`, milliseconds) as arrays.
pub(super) fn tally_sql(filter: &QueueFilter) -> String {
    let (clause, n) = filter_sql(filter);
    let join = if clause.is_empty() { " WHERE" } else { " AND" };
    // Each span is one range scan of a due index; `span` counts from 0.
    format!(
        "SELECT (s.k - 1)::bigint AS span, d.state, d.hold_reason,
                ({AWAITING_APPROVAL}) AS awaiting, COUNT(*) AS n
         FROM unnest(${from}::bigint[], ${before}::bigint[]) WITH ORDINALITY
             AS s (from_ms, before_ms, k)
         JOIN deliveries d ON d.due_at >= s.from_ms AND d.due_at < s.before_ms{where_}
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
        from = n + 1,
        before = n + 2,
        where_ = clause.replacen(" WHERE", join, 1),
    )
}

/// [`Calendar::clashes`]'s statement: `filter`'s values, then the limit.
pub(super) fn clashes_sql(filter: &QueueFilter) -> String {
    let (clause, n) = filter_sql(filter);
    let join = if clause.is_empty() { " WHERE" } else { " AND" };
    // Two items differ where the least and the greatest differ: no
    // `COUNT(DISTINCT)` per group. Minute first: the index orders by time.
    format!(
        "SELECT channel, due_at / 60000 AS minute, array_agg(DISTINCT item) AS items
         FROM deliveries{clause}{join} state NOT IN ('cancelled', 'failed')
         GROUP BY minute, channel HAVING MIN(item) <> MAX(item)
         ORDER BY minute, channel LIMIT ${}",
        n + 1
    )
}

#[async_trait]
impl Calendar for PgStore {
    async fn tally(
        &self,
        filter: &QueueFilter,
        bounds: &[DateTime<Utc>],
    ) -> Result<Vec<Tally>, StoreError> {
        if bounds.len() < 2 {
            return Ok(Vec::new());
        }
        let ms: Vec<i64> = bounds.iter().map(|b| stamp(*b)).collect::<Result<_, _>>()?;
        let filter = unbounded(filter);
        let sql = tally_sql(&filter);
        let rows = bind_filter(sqlx::query(AssertSqlSafe(sql)), &filter)
            .bind(ms[..ms.len() - 1].to_vec())
            .bind(ms[1..].to_vec())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let span: i64 = row.try_get("span").map_err(db_error)?;
                let state: String = row.try_get("state").map_err(db_error)?;
                let count: i64 = row.try_get("n").map_err(db_error)?;
                Ok(Tally {
                    span: usize::try_from(span).map_err(|_| corrupt("a negative span"))?,
                    state: parse_state(&state, 0)?,
                    hold_reason: parse_hold(row.try_get("hold_reason").map_err(db_error)?, 0)?,
                    awaiting_approval: row.try_get("awaiting").map_err(db_error)?,
                    count: u64::try_from(count).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn clashes(&self, filter: &QueueFilter, limit: usize) -> Result<Vec<Clash>, StoreError> {
        let filter = QueueFilter {
            after: None,
            limit: None,
            ..filter.clone()
        };
        let sql = clashes_sql(&filter);
        let rows = bind_filter(sqlx::query(AssertSqlSafe(sql)), &filter)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let minute: i64 = row.try_get("minute").map_err(db_error)?;
                let mut items: Vec<String> = row.try_get("items").map_err(db_error)?;
                items.sort();
                Ok(Clash {
                    channel: row.try_get("channel").map_err(db_error)?,
                    at: time(minute * 60_000, 0, "due_at")?,
                    items,
                })
            })
            .collect()
    }
}
