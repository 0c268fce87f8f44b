//! The contract suite on an in-memory and an on-disk database, plus what
//! only SQLite has, one file each: damage (files, locks, bad rows),
//! migrations, group commit, and speed (query plans, a 1M-row bench).

use std::sync::Arc;

use tempfile::TempDir;

use super::SqliteStore;
use crate::store::contract;
use crate::store::Store;

mod backup;
mod calendar_plans;
mod damage;
mod group_commit;
mod migrations;
mod sent_plans;
mod speed;

async fn in_memory() -> (SqliteStore, ()) {
    (SqliteStore::open_in_memory().await.unwrap(), ())
}

async fn on_file() -> (SqliteStore, TempDir) {
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open(&dir.path().join("data/crier.db"))
        .await
        .unwrap();
    (store, dir)
}

mod memory {
    use super::in_memory;
    crate::store::contract::contract_tests!(in_memory);
}

mod file {
    use super::on_file;
    crate::store::contract::contract_tests!(on_file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leases_disjoint_across_two_stores_on_one_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    contract::lease_disjoint_concurrent(Arc::new(a), Arc::new(b)).await;
}

/// A restart: the later store opens the file the first left leases in.
#[tokio::test]
async fn a_later_process_recovers_lapsed_leases_on_one_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("crier.db");
    let first = SqliteStore::open(&path).await.unwrap();
    let later = SqliteStore::open(&path).await.unwrap();
    contract::a_later_process_recovers_lapsed_leases(&first, &later).await;
}

#[tokio::test]
async fn a_process_recovers_its_own_lapsed_leases_in_memory() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    contract::a_later_process_recovers_lapsed_leases(&store, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leases_disjoint_across_two_tasks_in_memory() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    contract::lease_disjoint_concurrent(store.clone(), store).await;
}
