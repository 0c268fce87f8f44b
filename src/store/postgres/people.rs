//! [`People`] for PostgreSQL: accounts, sessions, API tokens, one-time links
//! and sign-in attempts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{db_error, settle, stamp, PgStore};
use crate::access::Role;
use crate::store::people::{
    fold_email, Account, ApiToken, Link, LinkPurpose, NewLink, NewSession, NewToken, People,
    Session,
};
use crate::store::rows::{self, at, ACCOUNT_COLUMNS};
use crate::store::StoreError;

/// A unique constraint failing is [`StoreError::Exists`], worded by `what`.
fn unique(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match e.as_database_error() {
        Some(d) if d.is_unique_violation() => StoreError::Exists(what()),
        _ => db_error(e),
    }
}

#[async_trait]
impl People for PgStore {
    async fn add_account(
        &self,
        email: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<Account, StoreError> {
        let email = fold_email(email);
        let now_ms = stamp(now)?;
        sqlx::query(
            "INSERT INTO accounts (email, role, created_at, updated_at) VALUES ($1, $2, $3, $3)",
        )
        .bind(&email)
        .bind(role.as_str())
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| unique(e, || format!("there is already an account for {email}")))?;
        self.account(&email)
            .await?
            .ok_or_else(|| StoreError::Other("the new account vanished".into()))
    }

