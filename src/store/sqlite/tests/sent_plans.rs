//! A feed's read of its channel's newest sends walks the partial index of
//! sent rows backwards from the channel's newest and stops at the limit:
//! by (channel, due_at) it read and sorted every row the channel ever had
//! (2.8 s a feed at 120,948 sent rows).

use sqlx::{AssertSqlSafe, Row};

use crate::store::channel::{SENT_IN_PERIOD, SENT_LATEST};
use crate::store::contract::planned;
use crate::store::sqlite::SqliteStore;

#[tokio::test]
async fn sent_latest_searches_the_sent_index_without_sorting() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let plan: Vec<_> = (0..2000)
        .map(|i| {
            let channel = if i % 2 == 0 { "news" } else { "social" };
            planned(&format!("i{i}"), channel, "at", i, "t")
        })
        .collect();
    store.insert_many_for_bench(&plan).await.unwrap();
    // Most sent, a tenth still planned: the partial index must be the
    // one that answers, and its literal `state = 'sent'` must match.
    sqlx::query("UPDATE deliveries SET state = 'sent', sent_at = due_at WHERE id % 10 <> 0")
        .execute(&store.pool)
        .await
        .unwrap();
    let steps: Vec<String> =
        sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {SENT_LATEST}")))
            .bind("news")
            .bind(50_i64)
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect();
    assert_eq!(
        steps,
        ["SEARCH deliveries USING INDEX deliveries_sent_latest (channel=?)"],
        "{steps:#?}"
    );
}

/// A digest's read of its period searches (channel, due_at) for the
/// period's range: neither the channel's whole history (as reading every
/// send did) nor a sort.
#[tokio::test]
async fn sent_in_period_searches_the_channels_due_range() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let plan: Vec<_> = (0..2000)
        .map(|i| {
            let channel = if i % 2 == 0 { "news" } else { "social" };
            planned(&format!("i{i}"), channel, "at", i, "t")
        })
        .collect();
    store.insert_many_for_bench(&plan).await.unwrap();
    sqlx::query("UPDATE deliveries SET state = 'sent', sent_at = due_at WHERE id % 10 <> 0")
        .execute(&store.pool)
        .await
        .unwrap();
    let steps: Vec<String> = sqlx::query(AssertSqlSafe(format!(
        "EXPLAIN QUERY PLAN {SENT_IN_PERIOD}"
    )))
    .bind("news")
    .bind(0_i64)
    .bind(1_i64)
    .fetch_all(&store.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>("detail"))
    .collect();
    assert_eq!(
        steps,
        ["SEARCH deliveries USING INDEX deliveries_channel_due (channel=? AND due_at>? AND due_at<?)"],
        "{steps:#?}"
    );
}
