//! One-time links: the first-run setup link that creates the first admin,
//! and set-password links (a new account, a reset). The link carries a
//! random secret; the store keeps its hash, so it is usable once, until it
//! expires, and only by whoever holds the URL.

use chrono::{DateTime, TimeDelta, Utc};

use super::secrets;
use crate::store::people::{digest, LinkPurpose, NewLink, People};
use crate::store::StoreError;

/// How long the first-run link works.
pub const SETUP_VALID: TimeDelta = TimeDelta::hours(1);
/// A new account's set-password link: long enough to reach someone on leave.
pub const NEW_ACCOUNT_VALID: TimeDelta = TimeDelta::days(7);
/// A reset link.
pub const RESET_VALID: TimeDelta = TimeDelta::days(1);

/// When no account exists, a new setup link (`<public_url>/setup/<secret>`)
/// valid for [`SETUP_VALID`]; `None` once someone has an account.
pub async fn first_run(
    people: &dyn People,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    if people.account_count().await? > 0 {
        return Ok(None);
    }
    let secret = secrets::random();
    let link = NewLink {
        hash: digest(&secret),
        purpose: LinkPurpose::Setup,
        email: None,
        payload: None,
        expires_at: now + SETUP_VALID,
    };
    people.create_link(&link, now).await?;
    Ok(Some(format!(
        "{}/setup/{secret}",
        public_url.trim_end_matches('/')
    )))
}

/// A set-password link for `email`'s account: `<public_url>/password/<secret>`.
pub async fn set_password(
    people: &dyn People,
    email: &str,
    public_url: &str,
    valid: TimeDelta,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let secret = secrets::random();
    let link = NewLink {
        hash: digest(&secret),
        purpose: LinkPurpose::Password,
        email: Some(email.to_string()),
        payload: None,
        expires_at: now + valid,
    };
    people.create_link(&link, now).await?;
    Ok(format!(
        "{}/password/{secret}",
        public_url.trim_end_matches('/')
    ))
}
