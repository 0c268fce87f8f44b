//! RSS 2.0, with the Atom namespace only for the `rel="self"` link the
//! W3C validator asks for.

use super::entry::{Entry, FeedMeta};
use super::xml::{element, escape, rfc822};

pub fn render(meta: &FeedMeta, entries: &[Entry]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n\
         <channel>\n",
    );
    let i = "  ";
    element(&mut out, i, "title", &meta.title);
    element(&mut out, i, "link", &meta.home_page);
    // RSS requires a description; an empty one is valid but unhelpful.
    let description = if meta.description.is_empty() {
        &meta.title
    } else {
        &meta.description
    };
    element(&mut out, i, "description", description);
    element(&mut out, i, "language", &meta.language);
    element(
        &mut out,
        i,
        "lastBuildDate",
        &rfc822(FeedMeta::updated(entries)),
    );
    element(&mut out, i, "generator", "crier");
    out.push_str(&format!(
        "{i}<atom:link href=\"{}\" rel=\"self\" type=\"application/rss+xml\"/>\n",
        escape(&meta.self_url)
    ));
    for e in entries {
        item(&mut out, e);
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

fn item(out: &mut String, e: &Entry) {
    let i = "    ";
    out.push_str("  <item>\n");
    element(out, i, "title", &e.title);
    if let Some(link) = &e.data.link {
        element(out, i, "link", link);
    }
    // The content as escaped HTML: readers show description as the body.
    element(out, i, "description", &e.content_html);
    // Our ids are tag: URIs, never something to open in a browser.
    out.push_str(&format!(
        "{i}<guid isPermaLink=\"false\">{}</guid>\n",
        escape(&e.data.id)
    ));
    element(out, i, "pubDate", &rfc822(e.data.published));
    for c in e.categories() {
        element(out, i, "category", c);
    }
    out.push_str("  </item>\n");
}
