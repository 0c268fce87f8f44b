//! X (Twitter) weighted length, per twitter-text's v3 configuration.
//!
//! Text is NFC-normalised first. Each URL weighs 23 characters, each emoji
//! sequence 2, code points in the "narrow" ranges 1, everything else 2. Ranges
//! in [`XParseResult`] are UTF-16 indices into the original (unnormalised)
//! text, as twitter-text reports them.

use crate::emoji::emoji_len;
use crate::urls::{extract, is_invalid};
use crate::Counter;
use unicode_normalization::UnicodeNormalization;

/// Maximum weighted length of a post.
pub const MAX_WEIGHTED_LENGTH: usize = 280;
/// Weighted length of any URL (its t.co form).
pub const URL_LENGTH: usize = 23;
const SCALE: usize = 100;
const DEFAULT_WEIGHT: usize = 200;
const NARROW: [(u32, u32); 4] = [(0, 4351), (8192, 8205), (8208, 8223), (8242, 8247)];

/// twitter-text's `parseTweet` result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct XParseResult {
    /// Length in X's weighted characters.
    pub weighted_length: usize,
    /// Non-empty, within 280 and free of invalid characters (U+FFFE, U+FEFF, U+FFFF).
    pub valid: bool,
    /// `weighted_length / 280` in thousandths, rounded down.
    pub permillage: usize,
    /// Inclusive UTF-16 range of the whole text.
    pub display_range: (usize, usize),
    /// Inclusive UTF-16 range of the part that fits.
    pub valid_range: (usize, usize),
}

fn weight(c: char) -> usize {
    let cp = u32::from(c);
    if NARROW.iter().any(|&(lo, hi)| (lo..=hi).contains(&cp)) {
        SCALE
    } else {
        DEFAULT_WEIGHT
    }
}

/// Parses `text` exactly as twitter-text's `parseTweet` does with the v3 config.
pub fn parse(text: &str) -> XParseResult {
    let norm: String = text.nfc().collect();
    let urls = extract(&norm);
    let mut next_url = urls.iter().peekable();
    let (mut weighted, mut valid) = (0usize, true);
    let (mut pos, mut idx16, mut valid_end16) = (0usize, 0usize, 0usize);
    while pos < norm.len() {
        // Each step consumes one unit: a URL, an emoji sequence or one code point.
        let (len, w) = match next_url.peek() {
            Some(u) if u.range.start == pos => {
                let len = u.range.len();
                next_url.next();
                (len, URL_LENGTH * SCALE)
            }
            _ => match emoji_len(&norm[pos..]) {
                Some(len) => (len, DEFAULT_WEIGHT),
                None => {
                    let c = norm[pos..].chars().next().unwrap_or_default();
                    (c.len_utf8(), weight(c))
                }
            },
        };
        let unit = &norm[pos..pos + len];
        weighted += w;
        idx16 += unit.encode_utf16().count();
        // twitter-text checks only the last code unit of each step
        if valid && unit.chars().next_back().is_some_and(is_invalid) {
            valid = false;
        }
        if valid && weighted <= MAX_WEIGHTED_LENGTH * SCALE {
            valid_end16 = idx16 - 1;
        }
        pos += len;
    }
    let weighted_length = weighted / SCALE;
    let len16 = text.encode_utf16().count();
    XParseResult {
        weighted_length,
        valid: valid && weighted_length > 0 && weighted_length <= MAX_WEIGHTED_LENGTH,
        permillage: weighted_length * 1000 / MAX_WEIGHTED_LENGTH,
        display_range: (0, len16.saturating_sub(1)),
        // shift back to the caller's text; NFC can shorten or (rarely) lengthen it
        valid_range: (0, (valid_end16 + len16).saturating_sub(idx16)),
    }
}

/// Counts X's weighted characters; the limit is 280.
#[derive(Debug, Clone, Copy, Default)]
pub struct XCounter;

impl Counter for XCounter {
    fn count(&self, text: &str) -> usize {
        parse(text).weighted_length
    }
    fn limit(&self) -> usize {
        MAX_WEIGHTED_LENGTH
    }
    fn unit(&self) -> &'static str {
        "weighted characters"
    }
    fn acceptable(&self, text: &str) -> bool {
        !text.nfc().any(is_invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights() {
        assert_eq!(parse("hello").weighted_length, 5);
        assert_eq!(
            parse("ŵ").weighted_length,
            1,
            "Welsh w-circumflex is in the narrow range"
        );
        assert_eq!(parse("中文").weighted_length, 4);
        assert_eq!(parse("👨‍👩‍👧‍👦").weighted_length, 2);
        assert_eq!(
            parse("read https://example.org/a-very/long/path/indeed/yes").weighted_length,
            5 + 23
        );
        assert_eq!(
            parse("e\u{301}").weighted_length,
            1,
            "NFC turns e + accent into é"
        );
        // U+0958 is one of the few chars NFC expands (to two); must not panic
        assert_eq!(parse("\u{958}").weighted_length, 2);
    }

    #[test]
    fn validity_and_ranges() {
        assert!(!parse("").valid);
        assert!(!parse("a\u{FEFF}").valid);
        let long = "x".repeat(281);
        let r = parse(&long);
        assert!(!r.valid);
        assert_eq!(r.valid_range, (0, 279));
        assert_eq!(r.display_range, (0, 280));
        assert_eq!(r.permillage, 1003);
        assert!(parse(&"x".repeat(280)).valid);
        assert!(!XCounter.measure("a\u{FFFF}").valid);
    }
}
