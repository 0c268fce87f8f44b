//! Content: the items a comms team writes once, in `campaigns/*.toml`.
//!
//! An [`Item`] is channel-neutral; rendering turns it into one `Variant`
//! per channel. Files are parsed by [`load`], which reports every problem
//! with file, line and column and keeps going.

pub mod load;
pub mod markdown;
pub mod version;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use load::{load_dir, load_dir_reusing, Files};

/// What sort of communication an item is; templates are chosen by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// A news update edition with sections.
    News,
    /// A 7-minute briefing: learning themes, a document, discussion questions.
    Briefing,
    /// A training course or meeting.
    Event,
    Notice,
    /// A plain social or email post, usually part of a campaign.
    Post,
}

impl ItemKind {
    pub const ALL: [ItemKind; 5] = [
        ItemKind::News,
        ItemKind::Briefing,
        ItemKind::Event,
        ItemKind::Notice,
        ItemKind::Post,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::News => "news",
            ItemKind::Briefing => "briefing",
            ItemKind::Event => "event",
            ItemKind::Notice => "notice",
            ItemKind::Post => "post",
        }
    }

    pub fn parse(s: &str) -> Option<ItemKind> {
        ItemKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Image {
    /// Path relative to the campaigns folder.
    pub src: String,
    pub alt: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub heading: String,
    /// Markdown.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub venue: String,
    pub booking_url: Option<String>,
    pub booking_email: Option<String>,
    pub booking_deadline: Option<DateTime<Utc>>,
}

/// The part of an item that depends on its kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Details {
    News {
        edition: Option<String>,
        sections: Vec<Section>,
    },
    Briefing {
        themes: Vec<String>,
        document: String,
        questions: Vec<String>,
    },
    Event(Event),
    None,
}

/// Where an item was written, so every later problem can point at it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Origin {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// What the entry says, hashed (`version::entry_version`).
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: String,
    pub kind: ItemKind,
    pub title: String,
    pub summary: Option<String>,
    /// Markdown.
    pub body: String,
    pub channels: Vec<String>,
    /// When it is published.
    pub at: DateTime<Utc>,
    pub link: Option<String>,
    /// Without the leading '#', as written (case matters to screen readers).
    pub hashtags: Vec<String>,
    /// Which email lists and feeds carry it.
    pub topics: Vec<String>,
    pub images: Vec<Image>,
    pub language: String,
    pub campaign: Option<String>,
    pub require_approval: bool,
    /// Whether a post too long for one message may become a thread.
    pub thread: bool,
    /// Go out in each channel's next free posting slot at or after `at`.
    pub slot: bool,
    /// More publish times (events: "3 days before start at 09:00"), each
    /// with the schedule text that names it.
    pub reminders: Vec<(String, DateTime<Utc>)>,
    pub details: Details,
    pub origin: Origin,
}

impl Item {
    /// Every link the item carries, body links included, for linting.
    pub fn links(&self) -> Vec<String> {
        let mut out: Vec<String> = self.link.iter().cloned().collect();
        out.extend(markdown::links(&self.body).into_iter().map(|l| l.url));
        match &self.details {
            Details::News { sections, .. } => {
                for s in sections {
                    out.extend(markdown::links(&s.body).into_iter().map(|l| l.url));
                }
            }
            Details::Briefing { document, .. } => out.push(document.clone()),
            Details::Event(e) => out.extend(e.booking_url.iter().cloned()),
            Details::None => {}
        }
        out
    }
}
