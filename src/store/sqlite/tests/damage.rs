//! What SQLite can meet on disk: a file that is not ours, a place it cannot
//! write, a lock held by someone else, damaged rows. Each is a located
//! error, never a panic.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection};
use tempfile::TempDir;

use crate::delivery::State;
use crate::store::contract::{at, planned, LEASE};
use crate::store::sqlite::SqliteStore;
use crate::store::{QueueFilter, Store, StoreError};

/// A second connection to the file, outside the store.
async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .unwrap()
}

#[tokio::test]
async fn garbage_file_is_corrupt_and_named() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    std::fs::write(
        &path,
        b"these are not the bytes of a database\n".repeat(200),
    )
    .unwrap();
    match SqliteStore::open(&path).await {
        Err(StoreError::Corrupt(msg)) => {
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains("not a database"), "{msg}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn someone_elses_database_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("other.db");
    let mut conn = SqliteConnection::connect_with(
        &SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    sqlx::query("CREATE TABLE customers (id INTEGER)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    match SqliteStore::open(&path).await {
        Err(StoreError::Corrupt(msg)) => assert!(msg.contains("customers"), "{msg}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn unwritable_place_is_an_open_error_naming_the_path() {
    let dir = TempDir::new().unwrap();
    // A regular file where a directory should be fails even for root.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "a file").unwrap();
    let path = blocker.join("data/crier.db");
    match SqliteStore::open(&path).await {
        Err(e @ StoreError::Open { .. }) => {
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        }
        other => panic!("expected Open, got {other:?}"),
    }
    // A directory where the file should be.
    match SqliteStore::open(dir.path()).await {
        Err(StoreError::Open { path, .. }) => assert_eq!(path, dir.path().display().to_string()),
        other => panic!("expected Open, got {other:?}"),
    }
}

#[tokio::test]
async fn a_held_write_lock_gives_locked_then_clears() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    let store = SqliteStore::open_with_busy_timeout(&path, Duration::from_millis(100))
        .await
        .unwrap();
    store
        .sync_plan(&[planned("a", "news", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let mut other = raw(&path).await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();

    let plan = [planned("b", "news", "at", 0, "t")];
    assert!(matches!(
        store.sync_plan(&plan, at(1)).await,
        Err(StoreError::Locked)
    ));
    assert!(matches!(
        store.lease_due(at(1), 5, LEASE).await,
        Err(StoreError::Locked)
    ));
    // WAL readers are not blocked by a writer.
    assert_eq!(store.list(&QueueFilter::default()).await.unwrap().len(), 1);

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(store.sync_plan(&plan, at(1)).await.unwrap().added, 1);
}

#[tokio::test]
async fn bad_data_in_a_row_is_corrupt_not_a_panic() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    store
        .sync_plan(&[planned("a", "news", "at", 0, "t")], at(0))
        .await
        .unwrap();
    let id = store.list(&QueueFilter::default()).await.unwrap()[0].id;
    for damage in [
        "UPDATE deliveries SET state = 'exploded'",
        "UPDATE deliveries SET state = 'held', hold_reason = 'bored'",
        "UPDATE deliveries SET variant = '{not json'",
        "UPDATE deliveries SET attempts = -3",
        "UPDATE deliveries SET due_at = 'tuesday'",
        "UPDATE deliveries SET due_at = 9223372036854775807",
    ] {
        let mut tx = store.pool.begin().await.unwrap();
        sqlx::query(AssertSqlSafe(damage))
            .execute(&mut *tx)
            .await
            .unwrap();
        let got = crate::store::sqlite::ops::fetch(&mut tx, id).await;
        assert!(
            matches!(got, Err(StoreError::Corrupt(_))),
            "{damage}: {got:?}"
        );
        tx.rollback().await.unwrap();
    }
    sqlx::query("UPDATE deliveries SET state = 'exploded'")
        .execute(&store.pool)
        .await
        .unwrap();
    assert!(matches!(store.get(id).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(
        store.list(&QueueFilter::default()).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(store.counts().await, Err(StoreError::Corrupt(_))));
    let cancel = crate::store::Change {
        from: vec![State::Planned],
        to: State::Cancelled,
        hold_reason: None,
        due_at: None,
        approve: false,
        actor: crate::delivery::Actor::cli(),
        reason: "not needed".into(),
    };
    assert!(matches!(
        store.change(id, &cancel, at(1)).await,
        Err(StoreError::Corrupt(_))
    ));
    sqlx::query("UPDATE transitions SET actor = 'ghost'")
        .execute(&store.pool)
        .await
        .unwrap();
    assert!(matches!(
        store.history(id).await,
        Err(StoreError::Corrupt(_))
    ));
}
