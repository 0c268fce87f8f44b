//! A feed's read of its channel's newest sends walks the partial index of
//! sent rows backwards from the channel's newest and stops at the limit:
//! by (channel, due_at) it read and sorted every row the channel ever had
//! (2.8 s a feed at 120,948 sent rows). A digest's read of its period
//! searches (channel, due_at) for the period's range only.

use sqlx::{AssertSqlSafe, Row};

use crate::store::channel::{SENT_IN_PERIOD, SENT_LATEST};
use crate::store::contract::planned;
use crate::store::sqlite::SqliteStore;

/// 2,000 deliveries on two channels, most sent, a tenth still planned:
/// a partial index of sent rows must be the one that answers, and its
/// literal `state = 'sent'` must match.
async fn sends() -> SqliteStore {
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
    store
}

/// The steps of `sql`'s plan for channel `news` and the numbers after it.
async fn steps(store: &SqliteStore, sql: &str, numbers: &[i64]) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let query = sqlx::query(AssertSqlSafe(explain)).bind("news");
    let query = numbers.iter().fold(query, |q, n| q.bind(*n));
    let rows = query.fetch_all(&store.pool).await.unwrap();
    rows.iter().map(|r| r.get::<String, _>("detail")).collect()
}

#[tokio::test]
async fn sent_latest_searches_the_sent_index_without_sorting() {
    let store = sends().await;
    let steps = steps(&store, SENT_LATEST, &[50]).await;
    assert_eq!(
        steps,
        ["SEARCH deliveries USING INDEX deliveries_sent_latest (channel=?)"],
        "{steps:#?}"
    );
}

/// Neither the channel's whole history (as reading every send did) nor a
/// sort.
#[tokio::test]
async fn sent_in_period_searches_the_channels_due_range() {
    let store = sends().await;
    let steps = steps(&store, SENT_IN_PERIOD, &[0, 1]).await;
    assert_eq!(
        steps,
        ["SEARCH deliveries USING INDEX deliveries_channel_due (channel=? AND due_at>? AND due_at<?)"],
        "{steps:#?}"
    );
}
