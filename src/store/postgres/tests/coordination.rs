//! Several processes on one database: one leader at a time, the clock, and
//! wake-ups when another process makes something due.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::testing;
use super::PgStore;
use crate::store::Coordination;

async fn second(schema: &testing::Schema) -> PgStore {
    PgStore::connect_with(&schema.url, Some(&schema.name))
        .await
        .unwrap()
}

#[tokio::test]
async fn one_leader_at_a_time_until_it_resigns_or_lapses() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = second(&schema).await;
    let minute = Duration::from_secs(60);
    assert!(a.lead("a", minute).await.unwrap());
    assert!(!b.lead("b", minute).await.unwrap());
    assert!(a.lead("a", minute).await.unwrap(), "the holder renews");
    a.resign("a").await.unwrap();
    assert!(
        b.lead("b", minute).await.unwrap(),
        "taken at once after a resignation"
    );
    assert!(!a.lead("a", minute).await.unwrap());
    // b stops renewing: with no time left, the next claim after its expiry wins.
    assert!(b.lead("b", Duration::ZERO).await.unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !a.lead("a", minute).await.unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "a lapsed leader was never replaced"
        );
    }
    assert!(!b.lead("b", minute).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_at_the_same_moment_make_one_leader() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = Arc::new(second(&schema).await);
    let a = Arc::new(a);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move { store.lead(&format!("p{i}"), Duration::from_secs(60)).await });
    }
    let mut won = 0;
    while let Some(r) = tasks.join_next().await {
        won += usize::from(r.unwrap().unwrap());
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn the_database_clock_is_this_machines_within_a_second() {
    let Some((a, _schema)) = testing::fresh().await else {
        return;
    };
    let skew = a.clock_skew().await.unwrap();
    assert!(skew.num_milliseconds().abs() < 1000, "{skew}");
}

#[tokio::test]
async fn a_delivery_made_due_by_another_process_wakes_the_listener() {
    let Some((a, schema)) = testing::fresh().await else {
        return;
    };
    let b = second(&schema).await;
    let wake = Arc::new(Notify::new());
    a.watch_changes(wake.clone());
    // The listener connects in the background: keep making changes until
    // one is heard (each is a new planned row, as another process's sync).
    let heard = async {
        for i in 0.. {
            sqlx::query(
                "INSERT INTO deliveries (item, channel, occasion, state, due_at, variant,
                     fingerprint, created_at, updated_at)
                 VALUES ($1, 'log', '', 'planned', 0, '{}', 'f', 0, 0)",
            )
            .bind(format!("item-{i}"))
            .execute(&b.pool)
            .await
            .unwrap();
            if tokio::time::timeout(Duration::from_millis(200), wake.notified())
                .await
                .is_ok()
            {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), heard)
        .await
        .expect("no notification reached the listener");
}
