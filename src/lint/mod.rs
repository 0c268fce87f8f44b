//! Accessibility and content checks, on items and on the variants rendered
//! from them. Errors stop a publish; warnings become errors with `--strict`.

mod hashtag;

use unicode_properties::UnicodeEmoji;
use unicode_segmentation::UnicodeSegmentation;

use crate::channels::{Configured, Family};
use crate::config::Config;
use crate::content::{markdown, Details, Item};
use crate::diagnostics::{Location, Report};
use crate::variant::Variant;

/// Checks that concern the item wherever it goes.
pub fn item(item: &Item, report: &mut Report) {
    let here = || Location::File {
        path: item.origin.path.clone(),
        line: item.origin.line,
        column: item.origin.column,
    };
    // Item-level problems are fixed in the file, so they point there, and
    // name every channel they would reach.
    let who = format!(
        "item `{}` (channels: {})",
        item.id,
        item.channels.join(", ")
    );
    for image in &item.images {
        if image.alt.is_empty() {
            report.error(
                here(),
                format!(
                    "{who}: image `{}` has no alt text; describe it for people who cannot see it",
                    image.src
                ),
            );
        }
    }
    for link in item.links() {
        if let Some(problem) = link_problem(&link) {
            report.error(here(), format!("{who}: {problem}"));
        }
    }
}

/// An image file the channel could not send: missing, or over its size
/// limit. Found here rather than at send time, when only a failed delivery
/// would say so.
fn image_too_big(config: &Config, src: &str, max: u64) -> Option<String> {
    let size = match std::fs::metadata(config.campaigns_dir().join(src)) {
        Ok(m) => m.len(),
        Err(e) => return Some(format!("cannot read image `{src}`: {e}")),
    };
    (size > max).then(|| {
        format!(
            "image `{src}` is {}, over this channel's limit of {}: make it smaller",
            human_bytes(size),
            human_bytes(max)
        )
    })
}

fn human_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB {
        format!("{:.1} MiB ({n} bytes)", n as f64 / MIB as f64)
    } else {
        format!("{:.0} KiB ({n} bytes)", n as f64 / 1024.0)
    }
}

/// Links must be https (or mail/phone); plain http is refused by many
/// partners' mail filters and browsers warn on it.
fn link_problem(link: &str) -> Option<String> {
    let ok =
        link.starts_with("https://") || link.starts_with("mailto:") || link.starts_with("tel:");
    (!ok).then(|| format!("link `{link}` is not https"))
}

/// Checks on one rendered variant.
pub fn variant(
    config: &Config,
    item: &Item,
    channel: &Configured,
    v: &Variant,
    report: &mut Report,
) {
    let here = || Location::Item {
        item: item.id.clone(),
        channel: Some(channel.name().to_string()),
    };
    if let Some(max) = channel.max_image_bytes() {
        for image in &v.images {
            if let Some(problem) = image_too_big(config, &image.src, max) {
                report.error(here(), problem);
            }
        }
    }
    for tag in hashtag::unreadable(&v.text, &config.lint.single_word_hashtags) {
        report.warning(
            here(),
            format!(
                "hashtag #{tag} has several words in lower case; screen readers read #CamelCase words apart (e.g. #{})",
                hashtag::suggest(&tag)
            ),
        );
    }
    let emoji = emoji_count(&v.text);
    if matches!(channel.family(), Family::Social | Family::Chat) && emoji > config.lint.max_emoji {
        report.warning(
            here(),
            format!(
                "{emoji} emoji (more than {}): screen readers read out each one's name",
                config.lint.max_emoji
            ),
        );
    }
    if channel.family() == Family::Email {
        for link in body_links(item) {
            if markdown::is_bare_url_text(&link) {
                report.warning(
                    here(),
                    format!(
                        "link text `{}` is a bare address; say where it goes (e.g. [the booking form]({}))",
                        link.text, link.url
                    ),
                );
            }
        }
    }
}

fn body_links(item: &Item) -> Vec<markdown::Link> {
    let mut links = markdown::links(&item.body);
    if let Details::News { sections, .. } = &item.details {
        for s in sections {
            links.extend(markdown::links(&s.body));
        }
    }
    links
}

/// Grapheme clusters that display as emoji.
pub fn emoji_count(text: &str) -> usize {
    text.graphemes(true)
        .filter(|g| {
            g.contains('\u{FE0F}')
                || g.chars()
                    .any(|c| !c.is_ascii() && c.is_emoji_char() && (c as u32) > 0x2000)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_are_counted_per_grapheme() {
        assert_eq!(emoji_count("Stay safe 👨‍👩‍👧 🇬🇧 ✅ #1"), 3);
        assert_eq!(emoji_count("Café naïve © 2026"), 0);
    }

    #[test]
    fn only_secure_links_pass() {
        assert!(link_problem("https://example.org").is_none());
        assert!(link_problem("mailto:mars@example.org").is_none());
        assert!(link_problem("http://example.org").is_some());
        assert!(link_problem("ftp://example.org").is_some());
    }
}
