//! Hashtag detection, following the Bluesky app's rules (`detectFacets` in
//! `@atproto/api`, `packages/api/src/rich-text/detection.ts`; the strictest of
//! the networks we post to, so a tag found here is a tag everywhere):
//!
//! - `#` or fullwidth `＃` at the start of the text or after whitespace, as
//!   JavaScript's `\s` has it (U+FEFF counts, U+0085 does not);
//! - the tag runs to the next whitespace or zero-width character (soft
//!   hyphen, word joiner, hair space, ZWSP, ZWNJ, ZWJ, U+20E2): punctuation
//!   and a second `#` inside it are part of it (`#with,punctuation`,
//!   `#double#rainbow`), and a leading `_`, `-` or `#` is kept (`##tag` is
//!   the tag `#tag`);
//! - it must not begin with U+FE0F (the keycap emoji `#️⃣`) and must hold a
//!   character that is neither an ASCII digit nor punctuation (`#2024` is no
//!   tag, `#1st` is);
//! - trailing punctuation is dropped (`#this!` → `this`);
//! - it is dropped if over 64 in length, both in UTF-16 units and graphemes.

use std::ops::Range;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
use unicode_segmentation::UnicodeSegmentation;

/// Most graphemes in a tag (without `#`).
pub const MAX_TAG: usize = 64;

/// JavaScript's `\s`: WhiteSpace and LineTerminator of ECMA-262, which is
/// Unicode's space separators plus a few controls and U+FEFF, and (unlike
/// Rust's `char::is_whitespace`) not U+0085.
pub(crate) fn js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{B}' | '\u{C}' | '\r' | '\u{FEFF}' | '\u{2028}' | '\u{2029}'
    ) || c.general_category() == unicode_properties::GeneralCategory::SpaceSeparator
}

/// Characters that end a tag: whitespace and the zero-width ones.
fn ends_tag(c: char) -> bool {
    js_space(c)
        || matches!(
            c,
            '\u{AD}' | '\u{2060}' | '\u{200A}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{20E2}'
        )
}

pub(crate) fn is_punctuation(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Punctuation
}

/// Byte ranges of hashtags (including the `#`) and the tag text without `#`,
/// in order.
pub fn hashtags(text: &str) -> Vec<(Range<usize>, String)> {
    let mut out = Vec::new();
    // where the last match (a tag, or a `#` with none) ended: matches never overlap
    let mut resume = 0;
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        let after = prev.replace(c);
        if i < resume || !(c == '#' || c == '＃') || !after.is_none_or(js_space) {
            continue;
        }
        let body_start = i + c.len_utf8();
        let body_end = text[body_start..]
            .find(ends_tag)
            .map_or(text.len(), |k| body_start + k);
        let body = &text[body_start..body_end];
        resume = body_start;
        if body.starts_with('\u{FE0F}')
            || !body
                .chars()
                .any(|c| !c.is_ascii_digit() && !is_punctuation(c))
        {
            continue;
        }
        resume = body_end;
        let tag = body.trim_end_matches(is_punctuation);
        if tag.encode_utf16().count() > MAX_TAG && tag.graphemes(true).count() > MAX_TAG {
            continue;
        }
        out.push((i..body_start + tag.len(), tag.to_string()));
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
