//! Website feeds: RSS 2.0, Atom 1.0, JSON Feed 1.1 and iCalendar, written
//! under the daemon's publish folder. Each feed carries the items whose
//! topics it lists (all items when it lists none).

use serde::Deserialize;

use super::registry::Kind;
use super::{options, Channel, Family, Findings, Rendered};
use crate::config::ChannelSpec;
use crate::content::{markdown, Item};
use crate::render::{Output, Variant};

pub const KIND: Kind = Kind {
    name: "feed",
    build,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Rss,
    Atom,
    Json,
    Ical,
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
    /// File name stem under /feeds/, e.g. `news` → /feeds/news.xml.
    path: String,
}

fn default_formats() -> Vec<Format> {
    vec![Format::Rss, Format::Atom, Format::Json]
}

struct Feed {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec) -> Result<Box<dyn Channel>, String> {
    let options: Options = options(spec)?;
    if options.path.is_empty()
        || !options
            .path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "channels.{}.path must be a plain file name stem (a-z, 0-9, '-', '_')",
            spec.name
        ));
    }
    Ok(Box::new(Feed {
        name: spec.name.clone(),
        options,
    }))
}

impl Channel for Feed {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        KIND.name
    }
    fn family(&self) -> Family {
        Family::Feed
    }
    fn outputs(&self) -> &'static [Output] {
        &[Output::Html]
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        if !self.options.topics.is_empty()
            && !item.topics.iter().any(|t| self.options.topics.contains(t))
        {
            findings.warning(format!(
                "the item has none of this feed's topics ({}), so it will not appear in it",
                self.options.topics.join(", ")
            ));
        }
        let summary = item
            .summary
            .clone()
            .unwrap_or_else(|| markdown::to_plain(&item.body));
        let mut v = Variant::document(&item.id, &self.name, KIND.name, summary);
        v.subject = Some(item.title.clone());
        // Feeds are HTML documents: sanitise what the template produced too.
        v.html = rendered.html.map(|h| ammonia::clean(&h));
        v.payload = Some(serde_json::json!({
            "feed": self.options.title,
            "description": self.options.description,
            "path": self.options.path,
            "formats": self.options.formats.iter().map(|f| format!("{f:?}").to_lowercase()).collect::<Vec<_>>(),
        }));
        v
    }
}
