//! One feed entry, as every format writes it, and how it is read back
//! from a stored variant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::variant::Variant;

/// What shaping adds to the variant (`payload.entry`). With the variant's
/// subject, text and html it is the whole entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryData {
    /// Stable and unique: a `tag:` URI from the website's host and the
    /// item id. Never a time, so edits and restarts keep it.
    pub id: String,
    pub link: Option<String>,
    /// The item's `at`.
    pub published: DateTime<Utc>,
    pub language: String,
    /// Which feeds carry it, and categories.
    pub topics: Vec<String>,
    /// Without '#', as written.
    pub hashtags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventData>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub venue: String,
    pub booking_url: Option<String>,
    pub booking_email: Option<String>,
    pub booking_deadline: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub title: String,
    /// Plain text.
    pub summary: String,
    /// Sanitised when shaped.
    pub content_html: String,
    pub data: EntryData,
}

impl Entry {
    /// The entry a feed variant describes; `None` for a variant of another
    /// kind or one stored before entries were part of the payload.
    pub fn from_variant(v: &Variant) -> Option<Entry> {
        if v.kind != super::KIND.name {
            return None;
        }
        let data = v.payload.as_ref()?.get("entry")?;
        let data = EntryData::deserialize(data).ok()?;
        Some(Entry {
            title: v.subject.clone().unwrap_or_else(|| v.item.clone()),
            summary: v.text.clone(),
            content_html: v.html.clone().unwrap_or_default(),
            data,
        })
    }

    /// Topics then hashtags, each once, in the order written.
    pub fn categories(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in self.data.topics.iter().chain(&self.data.hashtags) {
            if !out.contains(&c.as_str()) {
                out.push(c);
            }
        }
        out
    }
}

/// Everything a feed says about itself.
#[derive(Debug, Clone)]
pub struct FeedMeta {
    pub id: String,
    pub title: String,
    pub description: String,
    pub home_page: String,
    pub author: String,
    pub language: String,
    /// Where this very file is served.
    pub self_url: String,
}

impl FeedMeta {
    /// The newest entry's time, so an unchanged feed is byte-for-byte the
    /// same file; the Unix epoch for an empty feed (formats need a date).
    pub fn updated(entries: &[Entry]) -> DateTime<Utc> {
        entries
            .iter()
            .map(|e| e.data.published)
            .max()
            .unwrap_or(DateTime::UNIX_EPOCH)
    }
}
