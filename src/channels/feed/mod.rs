//! Website feeds: RSS 2.0, Atom 1.0, JSON Feed 1.1 and iCalendar, served
//! at `/feeds/` and written under the daemon's publish folder. Each feed
//! carries the items whose topics it lists (all items when it lists none).
//!
//! Documents, served at `/feeds/` and written to `<publish_dir>/feeds/`:
//!
//! | format | file                 | content type                          |
//! |--------|----------------------|---------------------------------------|
//! | rss    | `<path>.rss.xml`     | `application/rss+xml; charset=utf-8`  |
//! | atom   | `<path>.atom.xml`    | `application/atom+xml; charset=utf-8` |
//! | json   | `<path>.json`        | `application/feed+json; charset=utf-8`|
//! | ical   | `<path>.ics`         | `text/calendar; charset=utf-8`        |
//!
//! Shaping puts everything an entry needs beyond the variant's subject
//! (title), text (summary) and html (content) into `payload.entry`, so a
//! document is a function of the channel's newest sent deliveries alone
//! (see [`entry`]), rendered by one path ([`render`]) whose documents carry
//! at most `max_entries` entries.
//!
//! Where documents are served from: the database, not a folder. `/feeds/`
//! ([`serve`]) renders each request from the store, so every instance on a
//! shared store serves the same document whoever published (the store is
//! already shared; a shared folder would be one more thing to set up,
//! whose writes from several hosts race, and which an instance that did
//! not publish cannot vouch for). Each feed mounts its own documents'
//! paths ([`Channel::routes`]); publishing ([`publish`]) still rewrites the
//! files, for a website that serves them itself, and the route never reads
//! them for a feed the daemon started with.

mod atom;
mod entry;
mod ical;
mod json;
mod publish;
mod render;
mod rss;
mod serve;
mod xml;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono_tz::Tz;
use serde::Deserialize;

use async_trait::async_trait;

use super::registry::{Kind, KindHooks};
use super::{options, Channel, Family, Findings, Publisher, Rendered, Services};
use crate::config::{ChannelSpec, Config, Organisation};
use crate::content::{markdown, Details, Item};
use crate::diagnostics::Report;
use crate::render::Output;
use crate::variant::Variant;

use entry::{EntryData, EventData};

pub const KIND: Kind = Kind {
    name: "feed",
    family: Family::Feed,
    build,
    hooks: &Hooks,
    example: Some(example),
};

/// `crier init`'s table for a feed (see [`Kind::example`]).
fn example(name: &str) -> String {
    format!(
        r#"# Website feeds (RSS, Atom, JSON Feed; add "ical" for events), served at
# /feeds/{name}.rss.xml and so on (and written to the data folder).
[channels.{name}]
kind = "feed"
title = "News"
description = "News, briefings, training and campaigns."
path = "{name}"
formats = ["rss", "atom", "json"]
max_entries = 50 # the newest entries each file carries
"#
    )
}

/// The kind mounts `/feeds/{file}` once, whatever the number of feeds: the
/// files in the publish folder no feed's own route names (each feed
/// mounts its documents, `Channel::routes`).
struct Hooks;

impl KindHooks for Hooks {
    fn routes(&self, services: &Services) -> Option<axum::Router> {
        Some(serve::folder(services.publish_dir.join(FOLDER)))
    }

    /// Two feeds with one path would write and serve the same documents,
    /// and mount two routes on one path: an error, so a daemon refuses
    /// them before mounting anything.
    fn check_channels(&self, config: &Config, report: &mut Report) {
        let mut by_path = BTreeMap::new();
        let feeds = config.channels.iter().filter(|c| c.kind == KIND.name);
        for spec in feeds {
            let Some(path) = spec.options.get("path").and_then(|p| p.as_str()) else {
                continue;
            };
            if let Some(first) = by_path.get(path) {
                report.error(
                    spec.location.clone(),
                    format!(
                        "channels.{}: `path = \"{path}\"` is also channels.{first}'s: \
                         give each feed a path of its own",
                        spec.name
                    ),
                );
            } else {
                by_path.insert(path, &spec.name);
            }
        }
    }
}

