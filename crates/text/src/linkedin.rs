//! LinkedIn post commentary in the "little" text format: reserved characters
//! are backslash-escaped and hashtags become `{hashtag|\#|tag}` templates.
//!
//! Length: LinkedIn caps commentary at 3000 characters of the text as shown,
//! i.e. before escaping. We count UTF-16 code units of the unescaped text:
//! the API is Java-based, and UTF-16 never counts fewer than code points,
//! so a post we accept is accepted under either reading.

use crate::hashtags::hashtags;
use crate::Counter;

/// Most characters in commentary.
pub const MAX_LENGTH: usize = 3000;
const RESERVED: &str = "\\|{}@[]()<>#*_~";

/// Counts UTF-16 units of the unescaped commentary; the limit is 3000.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkedInCounter;

impl Counter for LinkedInCounter {
    fn count(&self, text: &str) -> usize {
        text.encode_utf16().count()
    }
    fn limit(&self) -> usize {
        MAX_LENGTH
    }
    fn unit(&self) -> &'static str {
        "UTF-16 characters"
    }
}

/// Escapes every reserved character of the little format.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if RESERVED.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Converts plain text to little format. Hashtags become templates; a tag
/// is cut at the first character LinkedIn would not keep in a tag (anything
/// but letters, digits and `_`), and the rest stays plain, escaped text.
pub fn to_little(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    for (range, tag) in hashtags(text) {
        let keep = tag
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(tag.len());
        let name = &tag[..keep];
        if name.is_empty() || name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        out.push_str(&escape(&text[last..range.start]));
        out.push_str("{hashtag|\\#|");
        out.push_str(&escape(name));
        out.push('}');
        last = range.end - (tag.len() - keep);
    }
    out.push_str(&escape(&text[last..]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_reserved_characters() {
        assert_eq!(
            to_little(r"Call (01234) <now> * [info] {x} a|b ~ \ @team"),
            r"Call \(01234\) \<now\> \* \[info\] \{x\} a\|b \~ \\ \@team"
        );
        assert_eq!(to_little("plain: ŵ, 中文, 👋"), "plain: ŵ, 中文, 👋");
    }

    #[test]
    fn hashtags_use_templates() {
        assert_eq!(
            to_little("Join #SafeguardingWeek!"),
            r"Join {hashtag|\#|SafeguardingWeek}!"
        );
        // the tag text is escaped like any other text
        assert_eq!(to_little("#one_two's day"), r"{hashtag|\#|one\_two}'s day");
        assert_eq!(
            to_little("#diogelwch #2024"),
            r"{hashtag|\#|diogelwch} \#2024"
        );
        assert_eq!(to_little("snake_case a#b"), r"snake\_case a\#b");
    }

    #[test]
    fn length_counts_unescaped_text() {
        assert_eq!(LinkedInCounter.count("(a)"), 3);
        assert_eq!(LinkedInCounter.count("😷"), 2);
        assert!(LinkedInCounter.measure(&"a".repeat(3000)).valid);
        assert!(!LinkedInCounter.measure(&"a".repeat(3001)).valid);
    }
}
