//! The copy against a real PostgreSQL (`CRIER_TEST_POSTGRES`): every table
//! filled with rows of its own, copied, and checked on the other side.

use std::collections::BTreeSet;

use sqlx::{Row, Sqlite};

use super::tables::{Kind, TABLES};
use super::*;
use crate::store::postgres::testing;

/// Rows per table: ids 1..=ROWS, so every `*_id` column can point at an
/// existing row of the table it refers to.
const ROWS: i64 = 3;

/// One synthetic value per column: ids are the row number, texts are
/// unique and awkward (quotes, non-ASCII, a NUL-free long string), and the
/// last row has NULL wherever its column allows.
fn value(table: &str, column: &str, kind: Kind, row: i64, nullable: bool) -> Value {
    if row == ROWS && nullable {
        return match kind {
            Kind::Int => Value::Int(None),
            Kind::Text => Value::Text(None),
            Kind::Bytes => Value::Bytes(None),
            Kind::Flag => Value::Flag(false),
        };
    }
    match kind {
        Kind::Int => Value::Int(Some(if column == "id" || column.ends_with("_id") {
            row
        } else {
            1_796_637_600_000 + row * 61_000
        })),
        Kind::Flag => Value::Flag(row % 2 == 1),
        // Every byte value, not text: a NUL and invalid UTF-8 included.
        Kind::Bytes => Value::Bytes(Some(
            (0..=255u8).cycle().skip(row as usize).take(300).collect(),
        )),
        Kind::Text => Value::Text(Some(match column {
            "variant" => format!(
                "{{\"body\":\"{}\"}}",
                "Knife crime — ‘no more’ ".repeat(200)
            ),
            _ => format!("{table}.{column} #{row} O'Brien “Wrexham” ✓"),
        })),
    }
}

async fn sqlite_nullable(store: &SqliteStore, table: &str) -> BTreeSet<String> {
    let sql =
        format!("SELECT name FROM pragma_table_info('{table}') WHERE \"notnull\" = 0 AND pk = 0");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn fill(store: &SqliteStore) {
    for table in TABLES {
        let nullable = sqlite_nullable(store, table.name).await;
        for row in 1..=ROWS {
            let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
                "INSERT INTO {} ({}) VALUES (",
                table.name,
                columns.join(", ")
            ));
            let mut sep = q.separated(", ");
            for (c, kind) in table.columns {
                match value(table.name, c, *kind, row, nullable.contains(*c)) {
                    Value::Int(n) => sep.push_bind(n),
                    Value::Text(t) => sep.push_bind(t),
                    Value::Bytes(x) => sep.push_bind(x),
                    Value::Flag(f) => sep.push_bind(f),
                };
            }
            q.push(")");
            q.build().execute(store.pool()).await.unwrap();
        }
    }
}

async fn stores() -> Option<(SqliteStore, PgStore, testing::Schema)> {
    let (pg, schema) = testing::fresh().await?;
    Some((SqliteStore::open_in_memory().await.unwrap(), pg, schema))
}

#[tokio::test]
async fn every_table_arrives_whole_and_identities_continue_after_it() {
    let Some((sqlite, pg, _schema)) = stores().await else {
        return;
    };
    fill(&sqlite).await;
    let copied = copy(&sqlite, &pg).await.unwrap();
    assert_eq!(copied.len(), TABLES.len());
    for c in &copied {
        assert_eq!(c.rows, ROWS as u64, "{}", c.table);
    }
    // Read back independently of the copy's own check.
    let variant: String = sqlx::query_scalar("SELECT variant FROM deliveries WHERE id = 2")
        .fetch_one(pg.pool())
        .await
        .unwrap();
    assert!(variant.contains("Knife crime — ‘no more’"));
    let approved: Vec<bool> = sqlx::query_scalar("SELECT approved FROM deliveries ORDER BY id")
        .fetch_all(pg.pool())
        .await
        .unwrap();
    assert_eq!(approved, vec![true, false, true]);
    // A row added after the copy takes the next id, not a copied one.
    let id: i64 = sqlx::query(
        "INSERT INTO accounts (email, role, created_at, updated_at)
         VALUES ('new@example.org', 'viewer', 0, 0) RETURNING id",
    )
    .fetch_one(pg.pool())
    .await
    .unwrap()
    .get(0);
    assert_eq!(id, ROWS + 1);
}

#[tokio::test]
async fn a_database_that_holds_a_queue_is_refused_and_left_as_it_was() {
    let Some((sqlite, pg, _schema)) = stores().await else {
        return;
    };
    fill(&sqlite).await;
    copy(&sqlite, &pg).await.unwrap();
    let e = copy(&sqlite, &pg).await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Exists(m) if m.contains("deliveries") && m.contains("empty")),
        "{e}"
    );
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transitions")
        .fetch_one(pg.pool())
        .await
        .unwrap();
    assert_eq!(n, ROWS);
}

#[tokio::test]
async fn the_copy_knows_every_column_of_both_schemas() {
    let Some((sqlite, pg, _schema)) = stores().await else {
        return;
    };
    let known: BTreeSet<(String, String)> = TABLES
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .map(|(c, _)| (t.name.to_string(), c.to_string()))
        })
        .collect();
    let in_sqlite: BTreeSet<(String, String)> = sqlx::query(
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'schema_version'",
    )
    .fetch_all(sqlite.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let in_pg: BTreeSet<(String, String)> = sqlx::query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema()
           AND table_name NOT IN ('schema_version', 'leader')",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    assert_eq!(
        in_sqlite, known,
        "a SQLite column store::copy does not move"
    );
    assert_eq!(
        in_pg, known,
        "a PostgreSQL column store::copy does not fill"
    );
}

#[test]
fn the_checksum_tells_apart_what_a_plain_join_would_not() {
    let digest = |vs: &[Value]| {
        let mut h = Sha256::new();
        vs.iter().for_each(|v| v.hash(&mut h));
        hex::encode(h.finalize())
    };
    let t = |s: &str| Value::Text(Some(s.into()));
    assert_ne!(digest(&[t("ab"), t("c")]), digest(&[t("a"), t("bc")]));
    assert_ne!(digest(&[t("")]), digest(&[Value::Text(None)]));
    assert_ne!(digest(&[Value::Int(Some(1))]), digest(&[Value::Flag(true)]));
    assert_ne!(
        digest(&[Value::Int(Some(12))]),
        digest(&[Value::Int(Some(1)), Value::Int(Some(2))])
    );
}
