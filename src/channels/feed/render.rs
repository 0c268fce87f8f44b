//! The one render path: a feed's entries from its `sent` deliveries, and
//! the bytes of each format from those entries. The publisher writes the
//! bytes to files; `/feeds/` ([`super::serve`]) renders them on request
//! from the store, so every instance on a shared store serves the same
//! document.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::entry::{Entry, FeedMeta};
use super::{atom, ical, json, rss, Format, Options, Site};
use crate::delivery::Delivery;
use crate::store::{ChannelStore, StoreError};
use crate::variant::Variant;

/// What a feed is, fixed when its channel is built: its channel's name,
/// its options and who publishes it. Shared by the publisher and the route.
pub(crate) struct Definition {
    pub name: String,
    pub options: Options,
    pub site: Site,
}

/// A feed's entries as one moment's store has them.
pub(super) struct Newest {
    /// Newest first, bounded ([`Definition::bounded`]).
    pub entries: Vec<Entry>,
    /// The newest `sent_at` of the channel: when the document last changed
    /// (its Last-Modified); `None` before anything was sent.
    pub last_sent: Option<DateTime<Utc>>,
}

impl Definition {
    /// Whether this feed carries an item with these topics.
    pub fn carries(&self, topics: &[String]) -> bool {
        self.options.topics.is_empty() || topics.iter().any(|t| self.options.topics.contains(t))
    }

    /// The entries the documents carry, newest first: the entries of the
    /// channel's newest `max_entries` sends, read again twice as far back
    /// while they make fewer entries than a document carries (repeat
    /// sends, items of other topics, or a calendar's events being few) and
    /// the channel has older sends. A feed of one item per send reads each
    /// row once; at worst, every send, as before there was a bound.
    ///
    /// `recent` (what this process published whose `sent` is not stored
    /// yet) and `current` (being published now) are the publisher's; the
    /// route passes neither and serves what the store records.
    pub async fn newest(
        &self,
        store: &dyn ChannelStore,
        recent: &mut BTreeMap<i64, Variant>,
        current: Option<(i64, &Variant)>,
    ) -> Result<Newest, StoreError> {
        let mut limit = self.options.max_entries;
        loop {
            let sent = store.sent_latest(&self.name, limit).await?;
            // Once stored as sent, the store is the record.
            for d in &sent {
                recent.remove(&d.id);
            }
            let entries = self.entries(&sent, recent, current);
            if sent.len() < limit || self.enough(&entries) {
                return Ok(Newest {
                    entries: self.bounded(entries),
                    last_sent: sent.iter().filter_map(|d| d.sent_at).max(),
                });
            }
            limit = limit.saturating_mul(2);
        }
    }

    /// Whether every document has its `max_entries`: entries, and events
    /// for a calendar (which lists events only).
    fn enough(&self, entries: &[Entry]) -> bool {
        let max = self.options.max_entries;
        let events = || entries.iter().filter(|e| e.data.event.is_some()).count();
        entries.len() >= max && (!self.options.formats.contains(&Format::Ical) || events() >= max)
    }

    /// The newest `max_entries` entries, plus, for a calendar, the events
    /// among the rest up to its `max_entries` newest events: the other
    /// formats take the first `max_entries` ([`Definition::render`]).
    fn bounded(&self, entries: Vec<Entry>) -> Vec<Entry> {
        let max = self.options.max_entries;
        let calendar = self.options.formats.contains(&Format::Ical);
        let mut events = 0;
        entries
            .into_iter()
            .enumerate()
            .filter(|(i, e)| {
                let event = calendar && e.data.event.is_some() && events < max;
                events += usize::from(event);
                *i < max || event
            })
            .map(|(_, e)| e)
            .collect()
    }

    /// One entry per id, newest first. For an id sent more than once (an
    /// event's reminders, a repeated send), the latest send wins, and the
    /// one being published beats them all.
    fn entries(
        &self,
        sent: &[Delivery],
        recent: &BTreeMap<i64, Variant>,
        current: Option<(i64, &Variant)>,
    ) -> Vec<Entry> {
        let mut sent: Vec<&Delivery> = sent.iter().collect();
        sent.sort_by_key(|d| (d.sent_at.unwrap_or(DateTime::<Utc>::MIN_UTC), d.id));
        let stored = sent.iter().filter_map(|d| Entry::from_variant(&d.variant));
        let unrecorded = recent.values().filter_map(Entry::from_variant);
        let now = current.and_then(|(_, v)| Entry::from_variant(v));
        let mut by_id: BTreeMap<String, Entry> = BTreeMap::new();
        for e in stored.chain(unrecorded).chain(now) {
            by_id.insert(e.data.id.clone(), e);
        }
        let mut out: Vec<Entry> = by_id
            .into_values()
            .filter(|e| self.carries(&e.data.topics))
            .collect();
        out.sort_by(|a, b| (b.data.published, &a.data.id).cmp(&(a.data.published, &b.data.id)));
        out
    }

    /// The document of one format from `entries` ([`Definition::bounded`]):
    /// the first `max_entries`, and a calendar the events among them all.
    /// The same entries give the same bytes.
    pub fn render(&self, public_url: &str, format: Format, entries: &[Entry]) -> String {
        let newest = &entries[..entries.len().min(self.options.max_entries)];
        let meta = FeedMeta {
            id: self.site.feed_id(&self.options.path),
            title: self.options.title.clone(),
            description: self.options.description.clone(),
            home_page: self.site.home_page.clone(),
            author: self.site.author.clone(),
            language: self.site.language.clone(),
            self_url: self.url(public_url, format),
        };
        match format {
            Format::Rss => rss::render(&meta, newest),
            Format::Atom => atom::render(&meta, newest),
            Format::Json => json::render(&meta, newest),
            Format::Ical => ical::render(&meta, entries, self.site.timezone),
        }
    }

    /// Where the document of `format` is served.
    pub fn url(&self, public_url: &str, format: Format) -> String {
        format!(
            "{}/{}/{}",
            public_url.trim_end_matches('/'),
            super::FOLDER,
            format.file_name(&self.options.path)
        )
    }
}
