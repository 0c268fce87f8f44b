//! The calendar's statements keep their plans whatever the filter: the
//! day spans outside, each a due-range search, and the item filter a
//! check on the rows of that range, never a lookup per item (a month
//! filtered by kind was 3.4 s with one at 1M rows, by channel 1.3 s).

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};

use crate::store::contract::{at, planned};
use crate::store::rows::SUMMARY_COLUMNS;
use crate::store::sqlite::calendar::{clashes_sql, tally_sql};
use crate::store::sqlite::queries::{bind_filter, list_sql};
use crate::store::sqlite::SqliteStore;
use crate::store::QueueFilter;

fn filters(from: DateTime<Utc>, before: DateTime<Utc>) -> Vec<QueueFilter> {
    let items = Some((0..300).map(|i| format!("i{i}")).collect::<Vec<_>>());
    let channel = Some("news".to_string());
    let ranged = QueueFilter {
        due_from: Some(from),
        due_before: Some(before),
        ..QueueFilter::default()
    };
    vec![
        ranged.clone(),
        QueueFilter {
            channel: channel.clone(),
            ..ranged.clone()
        },
        QueueFilter {
            items: items.clone(),
            ..ranged.clone()
        },
        QueueFilter {
            channel,
            items,
            ..ranged
        },
    ]
}

async fn plan_of(store: &SqliteStore, sql: &str, f: &QueueFilter) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    bind_filter(sqlx::query(AssertSqlSafe(explain)), f)
        .bind("[]")
        .fetch_all(&store.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("detail"))
        .collect()
}

/// The step that reads deliveries searches a due range.
fn by_due_range(steps: &[String]) -> bool {
    let reads: Vec<&String> = steps
        .iter()
        .filter(|s| s.contains(" deliveries ") || s.contains(" d "))
        .collect();
    !reads.is_empty()
        && reads
            .iter()
            .all(|s| s.starts_with("SEARCH") && s.contains("due_at>? AND due_at<?"))
}

#[tokio::test]
async fn calendar_statements_search_each_day_by_due_time() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let plan: Vec<_> = (0..2000)
        .map(|i| {
            planned(
                &format!("i{i}"),
                if i % 2 == 0 { "news" } else { "social" },
                "at",
                i,
                "t",
            )
        })
        .collect();
    store.insert_many_for_bench(&plan).await.unwrap();
    for f in filters(at(0), at(600)) {
        let unbounded = QueueFilter {
            due_from: None,
            due_before: None,
            ..f.clone()
        };
        let tally = plan_of(&store, &tally_sql(&unbounded), &unbounded).await;
        assert!(
            tally[0].starts_with("SCAN s"),
            "the spans outside: {tally:#?}"
        );
        assert!(by_due_range(&tally), "{tally:#?}");
        let clashes = plan_of(&store, &clashes_sql(&f), &f).await;
        assert!(by_due_range(&clashes), "{clashes:#?}");
        let day = QueueFilter {
            limit: Some(7),
            ..f.clone()
        };
        let listing = plan_of(&store, &list_sql(&day, SUMMARY_COLUMNS), &day).await;
        assert!(by_due_range(&listing), "{listing:#?}");
    }
}
