//! The queue on PostgreSQL beyond the contract suite (`tests/mod.rs` runs
//! that): two stores leasing from one schema side by side, as two crier
//! processes sharing one database, and what only PostgreSQL does.

use std::sync::Arc;

use crate::store::contract;
use crate::store::postgres::PgStore;
use crate::store::{Store, StoreError, Upkeep};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leases_disjoint_across_two_stores_on_one_schema() {
    let Some((a, schema)) = crate::store::postgres::testing::fresh().await else {
        return;
    };
    let b = PgStore::connect_with(&schema.url, Some(&schema.name))
        .await
        .unwrap();
    contract::lease_disjoint_concurrent(Arc::new(a), Arc::new(b)).await;
}

/// A refused change locks its row to check it, then must roll back before
/// it returns: sqlx rolls a dropped transaction back only in a task it
/// spawns when the connection goes back to the pool, and until that runs
/// the row stays locked, so another process's lease passes over it (seen
/// as a lease taking one of two due deliveries). The other process here
/// leases from a runtime of its own while this one's thread is blocked, so
/// no such task can run first.
#[tokio::test]
async fn a_refused_change_leaves_no_row_locked() {
    let Some((a, schema)) = crate::store::postgres::testing::fresh().await else {
        return;
    };
    let plan = [contract::planned("d", "news", "at", 0, "t")];
    a.sync_plan(&plan, contract::at(0)).await.unwrap();
    let id = a.list(&Default::default()).await.unwrap()[0].id;
    let refused = a.record_failed(id, "not leased", contract::at(1)).await;
    assert!(
        matches!(refused, Err(StoreError::WrongState { .. })),
        "{refused:?}"
    );
    let (url, name) = (schema.url.clone(), schema.name.clone());
    let other_process = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let b = PgStore::connect_with(&url, Some(&name)).await.unwrap();
            let leased = b.lease_due(contract::at(1), 1, contract::LEASE).await;
            b.close().await;
            leased.unwrap().iter().map(|d| d.id).collect::<Vec<_>>()
        })
    });
    assert_eq!(other_process.join().unwrap(), [id]);
}

/// Each process records itself on the leases it takes, so a later step
/// can fence completions by owner.
#[tokio::test]
async fn each_lease_names_the_process_that_took_it() {
    let Some((a, schema)) = crate::store::postgres::testing::fresh().await else {
        return;
    };
    let b = PgStore::connect_with(&schema.url, Some(&schema.name))
        .await
        .unwrap();
    let plan = [
        contract::planned("first", "news", "at", 0, "t"),
        contract::planned("second", "news", "at", 1, "t"),
    ];
    a.sync_plan(&plan, contract::at(0)).await.unwrap();
    let by_a = a
        .lease_due(contract::at(5), 1, contract::LEASE)
        .await
        .unwrap();
    let by_b = b
        .lease_due(contract::at(5), 1, contract::LEASE)
        .await
        .unwrap();
    let owner = |id: i64| {
        sqlx::query_scalar::<_, Option<String>>("SELECT leased_from FROM deliveries WHERE id = $1")
            .bind(id)
            .fetch_one(&a.pool)
    };
    let (of_a, of_b) = (
        owner(by_a[0].id).await.unwrap(),
        owner(by_b[0].id).await.unwrap(),
    );
    assert_eq!(of_a.as_deref(), Some(a.owner.as_str()));
    assert_eq!(of_b.as_deref(), Some(b.owner.as_str()));
    assert_ne!(a.owner, b.owner);
}

/// A PostgreSQL store is backed up with the server's tools: `crier backup`
/// says so and writes nothing.
#[tokio::test]
async fn backup_refuses_and_names_pg_dump() {
    let Some((store, _schema)) = crate::store::postgres::testing::fresh().await else {
        return;
    };
    let dir = tempfile::TempDir::new().unwrap();
    let to = dir.path().join("copy.db");
    let e = store.backup(&to).await.unwrap_err().to_string();
    assert!(e.contains("pg_dump"), "{e}");
    assert!(!to.exists());
}

/// Another process changes deliveries while a sync is working out its
/// difference: the sync's chunks wait for that process's locks, then
/// recheck what they found, and leave a delivery that is no longer pending
/// as it now is (neither cancelled nor edited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_leaves_what_another_process_leased_meanwhile() {
    let Some((store, _schema)) = crate::store::postgres::testing::fresh().await else {
        return;
    };
    let plan = [
        contract::planned("kept", "news", "at", 0, "t"),
        contract::planned("dropped", "news", "at", 0, "t"),
    ];
    store.sync_plan(&plan, contract::at(0)).await.unwrap();
    // The other process takes both, and has not committed yet.
    let mut other = store.pool.begin().await.unwrap();
    let other_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *other)
        .await
        .unwrap();
    sqlx::query("UPDATE deliveries SET state = 'in_flight', lease_expires_at = $1")
        .bind(contract::at(60).timestamp_millis())
        .execute(&mut *other)
        .await
        .unwrap();
    let edited = [contract::planned("kept", "news", "at", 0, "edited")];
    let sync = {
        let store = store.clone();
        tokio::spawn(async move { store.sync_plan(&edited, contract::at(1)).await })
    };
    // Wait until the sync waits on the other process's row locks.
    let blocked = async {
        loop {
            let waiting: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                                WHERE $1 = ANY(pg_blocking_pids(pid)))",
            )
            .bind(other_pid)
            .fetch_one(&store.pool)
            .await
            .unwrap();
            if waiting {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), blocked)
        .await
        .expect("the sync never waited on the other process's locks");
    other.commit().await.unwrap();
    let summary = sync.await.unwrap().unwrap();
    assert_eq!((summary.updated, summary.cancelled), (0, 0), "{summary:?}");
    for d in store.list(&Default::default()).await.unwrap() {
        assert_eq!(d.state, crate::delivery::State::InFlight, "{d:?}");
        assert_eq!(d.fingerprint, "t@0", "{d:?}");
    }
}
