//! [`Reviews`] for SQLite: review links and their views (migration 10).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use super::{corrupt, db_error, stamp, SqliteStore};
use crate::delivery::Actor;
use crate::store::reviews::{NewReviewLink, ReviewLink, Reviews, CLIENT_CHARS};
use crate::store::rows::{review_link, select_links};
use crate::store::StoreError;

async fn by_id(conn: &mut SqliteConnection, id: i64) -> Result<Option<ReviewLink>, StoreError> {
    sqlx::query(concat!(select_links!(), "WHERE l.id = $1 GROUP BY l.id"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(|r| review_link(&r))
        .transpose()
}

#[async_trait]
impl Reviews for SqliteStore {
    async fn create_review_link(
        &self,
        link: &NewReviewLink,
        now: DateTime<Utc>,
    ) -> Result<ReviewLink, StoreError> {
        let mut tx = self.write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO review_links (item, token_hash, label, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&link.item)
        .bind(&link.token_hash)
        .bind(&link.label)
        .bind(link.created_by.to_stored())
        .bind(stamp(now)?)
        .bind(stamp(link.expires_at)?)
        .fetch_one(&mut *tx)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| match e.as_database_error() {
            Some(d) if d.is_unique_violation() => {
                StoreError::Exists("that review link secret is already in use".into())
            }
            _ => db_error(e),
        })?;
        let made = by_id(&mut tx, id).await?;
        tx.commit().await.map_err(db_error)?;
        made.ok_or_else(|| corrupt(format!("review link {id} vanished as it was made")))
    }

    async fn review_links(&self, item: &str) -> Result<Vec<ReviewLink>, StoreError> {
        sqlx::query(concat!(
            select_links!(),
            "WHERE l.item = $1 GROUP BY l.id ORDER BY l.id DESC"
        ))
        .bind(item)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(review_link)
        .collect()
    }

    async fn review_link(&self, id: i64) -> Result<Option<ReviewLink>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        by_id(&mut conn, id).await
    }

    async fn revoke_review_link(
        &self,
        id: i64,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<ReviewLink>, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE review_links SET revoked_at = $2, revoked_by = $3
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(stamp(now)?)
        .bind(by.to_stored())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let link = by_id(&mut tx, id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(link)
    }

    async fn view_review_link(
        &self,
        token_hash: &str,
        client: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ReviewLink>, StoreError> {
        let at = stamp(now)?;
        let mut tx = self.write().await?;
        let live: Option<i64> = sqlx::query(
            "SELECT id FROM review_links
             WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(db_error)?;
        let Some(id) = live else {
            return Ok(None);
        };
        let client: String = client.chars().take(CLIENT_CHARS).collect();
        sqlx::query("INSERT INTO review_views (link_id, at, client) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(at)
            .bind(client)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let link = by_id(&mut tx, id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(link)
    }
}
