//! A `[campaign]` table: the settings its `[[post]]` entries inherit, and
//! the times its cadence gives posts written without one.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::de::DeValue;
use toml::Spanned;

use super::names::{check_channels, check_hashtags};
use super::{deserialize_entry, Context};
use crate::diagnostics::{Report, SourceFile};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCampaign {
    name: String,
    #[serde(default)]
    hashtags: Vec<Spanned<String>>,
    #[serde(default)]
    channels: Vec<Spanned<String>>,
    #[serde(default)]
    topics: Vec<String>,
    /// A cron pattern (optionally `from`/`until`) giving undated posts their times.
    cadence: Option<Spanned<String>>,
    link: Option<Spanned<String>>,
    language: Option<String>,
    require_approval: Option<bool>,
    thread: Option<bool>,
}

/// A campaign's settings, already checked.
pub(super) struct Campaign {
    pub(super) name: String,
    pub(super) hashtags: Vec<String>,
    pub(super) channels: Vec<String>,
    pub(super) topics: Vec<String>,
    /// Firings of the cadence, for posts without their own time.
    pub(super) slots: Vec<DateTime<Utc>>,
    pub(super) link: Option<String>,
    pub(super) language: Option<String>,
    pub(super) require_approval: bool,
    pub(super) thread: Option<bool>,
}

/// How many cadence firings to compute; a campaign rarely has more posts.
const CADENCE_LOOKAHEAD: usize = 500;

/// The times a cadence gives undated posts, in order. A `from` date is
/// required so the times do not move each time the files are read.
fn cadence_times(text: &str, tz: Tz) -> Result<Vec<DateTime<Utc>>, String> {
    use crier_schedule::Schedule;
    let Schedule::Cadence(cadence) = Schedule::parse(text, tz).map_err(|e| e.to_string())? else {
        return Err("expected a cron pattern, e.g. \"0 10 * * MON from 2026-12-07\"".into());
    };
    let from = cadence
        .from()
        .ok_or("add `from YYYY-MM-DD` so post times stay put")?;
    let start =
        crier_schedule::resolve_forward(from.and_hms_opt(0, 0, 0).expect("midnight exists"), tz);
    Ok(cadence
        .firings(start - chrono::TimeDelta::seconds(1), tz)
        .take(CADENCE_LOOKAHEAD)
        .collect())
}

pub(super) fn read_campaign(
    src: &SourceFile,
    value: Spanned<DeValue>,
    ctx: &Context,
    report: &mut Report,
) -> Option<Campaign> {
    let raw: RawCampaign = deserialize_entry(src, value, report)?;
    let slots = match &raw.cadence {
        None => Vec::new(),
        Some(c) => cadence_times(c.get_ref(), ctx.timezone).unwrap_or_else(|msg| {
            report.error(src.span(&c.span()), format!("bad cadence: {msg}"));
            Vec::new()
        }),
    };
    Some(Campaign {
        name: raw.name,
        hashtags: check_hashtags(src, &raw.hashtags, report),
        channels: check_channels(src, &raw.channels, ctx, report),
        topics: raw.topics,
        slots,
        link: raw.link.map(Spanned::into_inner),
        language: raw.language,
        require_approval: raw.require_approval.unwrap_or(false),
        thread: raw.thread,
    })
}
