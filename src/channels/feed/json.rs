//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>).

use serde::Serialize;

use super::entry::{Entry, EventData, FeedMeta};
use super::xml::rfc3339;

// Structs rather than `json!` so the key order, and so the file, is fixed.
#[derive(Serialize)]
struct Feed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    language: &'a str,
    authors: [Author<'a>; 1],
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: &'a str,
    content_html: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    summary: &'a str,
    date_published: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    language: &'a str,
    /// An extension (names starting `_` are the publisher's): what a
    /// calendar needs, for sites that list courses from the feed.
    #[serde(rename = "_event", skip_serializing_if = "Option::is_none")]
    event: Option<Event<'a>>,
}

#[derive(Serialize)]
struct Event<'a> {
    start: String,
    end: String,
    venue: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    booking_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    booking_email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    booking_deadline: Option<String>,
}

impl<'a> Event<'a> {
    fn new(e: &'a EventData) -> Self {
        Event {
            start: rfc3339(e.start),
            end: rfc3339(e.end),
            venue: &e.venue,
            booking_url: e.booking_url.as_deref(),
            booking_email: e.booking_email.as_deref(),
            booking_deadline: e.booking_deadline.map(rfc3339),
        }
    }
}

pub fn render(meta: &FeedMeta, entries: &[Entry]) -> String {
    let feed = Feed {
        version: "https://jsonfeed.org/version/1.1",
        title: &meta.title,
        home_page_url: &meta.home_page,
        feed_url: &meta.self_url,
        description: &meta.description,
        language: &meta.language,
        authors: [Author {
            name: &meta.author,
            url: &meta.home_page,
        }],
        items: entries
            .iter()
            .map(|e| Item {
                id: &e.data.id,
                url: e.data.link.as_deref(),
                title: &e.title,
                content_html: &e.content_html,
                summary: &e.summary,
                date_published: rfc3339(e.data.published),
                tags: e.categories(),
                language: &e.data.language,
                event: e.data.event.as_ref().map(Event::new),
            })
            .collect(),
    };
    let mut out = serde_json::to_string_pretty(&feed).expect("a feed is plain data");
    out.push('\n');
    out
}
