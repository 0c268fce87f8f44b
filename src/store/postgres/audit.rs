//! The audit log: deliveries' transitions and content changes, read
//! together newest first.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};

use super::{db_error, stamp, PgStore};
use crate::store::rows::{audit_entry, content_change};
use crate::store::{AuditEntry, AuditFilter, ChannelActivity, ContentChange, StoreError};

impl PgStore {
    pub(super) async fn insert_content_change(&self, c: &ContentChange) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO content_changes (at, actor, item, action, version, file,
                                          before_text, after_text, reason, not_in_git)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(stamp(c.at)?)
        .bind(c.actor.to_stored())
        .bind(&c.item)
        .bind(&c.action)
        .bind(&c.version)
        .bind(&c.file)
        .bind(&c.before)
        .bind(&c.after)
        .bind(&c.reason)
        .bind(&c.not_in_git)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    pub(super) async fn select_content_changes(
        &self,
        item: &str,
    ) -> Result<Vec<ContentChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, actor, item, action, version, file, before_text, after_text,
                    reason, not_in_git
             FROM content_changes WHERE item = $1 ORDER BY at, id",
        )
        .bind(item)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(content_change).collect()
    }

    pub(super) async fn select_audit(
        &self,
        f: &AuditFilter,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        // The same four conditions on both halves; a channel filter leaves
        // content changes out (they belong to no channel).
        let conditions = |item: &str, channel: Option<&str>, actor: &str, at: &str| {
            let mut c = vec!["true".to_string()];
            if f.item.is_some() {
                c.push(format!("{item} = $1"));
            }
            match (f.channel.is_some(), channel) {
                (true, Some(col)) => c.push(format!("{col} = $2")),
                (true, None) => c.push("false".into()),
                _ => {}
            }
            if f.content_only && channel.is_some() {
                c.push("false".into());
            }
            if f.actor.is_some() {
                c.push(format!("{actor} = $3"));
            }
            if f.since.is_some() {
                c.push(format!("{at} >= $4"));
            }
            c.join(" AND ")
        };
        let sql = format!(
            "SELECT t.at AS at, t.actor AS actor, d.item AS item, d.channel AS channel,
                    t.delivery_id AS delivery, t.from_state AS from_state,
                    t.to_state AS to_state, t.reason AS what, t.id AS seq, 0 AS half,
                    NULL::text AS not_in_git
             FROM transitions t JOIN deliveries d ON d.id = t.delivery_id WHERE {}
             UNION ALL
             SELECT c.at, c.actor, c.item, NULL, NULL, NULL, NULL,
                    c.action || CASE c.version WHEN '' THEN '' ELSE ' to version ' || c.version END
                        || COALESCE(' (not recorded in git: ' || c.not_in_git || ')', ''),
                    c.id, 1, c.not_in_git
             FROM content_changes c WHERE {}
             ORDER BY at DESC, half DESC, seq DESC LIMIT $5 OFFSET $6",
            conditions("d.item", Some("d.channel"), "t.actor", "t.at"),
            conditions("c.item", None, "c.actor", "c.at"),
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(f.item.clone().unwrap_or_default())
            .bind(f.channel.clone().unwrap_or_default())
            .bind(f.actor.clone().unwrap_or_default())
            .bind(f.since.map_or(0, |t| t.timestamp_millis()))
            .bind(i64::try_from(f.limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(f.offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(audit_entry).collect()
    }
}

impl PgStore {
    pub(super) async fn select_channel_activity(&self) -> Result<Vec<ChannelActivity>, StoreError> {
        // Each channel's latest failed or retrying delivery, with its own
        // error (`DISTINCT ON`), beside its latest send.
        let rows = sqlx::query(
            "WITH sent AS (
                 SELECT channel, MAX(sent_at) AS sent FROM deliveries
                 WHERE state = 'sent' GROUP BY channel),
             failed AS (
                 SELECT DISTINCT ON (channel) channel, updated_at AS failed, last_error AS error
                 FROM deliveries WHERE state IN ('failed', 'retrying')
                 ORDER BY channel, updated_at DESC, id DESC)
             SELECT COALESCE(s.channel, f.channel) AS channel, s.sent, f.failed, f.error
             FROM sent s FULL JOIN failed f ON f.channel = s.channel
             ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let time = |ms: Option<i64>| ms.and_then(DateTime::<Utc>::from_timestamp_millis);
        rows.iter()
            .map(|r| {
                Ok(ChannelActivity {
                    channel: r.try_get("channel").map_err(db_error)?,
                    last_sent: time(r.try_get("sent").map_err(db_error)?),
                    last_failed: time(r.try_get("failed").map_err(db_error)?),
                    last_error: r.try_get("error").map_err(db_error)?,
                })
            })
            .collect()
    }
}
