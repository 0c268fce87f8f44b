//! Review links' rows (`Reviews`), with their views counted.

use chrono::{DateTime, Utc};

use super::{corrupt, Columns};
use crate::delivery::Actor;
use crate::store::reviews::ReviewLink;
use crate::store::StoreError;

/// A link with its view count and latest view, in a literal so statements
/// built with `concat!` stay `&'static str`; callers add the WHERE. What
/// [`review_link`] reads.
macro_rules! select_links {
    () => {
        "SELECT l.id, l.item, l.label, l.created_by, l.created_at, l.expires_at, \
         l.revoked_at, l.revoked_by, COUNT(v.link_id) AS views, MAX(v.at) AS last_viewed_at \
         FROM review_links l LEFT JOIN review_views v ON v.link_id = l.id "
    };
}
pub(crate) use select_links;

/// A row selected with `select_links!`.
pub(crate) fn review_link(row: &impl Columns) -> Result<ReviewLink, StoreError> {
    let id = row.int("id")?;
    let what = |column: &str| format!("review link {id}: {column}");
    let time = |column: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        row.opt_int(column)?
            .map(|ms| DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt(what(column))))
            .transpose()
    };
    let actor = |column: &str| -> Result<Option<Actor>, StoreError> {
        row.opt_text(column)?
            .map(|s| Actor::parse(&s).ok_or_else(|| corrupt(what(column))))
            .transpose()
    };
    let required = |t: Option<DateTime<Utc>>, column: &str| t.ok_or_else(|| corrupt(what(column)));
    Ok(ReviewLink {
        id,
        item: row.text("item")?,
        label: row.text("label")?,
        created_by: actor("created_by")?.ok_or_else(|| corrupt(what("created_by")))?,
        created_at: required(time("created_at")?, "created_at")?,
        expires_at: required(time("expires_at")?, "expires_at")?,
        revoked_at: time("revoked_at")?,
        revoked_by: actor("revoked_by")?,
        views: row.int("views")? as u64,
        last_viewed_at: time("last_viewed_at")?,
    })
}