/// The folder under the publish folder the files are written to.
pub const FOLDER: &str = "feeds";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Rss,
    Atom,
    Json,
    Ical,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
            Format::Ical => "ical",
        }
    }

    /// The suffix after the feed's path: `news` → `news.rss.xml`. RSS and
    /// Atom both being XML, a plain `.xml` could not say which is which.
    pub fn suffix(self) -> &'static str {
        match self {
            Format::Rss => ".rss.xml",
            Format::Atom => ".atom.xml",
            Format::Json => ".json",
            Format::Ical => ".ics",
        }
    }

    pub fn file_name(self, path: &str) -> String {
        format!("{path}{}", self.suffix())
    }
}

/// The `Content-Type` to serve a file under /feeds/ with, by its name.
pub fn content_type(file_name: &str) -> &'static str {
    if file_name.ends_with(Format::Rss.suffix()) {
        "application/rss+xml; charset=utf-8"
    } else if file_name.ends_with(Format::Atom.suffix()) {
        "application/atom+xml; charset=utf-8"
    } else if file_name.ends_with(Format::Json.suffix()) {
        "application/feed+json; charset=utf-8"
    } else if file_name.ends_with(Format::Ical.suffix()) {
        "text/calendar; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    title: String,
    #[serde(default)]
    description: String,
    /// Only items with one of these topics; empty means every item.
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default = "default_formats")]
    formats: Vec<Format>,
    /// File name stem under /feeds/, e.g. `news` → /feeds/news.rss.xml.
    path: String,
    /// The website the feed belongs to; the organisation's by default.
    home_page: Option<String>,
    /// Who the feed is by; the organisation's name by default.
    author: Option<String>,
    /// The feed's language; the organisation's by default.
    language: Option<String>,
    /// How many entries a file carries, newest first: a reader wants
    /// what is recent, and the store reads only that many sends.
    #[serde(default = "default_max_entries")]
    max_entries: usize,
}

fn default_formats() -> Vec<Format> {
    vec![Format::Rss, Format::Atom, Format::Json]
}

fn default_max_entries() -> usize {
    50
}

/// Who publishes the feed: fixed at build time, shared by every entry.
#[derive(Debug, Clone)]
struct Site {
    home_page: String,
    author: String,
    language: String,
    /// The authority of `tag:` ids (RFC 4151): the home page's host.
    host: String,
    /// For the local times calendars spell out (booking deadlines).
    timezone: Tz,
}

/// RFC 4151 wants a date on which the tag's authority was held. A fixed
/// one (not an item's time) keeps every id stable when an item is
/// rescheduled or edited; crier was first deployed in 2026.
const TAG_DATE: &str = "2026";

impl Site {
    /// A stable, globally unique id for an item: never its publish time.
    fn entry_id(&self, item: &str) -> String {
        format!("tag:{},{TAG_DATE}:{item}", self.host)
    }

    fn feed_id(&self, path: &str) -> String {
        format!("tag:{},{TAG_DATE}:feeds/{path}", self.host)
    }
}

pub(crate) struct Feed {
    /// Shared with `/feeds/`, which renders the documents from it too.
    def: Arc<render::Definition>,
    publish: publish::State,
}

fn build(spec: &ChannelSpec, organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    Ok(Box::new(Feed::new(spec, Some(organisation))?))
}

impl Feed {
    fn new(spec: &ChannelSpec, organisation: Option<&Organisation>) -> Result<Feed, String> {
        let options: Options = options(spec)?;
        let n = &spec.name;
        if options.path.is_empty()
            || !options
                .path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "channels.{n}.path must be a plain file name stem (a-z, 0-9, '-', '_')"
            ));
        }
        if options.formats.is_empty() {
            return Err(format!(
                "channels.{n}.formats must name at least one format"
            ));
        }
        if options.max_entries == 0 {
            return Err(format!("channels.{n}.max_entries must be at least 1"));
        }
        let home_page = options
            .home_page
            .clone()
            .or_else(|| organisation.map(|o| o.website.clone()))
            .ok_or_else(|| {
                format!("channels.{n}: set `home_page` (no [organisation] website to use)")
            })?;
        super::https_option(spec, "home_page", &home_page)?;
        let host = url_host(&home_page)
            .ok_or_else(|| format!("channels.{n}: `{home_page}` has no host name"))?;
        let author = options
            .author
            .clone()
            .or_else(|| organisation.map(|o| o.name.clone()))
            .ok_or_else(|| format!("channels.{n}: set `author` (no [organisation] name to use)"))?;
        let language = options
            .language
            .clone()
            .or_else(|| organisation.map(|o| o.language.clone()))
            .unwrap_or_else(|| "en-GB".into());
        let site = Site {
            home_page,
            author,
            language,
            host,
            timezone: organisation.map_or(chrono_tz::Europe::London, |o| o.timezone),
        };
        Ok(Feed {
            def: Arc::new(render::Definition {
                name: spec.name.clone(),
                options,
                site,
            }),
            publish: publish::State::default(),
        })
    }
}

