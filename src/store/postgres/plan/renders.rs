//! [`Renders`] on PostgreSQL: the `rendered` table, one row per
//! (item, channel), read back through its `at` delivery's variant.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;

use super::super::{db_error, PgStore};
use crate::store::{RenderRecord, Renders, StoreError, StoredRender};
use crate::variant::Variant;

/// Records written per statement and transaction: other writers go on
/// between them, as between the plan sync's chunks.
const RECORDS_PER_TX: usize = 5_000;

/// One statement a batch; a pair named twice in a batch is kept once (the
/// last), since one `ON CONFLICT DO UPDATE` may not touch a row twice.
const RECORD_SQL: &str = "INSERT INTO rendered (item, channel, source, fingerprint)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
     ON CONFLICT (item, channel) DO UPDATE
     SET source = excluded.source, fingerprint = excluded.fingerprint";

/// A record counts while its `at` delivery keeps the recorded fingerprint
/// (read by the deliveries' unique key). The row-value comparison pages in
/// the primary key's order.
const STORED_SQL: &str = "SELECT r.item, r.channel, r.source, d.variant
     FROM rendered r
     JOIN deliveries d
         ON d.item = r.item AND d.channel = r.channel AND d.occasion = 'at'
     WHERE (r.item, r.channel) > ($1, $2) AND d.fingerprint = r.fingerprint
     ORDER BY r.item, r.channel
     LIMIT $3";

#[async_trait]
impl Renders for PgStore {
    async fn record_renders(&self, records: &[RenderRecord]) -> Result<(), StoreError> {
        for batch in records.chunks(RECORDS_PER_TX) {
            let mut last: HashMap<(&str, &str), &RenderRecord> = HashMap::new();
            let mut order = Vec::new();
            for r in batch {
                let key = (r.item.as_str(), r.channel.as_str());
                if last.insert(key, r).is_none() {
                    order.push(key);
                }
            }
            let kept: Vec<&RenderRecord> = order.iter().map(|k| last[k]).collect();
            let column = |f: fn(&RenderRecord) -> &str| kept.iter().map(|r| f(r)).collect();
            let columns: [Vec<&str>; 4] = [
                column(|r| &r.item),
                column(|r| &r.channel),
                column(|r| &r.source),
                column(|r| &r.fingerprint),
            ];
            let [items, channels, sources, fingerprints] = columns;
            sqlx::query(RECORD_SQL)
                .bind(items)
                .bind(channels)
                .bind(sources)
                .bind(fingerprints)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    async fn stored_renders(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<StoredRender>, StoreError> {
        let (item, channel) = after.unwrap_or(("", ""));
        let rows = sqlx::query(STORED_SQL)
            .bind(item)
            .bind(channel)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        let mut stored = Vec::with_capacity(rows.len());
        for row in &rows {
            let json: String = row.try_get(3).map_err(db_error)?;
            let Ok(variant) = serde_json::from_str::<Variant>(&json) else {
                continue;
            };
            stored.push(StoredRender {
                item: row.try_get(0).map_err(db_error)?,
                channel: row.try_get(1).map_err(db_error)?,
                source: row.try_get(2).map_err(db_error)?,
                variant,
                json,
            });
        }
        Ok(stored)
    }
}
