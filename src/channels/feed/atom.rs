//! Atom 1.0 (RFC 4287).

use super::entry::{Entry, FeedMeta};
use super::xml::{element, escape, rfc3339};

pub fn render(meta: &FeedMeta, entries: &[Entry]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\">\n",
        escape(&meta.language)
    );
    let i = "  ";
    element(&mut out, i, "id", &meta.id);
    element(&mut out, i, "title", &meta.title);
    if !meta.description.is_empty() {
        element(&mut out, i, "subtitle", &meta.description);
    }
    element(&mut out, i, "updated", &rfc3339(FeedMeta::updated(entries)));
    out.push_str(&format!(
        "{i}<link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        escape(&meta.self_url)
    ));
    out.push_str(&format!(
        "{i}<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        escape(&meta.home_page)
    ));
    // A feed-level author covers every entry, which RFC 4287 requires.
    out.push_str(&format!(
        "{i}<author>\n{i}{i}<name>{}</name>\n{i}{i}<uri>{}</uri>\n{i}</author>\n",
        escape(&meta.author),
        escape(&meta.home_page)
    ));
    element(&mut out, i, "generator", "crier");
    for e in entries {
        entry(&mut out, meta, e);
    }
    out.push_str("</feed>\n");
    out
}

fn entry(out: &mut String, meta: &FeedMeta, e: &Entry) {
    let i = "    ";
    if e.data.language == meta.language {
        out.push_str("  <entry>\n");
    } else {
        out.push_str(&format!(
            "  <entry xml:lang=\"{}\">\n",
            escape(&e.data.language)
        ));
    }
    element(out, i, "id", &e.data.id);
    out.push_str(&format!(
        "{i}<title type=\"text\">{}</title>\n",
        escape(&e.title)
    ));
    if let Some(link) = &e.data.link {
        out.push_str(&format!(
            "{i}<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
            escape(link)
        ));
    }
    element(out, i, "published", &rfc3339(e.data.published));
    // A sent entry is never edited (the store keeps what was sent), so it
    // was last updated when it was published.
    element(out, i, "updated", &rfc3339(e.data.published));
    if !e.summary.is_empty() {
        out.push_str(&format!(
            "{i}<summary type=\"text\">{}</summary>\n",
            escape(&e.summary)
        ));
    }
    out.push_str(&format!(
        "{i}<content type=\"html\">{}</content>\n",
        escape(&e.content_html)
    ));
    for c in e.categories() {
        out.push_str(&format!("{i}<category term=\"{}\"/>\n", escape(c)));
    }
    out.push_str("  </entry>\n");
}
