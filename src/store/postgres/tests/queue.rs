//! The contract suite's queue behaviours on PostgreSQL (those that need
//! only `Store` and the doors it requires), and two stores leasing from
//! one schema side by side: two crier processes sharing one database.

use std::sync::Arc;

use crate::store::contract;
use crate::store::postgres::PgStore;
use crate::store::{Store, StoreError, Upkeep};

crate::store::contract::contract_tests!(@each optional crate::store::postgres::testing::fresh;
    sync_adds_updates_cancels,
    sync_never_touches_settled,
    sync_updates_retrying_and_held,
    sync_rejects_duplicate_keys,
    sync_of_unchanged_content_touches_nothing,
    render_records_read_back_through_their_delivery,
    sync_leaves_a_delivery_that_may_have_gone_out,
    next_wakeup_is_earliest,
    lease_earliest_first_with_limit,
    lease_retry_due_by_next_attempt_at,
    expired_leases_lists_lapsed,
    mark_request_started_needs_live_lease,
    renew_extends_only_a_live_lease,
    lease_due_by_takes_what_falls_due_soon,
    mark_requests_started_marks_the_live_leases_at_once,
    record_sent_keeps_receipt,
    record_sent_after_uncertain_hold,
    record_retry_and_failed,
    record_stopped_resumes_now_without_counting,
    hold_and_release,
    change_checks_state,
    pauses,
    counts_by_channel_and_state,
    history_in_order_with_actors,
    list_filters,
    summaries_are_the_listed_deliveries,
    channel_statuses,
    posted_parts_are_the_resume_point,
    record_sent_clears_last_error,
    sync_moves_overdue_held_into_the_future_back_to_planned,
    times_that_cannot_be_clock_readings_are_refused,
    audit_log_names_people_and_filters,
    content_changes_keep_the_entry_text,
    channel_activity_shows_the_latest_send_and_failure,
    tally_counts_each_span_by_state,
    tally_counts_as_awaiting_approval_only_what_the_filter_does,
    the_items_filter_applies_before_the_limit,
    clashes_are_two_items_in_one_minute_on_a_channel,
    forgetting_history_keeps_deliveries_and_what_may_still_be_sent,
);

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
