//! The schema across versions: migrations run once, a newer schema is
//! refused, and a migration puts old rows right.

use sqlx::{AssertSqlSafe, Row};
use tempfile::TempDir;

use crate::store::contract::{at, planned};
use crate::store::sqlite::{schema, SqliteStore};
use crate::store::{QueueFilter, Store, StoreError};

#[tokio::test]
async fn reopening_keeps_data_and_does_not_migrate_twice() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .sync_plan(&[planned("a", "news", "at", 0, "t")], at(0))
        .await
        .unwrap();
    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.list(&QueueFilter::default()).await.unwrap().len(), 1);
    let versions: Vec<i64> = sqlx::query("SELECT version FROM schema_version ORDER BY version")
        .fetch_all(&store.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=schema::CURRENT).collect::<Vec<_>>());
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query("PRAGMA foreign_keys")
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(fk, 1);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    let store = SqliteStore::open(&path).await.unwrap();
    sqlx::query("INSERT INTO schema_version (version) VALUES (999)")
        .execute(&store.pool)
        .await
        .unwrap();
    store.close().await;
    match SqliteStore::open(&path).await {
        Err(StoreError::Open { reason, .. }) => assert!(reason.contains("999"), "{reason}"),
        other => panic!("expected Open, got {other:?}"),
    }
}

/// Migration 4 puts right consents imported before it: those recorded the
/// import time as given_at and the stated consent time as confirmed_at.
#[tokio::test]
async fn migration_4_records_imported_consent_as_given_when_stated() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    let store = SqliteStore::open(&path).await.unwrap();
    for sql in [
        "INSERT INTO subscribers (id, channel, email, email_hash, status, created_at, confirmed_at)
         VALUES (1, 'news', 'a@example.org', 'h1', 'confirmed', 5000, 1000),
                (2, 'news', 'b@example.org', 'h2', 'confirmed', 5000, 9000)",
        // Inside out (stated time 1000, imported at 5000), and a pending
        // import confirmed by its click at 9000 (already right).
        "INSERT INTO consents (subscriber_id, topic, method, given_at, wording, confirmed_at)
         VALUES (1, 'news', 'import', 5000, 'w', 1000), (2, 'news', 'import', 5000, 'w', 9000)",
        // Back to schema 3, as a database in the field is.
        "ALTER TABLE consents DROP COLUMN imported_at",
        "ALTER TABLE subscribers DROP COLUMN confirm_resent_at",
        // Migration 15 (the feeds' index), 13 (the calendar's index), 12
        // (console indexes), 11 (columns of content_changes, dropped with
        // it), 10 (review links), 9 (digests), 8 (bounces), 7 (people),
        // then 6 (audit).
        "DROP INDEX deliveries_sent_latest",
        "DROP INDEX deliveries_calendar",
        "DROP INDEX deliveries_channel_due",
        "DROP INDEX deliveries_awaiting",
        "DROP TABLE review_views",
        "DROP TABLE review_links",
        "DROP TABLE digest_choices",
        "DROP TABLE bounce_events",
        "DROP TABLE sessions",
        "DROP TABLE accounts",
        "DROP TABLE api_tokens",
        "DROP TABLE links",
        "DROP TABLE signin_attempts",
        "DROP TABLE content_changes",
        "DROP TABLE rendered",
        "DROP INDEX transitions_at",
        "DELETE FROM schema_version WHERE version >= 4",
    ] {
        sqlx::query(AssertSqlSafe(sql))
            .execute(&store.pool)
            .await
            .unwrap();
    }
    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    let rows: Vec<(i64, i64, i64)> = sqlx::query(
        "SELECT given_at, confirmed_at, imported_at FROM consents ORDER BY subscriber_id",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    assert_eq!(rows, [(1000, 1000, 5000), (5000, 9000, 5000)]);
}
