//! Markdown bodies to sanitised HTML and to plain text.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Sanitised HTML: whatever a writer pastes, no script or style survives.
pub fn to_html(md: &str) -> String {
    let mut raw = String::new();
    pulldown_cmark::html::push_html(&mut raw, Parser::new_ext(md, Options::ENABLE_STRIKETHROUGH));
    ammonia::Builder::default()
        .link_rel(Some("noopener"))
        .clean(&raw)
        .to_string()
        .trim_end()
        .to_string()
}

/// Plain text for social posts and the email text part: emphasis dropped,
/// links as "text (url)" unless the text is the url, lists as "- ".
pub fn to_plain(md: &str) -> String {
    let mut out = String::new();
    let mut link: Option<(String, usize)> = None;
    let mut list_depth = 0usize;
    for event in Parser::new_ext(md, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::Paragraph) | Event::Start(Tag::Heading { .. }) => {
                paragraph_break(&mut out, list_depth > 0)
            }
            Event::Start(Tag::List(_)) => {
                paragraph_break(&mut out, list_depth > 0);
                list_depth += 1;
            }
            Event::End(TagEnd::List(_)) => list_depth -= 1,
            Event::Start(Tag::Item) => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&"  ".repeat(list_depth.saturating_sub(1)));
                out.push_str("- ");
            }
            Event::Start(Tag::Link { dest_url, .. }) => {
                link = Some((dest_url.to_string(), out.len()))
            }
            Event::End(TagEnd::Link) => {
                if let Some((url, start)) = link.take() {
                    let text = out[start..].trim();
                    if !same_link(text, &url) && !url.starts_with('#') {
                        let shown = url.strip_prefix("mailto:").unwrap_or(&url).to_string();
                        if text != shown {
                            out.push_str(&format!(" ({shown})"));
                        }
                    }
                }
            }
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::Html(_) | Event::InlineHtml(_) => {}
            _ => {}
        }
    }
    out.trim().to_string()
}

fn paragraph_break(out: &mut String, in_list: bool) {
    if out.is_empty() {
        return;
    }
    let want = if in_list { "\n" } else { "\n\n" };
    while !out.ends_with(want) {
        if out.ends_with('\n') && want == "\n" {
            break;
        }
        out.push('\n');
    }
}

fn same_link(text: &str, url: &str) -> bool {
    let strip = |s: &str| {
        s.trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_start_matches("mailto:")
            .trim_end_matches('/')
            .to_string()
    };
    strip(text) == strip(url)
}

/// A link written in Markdown, with the text a reader sees.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub url: String,
    pub text: String,
}

/// Every link in a Markdown text, including autolinks (`<https://…>`).
pub fn links(md: &str) -> Vec<Link> {
    let mut out = Vec::new();
    let mut current: Option<Link> = None;
    for event in Parser::new(md) {
        match event {
            Event::Start(Tag::Link { dest_url, .. }) => {
                current = Some(Link {
                    url: dest_url.to_string(),
                    text: String::new(),
                })
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(l) = current.as_mut() {
                    l.text.push_str(&t);
                }
            }
            Event::End(TagEnd::Link) => out.extend(current.take()),
            _ => {}
        }
    }
    out
}

/// Whether a link's visible text is just its address (bad for screen readers).
/// An email address shown for a `mailto:` link is fine: people need it.
pub fn is_bare_url_text(link: &Link) -> bool {
    if link.url.starts_with("mailto:") {
        return false;
    }
    let t = link.text.trim();
    same_link(t, &link.url)
        || t.starts_with("http://")
        || t.starts_with("https://")
        || t.starts_with("www.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_keeps_link_targets_and_lists() {
        let md = "Read the **new** [arrangements](https://example.org/a).\n\n- one\n- two\n\nMail <mars@example.org>.";
        assert_eq!(
            to_plain(md),
            "Read the new arrangements (https://example.org/a).\n\n- one\n- two\n\nMail mars@example.org."
        );
    }

    #[test]
    fn html_is_sanitised() {
        let html = to_html("Hi <script>alert(1)</script> [x](javascript:alert(1))");
        assert!(!html.contains("script"), "{html}");
        assert!(!html.contains("javascript"), "{html}");
    }

    #[test]
    fn bare_url_link_text_is_detected() {
        let ls = links("See <https://example.org/x> and [the policy](https://example.org/p).");
        assert_eq!(ls.len(), 2);
        assert!(is_bare_url_text(&ls[0]));
        assert!(!is_bare_url_text(&ls[1]));
    }
}
