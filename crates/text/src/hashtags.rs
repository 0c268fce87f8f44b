//! Hashtag detection, following Bluesky's rules (the strictest of the
//! networks we post to, so a tag found here is a tag everywhere): `#` or `＃`
//! at the start or after whitespace, up to the next whitespace, trailing
//! punctuation dropped, not only digits and punctuation, at most 64 UTF-16 units.

use std::ops::Range;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// Characters that end a tag besides whitespace (soft hyphen, joiners...).
fn ends_tag(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{AD}' | '\u{2060}' | '\u{200A}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{20E2}'
        )
}

pub(crate) fn is_punctuation(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Punctuation
}

/// Byte ranges of hashtags (including the `#`) and the tag text without `#`.
pub fn hashtags(text: &str) -> Vec<(Range<usize>, String)> {
    let mut out = Vec::new();
    let mut prev: Option<char> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let at_start = prev.is_none_or(char::is_whitespace);
        prev = Some(c);
        if !(at_start && (c == '#' || c == '＃')) {
            continue;
        }
        let body_start = i + c.len_utf8();
        let body_end = text[body_start..]
            .find(ends_tag)
            .map_or(text.len(), |k| body_start + k);
        let body = &text[body_start..body_end];
        if body.starts_with('\u{FE0F}')
            || !body
                .chars()
                .any(|c| !c.is_ascii_digit() && !is_punctuation(c))
        {
            continue;
        }
        let tag = body.trim_end_matches(is_punctuation);
        if tag.is_empty() || tag.encode_utf16().count() > 64 {
            continue;
        }
        out.push((i..body_start + tag.len(), tag.to_string()));
        // resume after the whole body, as a global regex would
        while iter.peek().is_some_and(|&(j, _)| j < body_end) {
            prev = iter.next().map(|(_, c)| c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::hashtags;

    #[test]
    fn finds_tags() {
        let text = "Go #SafeguardingWeek, and #diogel! #2024 #1st a#b #_";
        let tags: Vec<_> = hashtags(text)
            .into_iter()
            .map(|(r, t)| (&text[r], t))
            .collect();
        assert_eq!(
            tags,
            [
                ("#SafeguardingWeek", "SafeguardingWeek".to_string()),
                ("#diogel", "diogel".into()),
                ("#1st", "1st".into())
            ]
        );
    }

    #[test]
    fn length_cap() {
        assert_eq!(hashtags(&format!("#{}", "a".repeat(64))).len(), 1);
        assert!(hashtags(&format!("#{}", "a".repeat(65))).is_empty());
    }
}
