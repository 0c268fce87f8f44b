//! Reads and switches: queue listings, history, counts, pauses, channel health.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};

use sqlx::sqlite::SqliteRow;

use super::{corrupt, db_error, delivery_from_row, parse_state, stamp, time, SqliteStore};
use crate::delivery::{Actor, Delivery, DeliverySummary, State, Transition};
use crate::store::rows::{summary, SummaryColumns, SUMMARY_COLUMNS};
use crate::store::{Paused, QueueFilter, StoreError};

impl SqliteStore {
    pub(super) async fn select_list(
        &self,
        filter: &QueueFilter,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.select_rows(filter, delivery_columns!())
            .await?
            .iter()
            .map(delivery_from_row)
            .collect()
    }

    /// One row holding the whole listing as a JSON array, not a row per
    /// delivery: sqlx hands each row over from its SQLite thread, which
    /// cost more than SQLite's own reading (~6 µs a row against ~2.5).
    pub(super) async fn select_summaries(
        &self,
        filter: &QueueFilter,
    ) -> Result<Vec<DeliverySummary>, StoreError> {
        let sql = format!(
            "SELECT json_group_array(json_array({SUMMARY_COLUMNS}) ORDER BY due_at, id) FROM ({})",
            list_sql(filter, SUMMARY_COLUMNS)
        );
        let text: String = list_query(&sql, filter)
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db_error)?;
        let rows: Vec<SummaryColumns> = serde_json::from_str(&text)
            .map_err(|e| corrupt(format!("a listing's JSON is unreadable: {e}")))?;
        rows.into_iter().map(summary).collect()
    }

    /// `columns` of the deliveries `filter` matches, by due time.
    async fn select_rows(
        &self,
        filter: &QueueFilter,
        columns: &str,
    ) -> Result<Vec<SqliteRow>, StoreError> {
        list_query(&list_sql(filter, columns), filter)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)
    }

    pub(super) async fn select_history(&self, id: i64) -> Result<Vec<Transition>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let exists = sqlx::query("SELECT 1 FROM deliveries WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
        if exists.is_none() {
            return Err(StoreError::NotFound(id));
        }
        // Insertion order, not `at`: callers' clocks may step backwards.
        let rows = sqlx::query(
            "SELECT at, from_state, to_state, actor, reason FROM transitions
             WHERE delivery_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let at: i64 = row.try_get("at").map_err(db_error)?;
                let from: Option<String> = row.try_get("from_state").map_err(db_error)?;
                let to: String = row.try_get("to_state").map_err(db_error)?;
                let actor: String = row.try_get("actor").map_err(db_error)?;
                Ok(Transition {
                    at: time(at, id, "transition time")?,
                    delivery: id,
                    from: from.map(|s| parse_state(&s, id)).transpose()?,
                    to: parse_state(&to, id)?,
                    actor: Actor::parse(&actor).ok_or_else(|| {
                        corrupt(format!("delivery {id}: unknown actor {actor:?}"))
                    })?,
                    reason: row.try_get("reason").map_err(db_error)?,
                })
            })
            .collect()
    }

    pub(super) async fn upsert_pause(
        &self,
        channel: Option<&str>,
        paused: bool,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (scope, name) = match channel {
            Some(c) => ("channel", c),
            None => ("all", ""),
        };
        sqlx::query(
            "INSERT INTO pauses (scope, channel, paused, changed_at, actor)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (scope, channel) DO UPDATE
             SET paused = excluded.paused, changed_at = excluded.changed_at,
                 actor = excluded.actor",
        )
        .bind(scope)
        .bind(name)
        .bind(paused)
        .bind(stamp(now)?)
        .bind(actor.to_stored())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        tracing::info!(
            channel = channel.unwrap_or("*"),
            paused,
            actor = actor.to_stored(),
            "pause switch set"
        );
        Ok(())
    }

    pub(super) async fn select_paused(&self) -> Result<Paused, StoreError> {
        let rows = sqlx::query(
            "SELECT scope, channel, changed_at, actor FROM pauses WHERE paused <> 0
             ORDER BY scope, channel",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut paused = Paused::default();
        for row in &rows {
            let scope: String = row.try_get("scope").map_err(db_error)?;
            match scope.as_str() {
                "all" => {
                    paused.all = true;
                    let at: i64 = row.try_get("changed_at").map_err(db_error)?;
                    paused.since = Some(super::time(at, 0, "pauses.changed_at")?);
                    paused.by = Some(row.try_get("actor").map_err(db_error)?);
                }
                "channel" => paused
                    .channels
                    .push(row.try_get("channel").map_err(db_error)?),
                other => return Err(corrupt(format!("unknown pause scope {other:?}"))),
            }
        }
        Ok(paused)
    }

    pub(super) async fn select_counts(&self) -> Result<Vec<(String, State, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT channel, state, COUNT(*) AS n FROM deliveries
             GROUP BY channel, state ORDER BY channel, state",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state").map_err(db_error)?;
                let n: i64 = row.try_get("n").map_err(db_error)?;
                Ok((
                    row.try_get("channel").map_err(db_error)?,
                    State::parse(&state)
                        .ok_or_else(|| corrupt(format!("unknown state {state:?}")))?,
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect()
    }

    pub(super) async fn upsert_channel_status(
        &self,
        channel: &str,
        status: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let query = match status {
            Some(status) => sqlx::query(
                "INSERT INTO channel_status (channel, status, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (channel) DO UPDATE
                 SET status = excluded.status, updated_at = excluded.updated_at",
            )
            .bind(channel)
            .bind(status)
            .bind(stamp(now)?),
            None => sqlx::query("DELETE FROM channel_status WHERE channel = $1").bind(channel),
        };
        query.execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }

    pub(super) async fn select_channel_statuses(
        &self,
    ) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query("SELECT channel, status FROM channel_status ORDER BY channel")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get("channel").map_err(db_error)?,
                    row.try_get("status").map_err(db_error)?,
                ))
            })
            .collect()
    }
}

