//! `crier backup`: a copy as of one moment while writes go on, that opens
//! as a store; never over an existing file.

use tempfile::TempDir;

use crate::delivery::Planned;
use crate::store::contract::planned;
use crate::store::sqlite::SqliteStore;
use crate::store::{QueueFilter, Store, StoreError, Upkeep};

fn rows(from: usize, to: usize) -> Vec<Planned> {
    (from..to)
        .map(|i| planned(&format!("i{i}"), "news", "at", 60, "t"))
        .collect()
}

#[tokio::test]
async fn a_backup_is_one_moment_of_a_store_being_written() {
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open(&dir.path().join("crier.db"))
        .await
        .unwrap();
    store.insert_many_for_bench(&rows(0, 2000)).await.unwrap();
    // Batches of 100 go on being written while the copy is made.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for b in 1..=40 {
                store
                    .insert_many_for_bench(&rows(b * 2000, b * 2000 + 100))
                    .await
                    .unwrap();
            }
        })
    };
    let to = dir.path().join("copy.db");
    let bytes = store.backup(&to).await.unwrap();
    writer.await.unwrap();
    assert!(bytes > 0 && !dir.path().join("copy.db.partial").exists());
    let copy = SqliteStore::open(&to).await.unwrap();
    let n = copy.list(&QueueFilter::default()).await.unwrap().len();
    // Whole batches only: a moment between two commits.
    assert!((2000..=6000).contains(&n) && n % 100 == 0, "{n} rows");
    assert!(copy.get(1).await.unwrap().is_some());
    assert_eq!(copy.counts().await.unwrap()[0].2 as usize, n);
    // Never over a file that is there.
    let again = store.backup(&to).await;
    assert!(
        matches!(&again, Err(StoreError::Open { reason, .. }) if reason.contains("exists")),
        "{again:?}"
    );
    assert_eq!(
        SqliteStore::open(&to)
            .await
            .unwrap()
            .list(&QueueFilter::default())
            .await
            .unwrap()
            .len(),
        n
    );
}
