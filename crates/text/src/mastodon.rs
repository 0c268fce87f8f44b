//! Mastodon's status length: grapheme clusters, with every http(s) URL
//! counted as `characters_reserved_per_url` and a remote mention
//! `@user@host.tld` counted as its local part `@user`.

use crate::urls::extract;
use crate::Counter;
use unicode_segmentation::UnicodeSegmentation;

/// Default instance limit (`max_characters`).
pub const DEFAULT_LIMIT: usize = 500;
/// Default `characters_reserved_per_url`.
pub const DEFAULT_URL_LENGTH: usize = 23;

/// Counts like a Mastodon instance with the given configuration.
#[derive(Debug, Clone, Copy)]
pub struct MastodonCounter {
    /// The instance's `max_characters`.
    pub limit: usize,
    /// The instance's `characters_reserved_per_url`.
    pub url_length: usize,
}

impl Default for MastodonCounter {
    fn default() -> Self {
        MastodonCounter {
            limit: DEFAULT_LIMIT,
            url_length: DEFAULT_URL_LENGTH,
        }
    }
}

impl MastodonCounter {
    /// Length of a status with a content warning: Mastodon counts both together.
    pub fn count_with_spoiler(&self, text: &str, spoiler_text: &str) -> usize {
        length(text, self.url_length) + spoiler_text.graphemes(true).count()
    }
}

impl Counter for MastodonCounter {
    fn count(&self, text: &str) -> usize {
        length(text, self.url_length)
    }
    fn limit(&self) -> usize {
        self.limit
    }
    fn unit(&self) -> &'static str {
        "graphemes"
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Rewrites `@user@host` to `@user`, as Mastodon does before counting.
/// A mention starts after a non-word, non-`/` char; the user is
/// `[a-z0-9_]` with inner `.`/`-`; the host ends in a word char.
fn local_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut prev: Option<char> = None;
    while let Some(at) = rest.find('@') {
        let before = &rest[..at];
        let p = before.chars().next_back().or(prev);
        out.push_str(before);
        let after = &rest[at + 1..];
        let user_len = mention_user_len(after);
        let starts_ok = p.is_none_or(|p| !is_word(p) && p != '/');
        if starts_ok && user_len > 0 && after[user_len..].starts_with('@') {
            let host = &after[user_len + 1..];
            let host_len = host
                .find(|c: char| !(is_word(c) || c == '.' || c == '-'))
                .unwrap_or(host.len());
            let host_len = host[..host_len].trim_end_matches(['.', '-']).len();
            if host_len > 0 {
                out.push('@');
                out.push_str(&after[..user_len]);
                prev = host[..host_len].chars().next_back();
                rest = &host[host_len..];
                continue;
            }
        }
        out.push('@');
        prev = Some('@');
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Length of the username at the start of `s`: `[a-z0-9_]+` with `.`/`-` only inside.
fn mention_user_len(s: &str) -> usize {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let run = s
        .find(|c: char| !(ok(c) || c == '.' || c == '-'))
        .unwrap_or(s.len());
    let trimmed = s[..run].trim_end_matches(['.', '-']);
    if trimmed.starts_with(ok) {
        trimmed.len()
    } else {
        0
    }
}

/// Mastodon's length of `text` with URLs counted as `url_length`.
pub fn length(text: &str, url_length: usize) -> usize {
    let mut countable = String::with_capacity(text.len());
    let mut last = 0;
    let mut urls = 0;
    for u in extract(text).into_iter().filter(|u| u.has_protocol) {
        countable.push_str(&text[last..u.range.start]);
        // a placeholder keeps neighbouring graphemes apart as the URL did
        countable.push('x');
        urls += 1;
        last = u.range.end;
    }
    countable.push_str(&text[last..]);
    local_mentions(&countable).graphemes(true).count() - urls + urls * url_length
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_count_fixed_length() {
        let short = "see https://a.co";
        let long = "see https://www.example.org/some/very/long/path/that/goes/on/and/on?with=query";
        assert_eq!(length(short, 23), 4 + 23);
        assert_eq!(length(long, 23), 4 + 23);
        assert_eq!(length(long, 30), 4 + 30);
        // Mastodon needs the protocol; a bare domain is plain text
        assert_eq!(length("example.org", 23), 11);
    }

    #[test]
    fn remote_mentions_count_local_part() {
        assert_eq!(
            length("hi @alice@social.example.org!", 23),
            "hi @alice!".len()
        );
        assert_eq!(length("@bob", 23), 4);
        assert_eq!(
            length("mail bob@example.org", 23),
            20,
            "an email is not a mention"
        );
    }

    #[test]
    fn graphemes_and_spoiler() {
        assert_eq!(length("👨‍👩‍👧‍👦 ŵ", 23), 3);
        let c = MastodonCounter::default();
        assert_eq!(c.count_with_spoiler("body", "CW: abuse"), 4 + 9);
        let small = MastodonCounter {
            limit: 5,
            url_length: 23,
        };
        assert!(small.measure("12345").valid);
        assert!(!small.measure("123456").valid);
    }
}
