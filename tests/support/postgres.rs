//! A schema of its own on the PostgreSQL server `CRIER_TEST_POSTGRES`
//! names (scripts/test.sh sets it), for tests that run crier on
//! PostgreSQL; dropped when the test ends. Without the variable the
//! caller says the test is skipped.

pub struct Schema {
    server: String,
    pub name: String,
}

impl Schema {
    /// A new, empty schema, or `None` with no server to test against.
    pub fn new() -> Option<Schema> {
        let server = match std::env::var("CRIER_TEST_POSTGRES") {
            Ok(s) if !s.is_empty() => s,
            _ => {
                eprintln!("skipped: CRIER_TEST_POSTGRES is not set (scripts/test.sh sets it)");
                return None;
            }
        };
        let name = format!("crier_it_{:016x}", rand::random::<u64>());
        run(&server, format!("CREATE SCHEMA \"{name}\""));
        Some(Schema { server, name })
    }

    /// The URL crier is given: the server, with this schema first on the
    /// search path.
    pub fn url(&self) -> String {
        let sep = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.server, self.name
        )
    }

    /// The value of one SQL query's first column, as text, in this schema.
    pub fn query(&self, sql: &str) -> Vec<String> {
        let url = self.url();
        let sql = sql.to_string();
        on_own_runtime(async move {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .unwrap();
            pool.close().await;
            rows
        })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        run(
            &self.server,
            format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name),
        );
    }
}

fn run(server: &str, sql: String) {
    let server = server.to_string();
    on_own_runtime(async move {
        let pool = sqlx::PgPool::connect(&server).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    })
}

/// Runs `f` on a runtime of its own in a thread of its own: callable from
/// plain tests and from inside a test's runtime alike.
fn on_own_runtime<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
    .join()
    .unwrap()
}