    async fn account(&self, email: &str) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.email = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(fold_email(email))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|r| rows::account(&r))
            .transpose()
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a ORDER BY a.email");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(rows::account)
            .collect()
    }

    async fn account_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM accounts")
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db_error)?;
        Ok(n as u64)
    }

    async fn upsert_account(
        &self,
        email: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<Account, StoreError> {
        let email = fold_email(email);
        sqlx::query(
            "INSERT INTO accounts (email, role, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (email) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at
             WHERE accounts.role <> excluded.role",
        )
        .bind(&email)
        .bind(role.as_str())
        .bind(stamp(now)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        self.account(&email)
            .await?
            .ok_or_else(|| StoreError::Other("the account vanished".into()))
    }

    async fn set_password(
        &self,
        account_id: i64,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(stamp(now)?)
            .bind(account_id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn set_totp(
        &self,
        account_id: i64,
        secret: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET totp_secret = $1, updated_at = $2 WHERE id = $3")
            .bind(secret)
            .bind(stamp(now)?)
            .bind(account_id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn remove_account(&self, email: &str) -> Result<bool, StoreError> {
        let email = fold_email(email);
        let mut tx = self.write().await?;
        let done: Result<_, StoreError> = async {
            sqlx::query("DELETE FROM links WHERE email = $1")
                .bind(&email)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            // Sessions go with the account (ON DELETE CASCADE).
            let removed = sqlx::query("DELETE FROM accounts WHERE email = $1")
                .bind(&email)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
            Ok(removed > 0)
        }
        .await;
        settle(tx, done).await
    }

    async fn create_session(
        &self,
        session: &NewSession,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, account_id, created_at, last_seen_at,
                 idle_expires_at, absolute_expires_at, id_token_hint)
             VALUES ($1, $2, $3, $3, $4, $5, $6)",
        )
        .bind(&session.id_hash)
        .bind(session.account_id)
        .bind(stamp(now)?)
        .bind(stamp(session.idle_expires_at)?)
        .bind(stamp(session.absolute_expires_at)?)
        .bind(&session.id_token_hint)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS}, s.created_at AS s_created, s.last_seen_at,
                    s.idle_expires_at, s.absolute_expires_at, s.id_token_hint
             FROM sessions s JOIN accounts a ON a.id = s.account_id
             WHERE s.id_hash = $1 AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2
               AND NOT a.disabled"
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_hash)
            .bind(now.timestamp_millis())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let t = |c: &str| -> Result<DateTime<Utc>, StoreError> {
            at(row.try_get(c).map_err(db_error)?, "session")
        };
        Ok(Some(Session {
            account: rows::account(&row)?,
            created_at: t("s_created")?,
            last_seen_at: t("last_seen_at")?,
            idle_expires_at: t("idle_expires_at")?,
            absolute_expires_at: t("absolute_expires_at")?,
            id_token_hint: row.try_get("id_token_hint").map_err(db_error)?,
        }))
    }

    async fn touch_session(
        &self,
        id_hash: &str,
        idle_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $1, idle_expires_at = LEAST($2, absolute_expires_at)
             WHERE id_hash = $3",
        )
        .bind(stamp(now)?)
        .bind(stamp(idle_expires_at)?)
        .bind(id_hash)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        Ok(n > 0)
    }

    async fn delete_sessions_of(&self, account_id: i64) -> Result<u64, StoreError> {
        let n = sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(account_id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        Ok(n)
    }

    async fn create_token(&self, token: &NewToken, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (name, role, kind, hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&token.name)
        .bind(token.role.as_str())
        .bind(token.kind.as_str())
        .bind(&token.hash)
        .bind(stamp(now)?)
        .bind(token.expires_at.map(stamp).transpose()?)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            unique(e, || {
                format!("there is already a token named {}", token.name)
            })
        })?;
        Ok(())
    }

    async fn token(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<ApiToken>, StoreError> {
        sqlx::query(
            "SELECT * FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(hash)
        .bind(now.timestamp_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| rows::api_token(&r))
        .transpose()
    }

    async fn touch_token(&self, hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let now = stamp(now)?;
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1
             WHERE hash = $2 AND (last_used_at IS NULL OR last_used_at <= $1 - 60000)",
        )
        .bind(now)
        .bind(hash)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        sqlx::query("SELECT * FROM api_tokens ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(rows::api_token)
            .collect()
    }

    async fn revoke_token(&self, name: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
        )
        .bind(stamp(now)?)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(n > 0)
    }

    async fn create_link(&self, link: &NewLink, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO links (hash, purpose, email, payload, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&link.hash)
        .bind(link.purpose.as_str())
        .bind(link.email.as_deref().map(fold_email))
        .bind(&link.payload)
        .bind(stamp(now)?)
        .bind(stamp(link.expires_at)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn peek_link(
        &self,
        hash: &str,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<Link>, StoreError> {
        sqlx::query(
            "SELECT email, payload, expires_at FROM links
             WHERE hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(hash)
        .bind(purpose.as_str())
        .bind(now.timestamp_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| rows::link(&r))
        .transpose()
    }

    async fn consume_link(
        &self,
        hash: &str,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<Link>, StoreError> {
        // One statement: of two concurrent uses, the second waits for the
        // first's row lock, then no longer matches `used_at IS NULL`.
        sqlx::query(
            "UPDATE links SET used_at = $3
             WHERE hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
             RETURNING email, payload, expires_at",
        )
        .bind(hash)
        .bind(purpose.as_str())
        .bind(stamp(now)?)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| rows::link(&r))
        .transpose()
    }

    async fn record_attempt(
        &self,
        key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let mut tx = self.write().await?;
        let done: Result<_, StoreError> = async {
            // Attempts on one key count one at a time, across processes: two at
            // once would each miss the other's uncommitted row and count low.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('crier signin ' || $1))")
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            // Old failures are forgotten as new ones come, so the table stays small.
            sqlx::query("DELETE FROM signin_attempts WHERE key = $1 AND at <= $2")
                .bind(key)
                .bind(since.timestamp_millis())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            sqlx::query("INSERT INTO signin_attempts (key, at) VALUES ($1, $2)")
                .bind(key)
                .bind(stamp(now)?)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            let n: i64 =
                sqlx::query("SELECT COUNT(*) FROM signin_attempts WHERE key = $1 AND at > $2")
                    .bind(key)
                    .bind(since.timestamp_millis())
                    .fetch_one(&mut *tx)
                    .await
                    .and_then(|r| r.try_get(0))
                    .map_err(db_error)?;
            Ok(n as u32)
        }
        .await;
        settle(tx, done).await
    }

    async fn attempts(&self, key: &str, since: DateTime<Utc>) -> Result<u32, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM signin_attempts WHERE key = $1 AND at > $2")
            .bind(key)
            .bind(since.timestamp_millis())
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db_error)?;
        Ok(n as u32)
    }

    async fn clear_attempts(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM signin_attempts WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
