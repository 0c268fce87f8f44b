//! People in the store: accounts, their sessions, API tokens, one-time
//! links and sign-in attempt counts.
//!
//! Its own door beside the queue's [`Store`](super::Store), reached from
//! [`Opened::people`](super::Opened). Secrets are never stored: a session
//! id, an API token and a one-time link are kept as their SHA-256
//! ([`digest`]), so a copy of the database opens no door. Passwords are
//! argon2id hashes made by the caller (`src/auth`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::StoreError;
use crate::access::{Role, TokenKind};

/// The form an address is kept and looked up in: trimmed, lower case.
pub fn fold_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The SHA-256, in hex, a secret is stored and looked up as.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    /// Folded ([`fold_email`]).
    pub email: String,
    pub role: Role,
    /// An argon2id PHC string; `None` for an account that signs in only
    /// with the organisation's OpenID provider (or has not set one yet).
    pub password_hash: Option<String>,
    /// Base32 TOTP secret once enrolled.
    pub totp_secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disabled: bool,
}

// By hand: the hash and TOTP secret stay out of debug output.
impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("has_password", &self.password_hash.is_some())
            .field("totp", &self.totp_secret.is_some())
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// A session being opened; `id_hash` is the [`digest`] of the cookie's id.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: String,
    pub account_id: i64,
    pub idle_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    /// The provider's ID token, for its end-session endpoint at sign-out.
    pub id_token_hint: Option<String>,
}

/// A live session and whose it is.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: Account,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub idle_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub id_token_hint: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub kind: TokenKind,
    /// The [`digest`] of the token.
    pub hash: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    pub name: String,
    pub role: Role,
    pub kind: TokenKind,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a one-time link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Creates the first admin (no account exists yet).
    Setup,
    /// Sets an account's password (a new account, or a reset).
    Password,
    /// An OpenID sign-in in progress: its `state`, with the nonce and
    /// PKCE verifier as the payload.
    OidcState,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Setup => "setup",
            LinkPurpose::Password => "password",
            LinkPurpose::OidcState => "oidc_state",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewLink {
    pub hash: String,
    pub purpose: LinkPurpose,
    /// The account a password link is for.
    pub email: Option<String>,
    pub payload: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// A link as found (still unused and unexpired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub email: Option<String>,
    pub payload: Option<String>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait People: Send + Sync {
    /// Adds an account (email folded); [`StoreError::Exists`] if the
    /// address has one.
    async fn add_account(
        &self,
        email: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<Account, StoreError>;

    async fn account(&self, email: &str) -> Result<Option<Account>, StoreError>;

    /// Every account, by email.
    async fn accounts(&self) -> Result<Vec<Account>, StoreError>;

    async fn account_count(&self) -> Result<u64, StoreError>;

    /// The account for a provider's sign-in: created with `role` if new,
    /// else given `role` (the provider is the authority on roles).
    async fn upsert_account(
        &self,
        email: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<Account, StoreError>;

    async fn set_password(
        &self,
        account_id: i64,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn set_totp(
        &self,
        account_id: i64,
        secret: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Removes an account with its sessions and links; false if none.
    async fn remove_account(&self, email: &str) -> Result<bool, StoreError>;

    async fn create_session(
        &self,
        session: &NewSession,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The session whose id hashes to `id_hash`, if it has not run out
    /// (idle or absolute) at `now` and its account is enabled.
    async fn session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError>;

    /// Records use at `now`, moving the idle expiry to `idle_expires_at`
    /// (never past the absolute one).
    async fn touch_session(
        &self,
        id_hash: &str,
        idle_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Ends a session (sign-out); false if there was none.
    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError>;

    /// Ends every session of an account (its password changed); how many.
    async fn delete_sessions_of(&self, account_id: i64) -> Result<u64, StoreError>;

    /// [`StoreError::Exists`] if the name is taken (revoked ones included:
    /// the audit names tokens, so a name means one token for ever).
    async fn create_token(&self, token: &NewToken, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// The token with this hash, if not revoked and not expired at `now`.
    async fn token(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<ApiToken>, StoreError>;

    /// Records a use; written at most once a minute per token, so a busy
    /// client does not make every request a write.
    async fn touch_token(&self, hash: &str, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Every token, revoked ones included, by name.
    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// False if there is no such token or it was already revoked.
    async fn revoke_token(&self, name: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;

    async fn create_link(&self, link: &NewLink, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// The link, if unused and unexpired, without using it (a form's GET).
    async fn peek_link(
        &self,
        hash: &str,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<Link>, StoreError>;

    /// Uses the link: of two concurrent calls, at most one gets it.
    async fn consume_link(
        &self,
        hash: &str,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<Link>, StoreError>;

    /// Counts a failed sign-in against `key` (an account, a client address)
    /// and returns how many it has had since `since`, this one included.
    async fn record_attempt(
        &self,
        key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u32, StoreError>;

    async fn attempts(&self, key: &str, since: DateTime<Utc>) -> Result<u32, StoreError>;

    /// Forgets `key`'s failures (a successful sign-in).
    async fn clear_attempts(&self, key: &str) -> Result<(), StoreError>;
}
