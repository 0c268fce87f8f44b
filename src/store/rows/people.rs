//! People's rows (`People`): accounts, API tokens and one-time links.

use chrono::{DateTime, Utc};

use super::{corrupt, Columns};
use crate::access::{Role, TokenKind};
use crate::store::people::{Account, ApiToken, Link};
use crate::store::StoreError;

/// What [`account`] reads, of the accounts table as `a`.
pub(crate) const ACCOUNT_COLUMNS: &str =
    "a.id, a.email, a.role, a.password_hash, a.totp_secret, a.created_at, a.updated_at, a.disabled";

/// A stored time of `what` (an account, a token, a session, a link).
pub(crate) fn at(ms: i64, what: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt(format!("{what}: time {ms}")))
}

fn opt_at(ms: Option<i64>, what: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(|ms| at(ms, what)).transpose()
}

fn role(text: &str, what: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| corrupt(format!("{what} has unknown role {text:?}")))
}

/// A row selected with [`ACCOUNT_COLUMNS`].
pub(crate) fn account(row: &impl Columns) -> Result<Account, StoreError> {
    let email = row.text("email")?;
    let what = format!("account {email}");
    Ok(Account {
        id: row.int("id")?,
        role: role(&row.text("role")?, &what)?,
        password_hash: row.opt_text("password_hash")?,
        totp_secret: row.opt_text("totp_secret")?,
        created_at: at(row.int("created_at")?, &what)?,
        updated_at: at(row.int("updated_at")?, &what)?,
        disabled: row.flag("disabled")?,
        email,
    })
}

/// A row of `api_tokens` (name, role, kind and its times).
pub(crate) fn api_token(row: &impl Columns) -> Result<ApiToken, StoreError> {
    let name = row.text("name")?;
    let what = format!("token {name}");
    let kind = row.text("kind")?;
    let opt = |c: &str| opt_at(row.opt_int(c)?, &what);
    Ok(ApiToken {
        role: role(&row.text("role")?, &what)?,
        kind: TokenKind::parse(&kind)
            .ok_or_else(|| corrupt(format!("{what} has unknown kind {kind:?}")))?,
        created_at: at(row.int("created_at")?, &what)?,
        expires_at: opt("expires_at")?,
        last_used_at: opt("last_used_at")?,
        revoked_at: opt("revoked_at")?,
        name,
    })
}

/// A one-time link's row (email, payload, expires_at).
pub(crate) fn link(row: &impl Columns) -> Result<Link, StoreError> {
    Ok(Link {
        email: row.opt_text("email")?,
        payload: row.opt_text("payload")?,
        expires_at: at(row.int("expires_at")?, "link")?,
    })
}