/// `https://www.Example.org:8443/x` → `www.example.org`.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[async_trait]
impl Channel for Feed {
    /// Writes the feed's files (served from the store by its routes).
    async fn start(&self, services: &Services) -> Result<(), String> {
        self.rebuild(services).await.map_err(|e| {
            format!(
                "cannot write the feeds under {}: {e}",
                services.publish_dir.display()
            )
        })
    }
    /// `/feeds/<file>` for each of the feed's formats, rendered from the
    /// store: the same document on every instance sharing it.
    fn routes(&self, services: &Services) -> Option<axum::Router> {
        let source = serve::Source {
            store: services.store.clone(),
            public_url: services.public_url.clone(),
        };
        Some(serve::documents(&self.def, &source, serve::FRESH))
    }
    fn outputs(&self) -> &'static [Output] {
        &[Output::Html]
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        if !self.def.carries(&item.topics) {
            findings.warning(format!(
                "the item has none of this feed's topics ({}), so it will not appear in it",
                self.def.options.topics.join(", ")
            ));
        }
        let summary = item
            .summary
            .clone()
            .unwrap_or_else(|| markdown::to_plain(&item.body));
        let mut v = Variant::document(&item.id, &self.def.name, KIND.name, summary);
        v.subject = Some(item.title.clone());
        // Feeds are HTML documents: sanitise what the template produced too.
        v.html = rendered.html.map(|h| ammonia::clean(&h));
        let event = match &item.details {
            Details::Event(e) => Some(EventData {
                start: e.start,
                end: e.end,
                venue: e.venue.clone(),
                booking_url: e.booking_url.clone(),
                booking_email: e.booking_email.clone(),
                booking_deadline: e.booking_deadline,
            }),
            _ => None,
        };
        let entry = EntryData {
            id: self.def.site.entry_id(&item.id),
            link: item.link.clone(),
            published: item.at,
            language: item.language.clone(),
            topics: item.topics.clone(),
            hashtags: item.hashtags.clone(),
            event,
        };
        v.payload = Some(serde_json::json!({
            "feed": self.def.options.title,
            "description": self.def.options.description,
            "path": self.def.options.path,
            "formats": self.def.options.formats.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "entry": entry,
        }));
        v
    }
    fn publisher(&self) -> &dyn Publisher {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_from_urls() {
        assert_eq!(
            url_host("https://www.Example.org:8443/x?y").as_deref(),
            Some("www.example.org")
        );
        assert_eq!(url_host("http://[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(url_host("https://"), None);
        assert_eq!(url_host("example.org"), None);
    }

    #[test]
    fn content_types_by_file_name() {
        assert_eq!(
            content_type("news.rss.xml"),
            "application/rss+xml; charset=utf-8"
        );
        assert_eq!(
            content_type("news.atom.xml"),
            "application/atom+xml; charset=utf-8"
        );
        assert_eq!(
            content_type("news.json"),
            "application/feed+json; charset=utf-8"
        );
        assert_eq!(content_type("training.ics"), "text/calendar; charset=utf-8");
        assert_eq!(content_type("x.txt"), "application/octet-stream");
    }

    #[test]
    fn entry_ids_are_tag_uris_without_times() {
        let site = Site {
            home_page: "https://www.example.org".into(),
            author: "Org".into(),
            language: "en-GB".into(),
            host: "www.example.org".into(),
            timezone: chrono_tz::Europe::London,
        };
        assert_eq!(site.entry_id("news-1"), "tag:www.example.org,2026:news-1");
        assert_eq!(site.feed_id("news"), "tag:www.example.org,2026:feeds/news");
    }
}
