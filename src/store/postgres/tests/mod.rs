//! What only PostgreSQL has: its migrations and schema refusals. The
//! contract suite runs in `queue.rs` and `lists.rs`; `races.rs` has two
//! processes change the same list and people rows at once;
//! `coordination.rs` the leader row, the clock and the wake-ups;
//! `fencing.rs` two processes completing one delivery's attempts.

mod coordination;

/// Every behaviour of the contract suite, as SQLite runs it: a behaviour
/// added to the suite runs here without a second list to keep.
mod contract {
    crate::store::contract::contract_tests!(optional crate::store::postgres::testing::fresh);
}

use super::testing;
use super::PgStore;
use crate::store::StoreError;

mod fencing;
mod lists;
mod queue;
mod races;

#[tokio::test]
async fn reconnecting_keeps_the_schema_and_does_not_migrate_twice() {
    let Some((_store, schema)) = testing::fresh().await else {
        return;
    };
    let again = PgStore::connect_with(&schema.url, Some(&schema.name))
        .await
        .unwrap();
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_version")
        .fetch_all(&again.pool)
        .await
        .unwrap();
    assert_eq!(versions, (1..=super::schema::CURRENT).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_schema_with_someone_elses_tables_is_refused() {
    let Some((store, schema)) = testing::fresh().await else {
        return;
    };
    sqlx::query("DROP TABLE schema_version")
        .execute(&store.pool)
        .await
        .unwrap();
    let e = PgStore::connect_with(&schema.url, Some(&schema.name))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Corrupt(m) if m.contains("not crier's") && m.contains("deliveries")),
        "{e}"
    );
}

#[tokio::test]
async fn a_newer_schema_is_refused_naming_the_database_without_its_password() {
    let Some((store, schema)) = testing::fresh().await else {
        return;
    };
    sqlx::query("INSERT INTO schema_version (version) VALUES (999)")
        .execute(&store.pool)
        .await
        .unwrap();
    let mut url = url::Url::parse(&schema.url).unwrap();
    let _ = url.set_password(Some("s3cret-pw"));
    if url.username().is_empty() {
        let _ = url.set_username("root");
    }
    // Trust authentication ignores the password; the error must not show it.
    let e = PgStore::connect_with(url.as_str(), Some(&schema.name))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("newer than this crier"), "{e}");
    assert!(!e.contains("s3cret-pw"), "{e}");
}

#[tokio::test]
async fn an_unreachable_server_is_an_open_error_naming_it() {
    // A port nothing listens on: bound, then freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://crier:pw-not-shown@127.0.0.1:{port}/crier");
    let e = PgStore::connect(&url).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, StoreError::Open { .. }), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("pw-not-shown"), "{text}");
}