/// A delivery still waiting for someone to approve it: needing approval,
/// not approved, and planned, retrying or held for approval (held for
/// another reason, it shows that reason). One term for the filter and the
/// calendar's counts.
pub(super) const AWAITING_APPROVAL: &str = "requires_approval = 1 AND approved = 0 \
     AND (state IN ('planned', 'retrying') OR (state = 'held' AND hold_reason = 'approval'))";

/// The `WHERE` clause of what `filter` matches (empty if everything) and
/// how many numbered placeholders it uses; [`bind_filter`] binds their
/// values in the same order. Only column names and placeholders are
/// spliced in. `filter.limit` is not part of it.
pub(super) fn filter_sql(filter: &QueueFilter) -> (String, usize) {
    let mut conditions = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if filter.state.is_some() {
        conditions.push(format!("state = ${}", next()));
    }
    if filter.hold_reason.is_some() {
        conditions.push(format!("hold_reason = ${}", next()));
    }
    if filter.channel.is_some() {
        conditions.push(format!("channel = ${}", next()));
    }
    if filter.item.is_some() {
        conditions.push(format!("item = ${}", next()));
    }
    if filter.after.is_some() {
        let (t, i) = (next(), next());
        conditions.push(format!("(due_at > ${t} OR (due_at = ${t} AND id > ${i}))"));
    }
    if filter.due_from.is_some() {
        conditions.push(format!("due_at >= ${}", next()));
    }
    if filter.due_before.is_some() {
        conditions.push(format!("due_at < ${}", next()));
    }
    if filter.awaiting_approval {
        // `state IN (…)` is the partial index's own term
        // (`deliveries_awaiting`), written alike so the planner uses it.
        conditions.push(format!(
            "state IN ('planned', 'retrying', 'held') AND {AWAITING_APPROVAL}"
        ));
    }
    if filter.items.is_some() {
        // `+item`: a check on the rows the other terms find, never a lookup
        // per listed item (a kind can name thousands, each with deliveries
        // across years: a month took 3.4 s at 1M rows).
        conditions.push(format!(
            "+item IN (SELECT value FROM json_each(${}))",
            next()
        ));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    (clause, n)
}

/// The statement listing `columns` of the deliveries `filter` matches, by
/// due time; [`list_query`] binds its values.
pub(super) fn list_sql(filter: &QueueFilter, columns: &str) -> String {
    let (clause, n) = filter_sql(filter);
    let mut sql = format!("SELECT {columns} FROM deliveries{clause}");
    sql.push_str(" ORDER BY due_at, id");
    if filter.limit.is_some() {
        sql.push_str(&format!(" LIMIT ${}", n + 1));
    }
    sql
}

/// `sql` (from [`list_sql`]) with `filter`'s values bound.
pub(super) fn list_query<'q>(
    sql: &str,
    filter: &QueueFilter,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    let query = bind_filter(sqlx::query(AssertSqlSafe(sql.to_string())), filter);
    match filter.limit {
        Some(limit) => query.bind(i64::try_from(limit).unwrap_or(i64::MAX)),
        None => query,
    }
}

/// `query` with the values of [`filter_sql`]'s clause bound, in its order.
pub(super) fn bind_filter<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    filter: &QueueFilter,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    if let Some(state) = filter.state {
        query = query.bind(state.as_str());
    }
    if let Some(reason) = filter.hold_reason {
        query = query.bind(reason.as_str());
    }
    if let Some(channel) = &filter.channel {
        query = query.bind(channel.clone());
    }
    if let Some(item) = &filter.item {
        query = query.bind(item.clone());
    }
    if let Some((due_at, id)) = filter.after {
        query = query.bind(due_at.timestamp_millis()).bind(id);
    }
    for t in [filter.due_from, filter.due_before].into_iter().flatten() {
        query = query.bind(t.timestamp_millis());
    }
    if let Some(items) = &filter.items {
        query = query.bind(serde_json::to_string(items).unwrap_or_else(|_| "[]".into()));
    }
    query
}
