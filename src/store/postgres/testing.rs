//! A fresh PostgreSQL store per test, each in a schema of its own on the
//! server `CRIER_TEST_POSTGRES` names (scripts/test.sh sets it to the
//! machine's server); without it the PostgreSQL tests say skipped.

use super::PgStore;

/// Drops its test's schema when the test ends.
pub(crate) struct Schema {
    pub url: String,
    pub name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    // A test that failed may leave a transaction open on
                    // its schema: wait a while, never forever.
                    let _ = sqlx::query("SET lock_timeout = '10s'")
                        .execute(&mut conn)
                        .await;
                    let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// The server to test against, or `None` (the caller says skipped).
pub(crate) fn server() -> Option<String> {
    match std::env::var("CRIER_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: CRIER_TEST_POSTGRES is not set (scripts/test.sh sets it)");
            None
        }
    }
}

/// A store in a new, empty schema, or `None` when there is no server.
pub(crate) async fn fresh() -> Option<(PgStore, Schema)> {
    let url = server()?;
    let name = format!("crier_test_{:016x}", rand::random::<u64>());
    let store = PgStore::connect_with(&url, Some(&name))
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    Some((store, Schema { url, name }))
}
