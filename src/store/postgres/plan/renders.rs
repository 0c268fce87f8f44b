//! [`Renders`] on PostgreSQL: the `rendered` table, one row per
//! (item, channel), counted while its `at` delivery keeps the recorded
//! fingerprint.

use std::collections::HashMap;

use async_trait::async_trait;

use super::super::{db_error, PgStore};
use crate::store::{RenderRecord, Renders, StoreError, StoredRender};

/// Records written per statement and transaction: other writers go on
/// between them, as between the plan sync's chunks.
const RECORDS_PER_TX: usize = 5_000;

/// One statement a batch; a pair named twice in a batch is kept once (the
/// last), since one `ON CONFLICT DO UPDATE` may not touch a row twice.
const RECORD_SQL: &str = "INSERT INTO rendered (item, channel, source, fingerprint, state)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[])
     ON CONFLICT (item, channel) DO UPDATE
     SET source = excluded.source, fingerprint = excluded.fingerprint, state = excluded.state";

/// A record counts while its `at` delivery keeps the recorded fingerprint
/// (read by the deliveries' unique key). The row-value comparison pages in
/// the primary key's order.
const STORED_SQL: &str = "SELECT r.item, r.channel, r.source, r.state
     FROM rendered r
     JOIN deliveries d
         ON d.item = r.item AND d.channel = r.channel AND d.occasion = 'at'
     WHERE (r.item, r.channel) > ($1, $2) AND d.fingerprint = r.fingerprint
       AND r.state IS NOT NULL
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
            let states: Vec<&[u8]> = kept.iter().map(|r| r.state.as_slice()).collect();
            sqlx::query(RECORD_SQL)
                .bind(items)
                .bind(channels)
                .bind(sources)
                .bind(fingerprints)
                .bind(states)
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
        (rows.iter())
            .map(|row| crate::store::renders::stored_render(row, db_error))
            .collect()
    }
}
