//! Bluesky: 300 graphemes (and 3000 UTF-8 bytes), and rich-text facets with
//! UTF-8 byte offsets, detected the way the official app's `detectFacets` does.
//!
//! - Links: `http(s)://` up to the next whitespace, or a bare `name.tld...`
//!   whose TLD is real (stored as `https://...`). They start the text or
//!   follow whitespace or `(`. One trailing `.,;:!?` is dropped, and a `)`
//!   when the link has no `(`.
//! - Mentions: `@handle.tld` after start, whitespace or `(`. The DID must be
//!   resolved by the caller, so facets carry the handle and `did: None`.
//! - Tags: see [`crate::hashtags`], a port of the app's tag rules, tested
//!   against the reference's own cases.

use crate::tld::is_tld;
use crate::{Counter, Measure};
use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

/// Most graphemes in a post.
pub const MAX_GRAPHEMES: usize = 300;
/// Most UTF-8 bytes in a post.
pub const MAX_BYTES: usize = 3000;

/// Number of extended grapheme clusters, Bluesky's unit of length.
pub fn graphemes(text: &str) -> usize {
    text.graphemes(true).count()
}

/// Counts graphemes (at most 300) and UTF-8 bytes (at most 3000): the
/// `maxGraphemes` and `maxLength` of `app.bsky.feed.post`'s `text`. A post
/// must be within both.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlueskyCounter;

impl Counter for BlueskyCounter {
    fn count(&self, text: &str) -> usize {
        graphemes(text)
    }
    fn limit(&self) -> usize {
        MAX_GRAPHEMES
    }
    fn unit(&self) -> &'static str {
        "graphemes"
    }
    fn measures(&self, text: &str) -> Vec<Measure> {
        vec![
            Measure {
                unit: "graphemes",
                length: graphemes(text),
                limit: MAX_GRAPHEMES,
            },
            Measure {
                unit: "UTF-8 bytes",
                length: text.len(),
                limit: MAX_BYTES,
            },
        ]
    }
}

/// A rich-text annotation over `text[byte_start..byte_end]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facet {
    /// UTF-8 byte offset of the first byte.
    pub byte_start: usize,
    /// UTF-8 byte offset just past the last byte.
    pub byte_end: usize,
    /// What the span is.
    pub feature: Feature,
}

/// The kind of a [`Facet`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Feature {
    /// A link to `uri`.
    Link {
        /// Full URI (bare domains get `https://`).
        uri: String,
    },
    /// A hashtag; `tag` has no `#`.
    Tag {
        /// Tag text without `#`.
        tag: String,
    },
    /// A mention of `handle` (without `@`); `did` is filled in by the caller.
    Mention {
        /// The handle as written, without `@`.
        handle: String,
        /// The resolved DID, once known.
        did: Option<String>,
    },
}

/// True where a link or mention may begin: start, after whitespace or `(`.
fn may_start(text: &str, i: usize) -> bool {
    text[..i]
        .chars()
        .next_back()
        .is_none_or(|p| p.is_whitespace() || p == '(')
}

/// Bluesky compares against a lower-case TLD list, case-sensitively.
fn valid_domain(domain: &str) -> bool {
    domain
        .rsplit_once('.')
        .is_some_and(|(_, tld)| tld.chars().all(|c| !c.is_ascii_uppercase()) && is_tld(tld))
}

fn non_space_end(text: &str, i: usize) -> usize {
    text[i..]
        .find(char::is_whitespace)
        .map_or(text.len(), |k| i + k)
}

/// A bare domain at the start of `s`: `[a-z][a-z0-9]*(\.[a-z0-9]+)+`, any case.
fn bare_domain_len(s: &str) -> usize {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return 0;
    }
    let mut i = 1;
    let alnum = |i: usize| b.get(i).is_some_and(u8::is_ascii_alphanumeric);
    while alnum(i) {
        i += 1;
    }
    let mut end = 0;
    while b.get(i) == Some(&b'.') && alnum(i + 1) {
        i += 1;
        while alnum(i) {
            i += 1;
        }
        end = i;
    }
    end
}

/// A link match at `i`: where scanning resumes, and the facet unless the
/// match was rejected (a bare domain with an unknown TLD).
fn link_at(text: &str, i: usize) -> Option<(usize, Option<Facet>)> {
    let rest = &text[i..];
    let lower = rest.get(..8).unwrap_or(rest).to_ascii_lowercase();
    let proto = ["https://", "http://"]
        .into_iter()
        .find(|p| lower.starts_with(p));
    let end = non_space_end(text, i);
    let mut uri = match proto {
        Some(p) if end > i + p.len() => text[i..end].to_string(),
        _ => {
            let d = bare_domain_len(rest);
            if d == 0 {
                return None;
            }
            if !valid_domain(&rest[..d]) {
                // the app skips the whole match
                return Some((end, None));
            }
            format!("https://{}", &text[i..end])
        }
    };
    let mut stop = end;
    if uri.ends_with(['.', ',', ';', ':', '!', '?']) {
        uri.pop();
        stop -= 1;
    }
    if uri.ends_with(')') && !uri.contains('(') {
        uri.pop();
        stop -= 1;
    }
    Some((
        end,
        Some(Facet {
            byte_start: i,
            byte_end: stop,
            feature: Feature::Link { uri },
        }),
    ))
}

fn links(text: &str) -> Vec<Facet> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if may_start(text, i) {
            if let Some((next, facet)) = link_at(text, i) {
                out.extend(facet);
                i = next;
                continue;
            }
        }
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
    out
}

fn mentions(text: &str) -> Vec<Facet> {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = text.as_bytes();
    let mut out = Vec::new();
    for (at, _) in text.match_indices('@') {
        if !may_start(text, at) {
            continue;
        }
        let start = at + 1;
        let run = start
            + b[start..]
                .iter()
                .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
                .count();
        // back off to a word boundary, as the app's `\b` does
        let boundary = |e: usize| word(b[e - 1]) != b.get(e).is_some_and(|&c| word(c));
        let Some(end) = (start + 1..=run).rev().find(|&e| boundary(e)) else {
            continue;
        };
        let handle = &text[start..end];
        if valid_domain(handle) || handle.ends_with(".test") {
            out.push(Facet {
                byte_start: at,
                byte_end: end,
                feature: Feature::Mention {
                    handle: handle.to_string(),
                    did: None,
                },
            });
        }
    }
    out
}

/// Facets of `text`, sorted by offset and never overlapping (links win,
/// then mentions, then tags).
pub fn facets(text: &str) -> Vec<Facet> {
    let tags = crate::hashtags(text).into_iter().map(|(r, tag)| Facet {
        byte_start: r.start,
        byte_end: r.end,
        feature: Feature::Tag { tag },
    });
    let mut out: Vec<Facet> = Vec::new();
    for f in links(text).into_iter().chain(mentions(text)).chain(tags) {
        if out
            .iter()
            .all(|o| f.byte_end <= o.byte_start || f.byte_start >= o.byte_end)
        {
            out.push(f);
        }
    }
    out.sort_by_key(|f| f.byte_start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grapheme_counts() {
        assert_eq!(graphemes("ŵ"), 1, "Welsh w-circumflex");
        assert_eq!(
            graphemes("w\u{302}"),
            1,
            "decomposed w + circumflex is still one"
        );
        assert_eq!(graphemes("مرحبا"), 5, "Arabic");
        assert_eq!(graphemes("你好世界"), 4, "Chinese");
        assert_eq!(graphemes("👨‍👩‍👧‍👦"), 1, "family ZWJ sequence");
        assert_eq!(graphemes("🇬🇧"), 1, "flag");
        assert_eq!(graphemes("🏴󠁧󠁢󠁷󠁬󠁳󠁿"), 1, "Welsh flag tag sequence");
        assert_eq!(graphemes("Croeso 👋🏽!"), 9);
    }

    #[test]
    fn byte_limit() {
        // a family emoji is one grapheme but 25 bytes: 200 of them break the byte cap
        let family = "👨‍👩‍👧‍👦";
        assert_eq!(family.len(), 25);
        assert!(!BlueskyCounter.measure(&family.repeat(200)).valid);
        assert!(BlueskyCounter.measure(&family.repeat(120)).valid);
    }

    /// Regression (#9.11): 269 family emoji are 269 graphemes (under 300)
    /// but 6725 UTF-8 bytes, over the 3000 the PDS accepts.
    #[test]
    fn family_emoji_under_300_graphemes_are_over_3000_bytes() {
        let text = "👨‍👩‍👧‍👦".repeat(269);
        let counter = crate::counter_for("bluesky", None).unwrap();
        assert_eq!(counter.count(&text), 269);
        assert!(!counter.measure(&text).valid);
        assert!(!counter.fits(&text));
        let bytes = counter.measures(&text)[1];
        assert_eq!(
            (bytes.unit, bytes.length, bytes.limit),
            ("UTF-8 bytes", 6725, 3000)
        );
        assert_eq!(bytes.over(), 3725);
        assert!(
            crate::thread::split(&text, counter.as_ref())
                .iter()
                .all(|p| p.len() <= MAX_BYTES),
            "thread parts must fit the byte limit"
        );
    }

    #[test]
    fn facet_offsets_after_multibyte_text() {
        let text = "Dŵr 👨‍👩‍👧‍👦 café: https://example.org/ŵ, #Diogelu @alice.bsky.social gov.uk/help.";
        let f = facets(text);
        assert_eq!(f.len(), 4, "{f:?}");
        // "Dŵr " = 5 bytes, family = 25, " café: " = 8
        assert_eq!((f[0].byte_start, f[0].byte_end), (38, 60));
        assert_eq!(&text.as_bytes()[38..60], "https://example.org/ŵ".as_bytes());
        assert_eq!(
            f[0].feature,
            Feature::Link {
                uri: "https://example.org/ŵ".into()
            }
        );
        assert_eq!((f[1].byte_start, f[1].byte_end), (62, 70));
        assert_eq!(&text.as_bytes()[62..70], b"#Diogelu");
        assert_eq!(
            f[1].feature,
            Feature::Tag {
                tag: "Diogelu".into()
            }
        );
        assert_eq!((f[2].byte_start, f[2].byte_end), (71, 89));
        assert_eq!(&text.as_bytes()[71..89], b"@alice.bsky.social");
        assert_eq!(
            f[2].feature,
            Feature::Mention {
                handle: "alice.bsky.social".into(),
                did: None
            }
        );
        assert_eq!(&text[f[3].byte_start..f[3].byte_end], "gov.uk/help");
        assert_eq!(
            f[3].feature,
            Feature::Link {
                uri: "https://gov.uk/help".into()
            }
        );
    }

    /// One row per text: the tag facets the reference client finds, as
    /// (tag, byteStart, byteEnd).
    type TagCases = &'static [(&'static str, &'static [(&'static str, usize, usize)])];

    /// The reference's own cases: @atproto/api
    /// `packages/api/tests/rich-text-detection.test.ts`, "correctly detects
    /// tags inline" (every row, in its order).
    const REFERENCE_TAGS: TagCases = &[
        ("#a", &[("a", 0, 2)]),
        ("#a #b", &[("a", 0, 2), ("b", 3, 5)]),
        ("#1", &[]),
        ("#1a", &[("1a", 0, 3)]),
        ("#tag", &[("tag", 0, 4)]),
        ("body #tag", &[("tag", 5, 9)]),
        ("#tag body", &[("tag", 0, 4)]),
        ("body #tag body", &[("tag", 5, 9)]),
        ("body #1", &[]),
        ("body #1a", &[("1a", 5, 8)]),
        ("body #a1", &[("a1", 5, 8)]),
        ("#", &[]),
        ("#?", &[]),
        ("text #", &[]),
        ("text # text", &[]),
        (
            "body #thisisa64characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            &[(
                "thisisa64characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                5,
                70,
            )],
        ),
        (
            "body #thisisa65characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
            &[],
        ),
        (
            "body #thisisa64characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
            &[(
                "thisisa64characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                5,
                70,
            )],
        ),
        ("its a #double#rainbow", &[("double#rainbow", 6, 21)]),
        ("##hashash", &[("#hashash", 0, 9)]),
        ("##", &[]),
        ("some #n0n3s@n5e!", &[("n0n3s@n5e", 5, 15)]),
        ("works #with,punctuation", &[("with,punctuation", 6, 23)]),
        (
            "strips trailing #punctuation, #like. #this!",
            &[("punctuation", 16, 28), ("like", 30, 35), ("this", 37, 42)],
        ),
        ("strips #multi_trailing___...", &[("multi_trailing", 7, 22)]),
        (
            "works with #🦋 emoji, and #butter🦋fly",
            &[("🦋", 11, 16), ("butter🦋fly", 28, 42)],
        ),
        (
            "#same #same #but #diff",
            &[
                ("same", 0, 5),
                ("same", 6, 11),
                ("but", 12, 16),
                ("diff", 17, 22),
            ],
        ),
        ("this #\u{FE0F}\u{20E3}tag should not be a tag", &[]),
        (
            "this ##\u{FE0F}\u{20E3}tag should be a tag",
            &[("#\u{FE0F}\u{20E3}tag", 5, 16)],
        ),
        ("this #t\nag should be a tag", &[("t", 5, 7)]),
        ("no match (\\u200B): #\u{200B}", &[]),
        ("no match (\\u200Ba): #\u{200B}a", &[]),
        ("match (a\\u200Bb): #a\u{200B}b", &[("a", 18, 20)]),
        ("match (ab\\u200B): #ab\u{200B}", &[("ab", 18, 21)]),
        ("no match (\\u20e2tag): #\u{20E2}tag", &[]),
        ("no match (a\\u20e2b): #a\u{20E2}b", &[("a", 21, 23)]),
        (
            "match full width number sign (tag): ＃tag",
            &[("tag", 36, 42)],
        ),
        (
            "match full width number sign (tag): ＃#\u{FE0F}\u{20E3}tag",
            &[("#\u{FE0F}\u{20E3}tag", 36, 49)],
        ),
        ("no match 1?: #1?", &[]),
    ];

    /// Further edge cases, their answers taken from the reference's
    /// `detectFacets` run under node: leading `_`/`-`, all digits and
    /// punctuation, what may precede `#` (JavaScript's `\s`, which has
    /// U+FEFF but not U+0085), what ends a tag, fullwidth `＃`.
    const MORE_TAGS: TagCases = &[
        ("#_underscore", &[("_underscore", 0, 12)]),
        ("#-dash", &[("-dash", 0, 6)]),
        ("#_", &[]),
        ("#-", &[]),
        ("#__init__", &[("__init", 0, 7)]),
        ("#1_", &[]),
        ("#2024!", &[]),
        ("#1st", &[("1st", 0, 4)]),
        ("a#b", &[]),
        ("(#paren)", &[]),
        (
            "#SafeguardingWeek, and #diogel!",
            &[("SafeguardingWeek", 0, 17), ("diogel", 23, 30)],
        ),
        (
            "x\u{A0}#nbsp \u{FEFF}#bom \u{85}#nel",
            &[("nbsp", 3, 8), ("bom", 12, 16)],
        ),
        ("#tag\u{FEFF}end", &[("tag", 0, 4)]),
        ("#tag\u{85}end", &[("tag\u{85}end", 0, 9)]),
        ("#tag\u{3000}x", &[("tag", 0, 4)]),
        (
            "\t#tab\n#newline\r#cr",
            &[("tab", 1, 5), ("newline", 6, 14), ("cr", 15, 18)],
        ),
        ("＃＃fullwidth", &[("＃fullwidth", 0, 15)]),
        ("＃", &[]),
        ("#¡hola!", &[("¡hola", 0, 7)]),
        ("#ça_va?!", &[("ça_va", 0, 7)]),
        ("#a-b-c-", &[("a-b-c", 0, 6)]),
        ("#tag…", &[("tag", 0, 4)]),
        ("#日本語 #한국어", &[("日本語", 0, 10), ("한국어", 11, 21)]),
        ("#1?a", &[("1?a", 0, 4)]),
        ("#\u{FE0F}tag", &[]),
        ("#tag\u{FE0F}", &[("tag\u{FE0F}", 0, 7)]),
        ("#a\u{2060}b", &[("a", 0, 2)]),
        ("#a\u{AD}b", &[("a", 0, 2)]),
        ("#a\u{200C}b", &[("a", 0, 2)]),
        ("#a\u{200D}b", &[("a", 0, 2)]),
        ("#x\u{200A}b", &[("x", 0, 2)]),
    ];

    /// Regression (#9.15): a post's tag facets must be exactly those the
    /// Bluesky app's own detection finds. Links and mentions are not in these
    /// texts, so every facet found must be one of the expected tags.
    #[test]
    fn tag_facets_match_the_reference_detection() {
        let owned = |rows: TagCases| {
            rows.iter()
                .map(|(text, tags)| {
                    let tags = tags
                        .iter()
                        .map(|&(t, s, e)| (t.to_string(), s, e))
                        .collect();
                    (text.to_string(), tags)
                })
                .collect::<Vec<(String, Vec<(String, usize, usize)>)>>()
        };
        let mut cases = owned(REFERENCE_TAGS);
        cases.extend(owned(MORE_TAGS));
        // the 64 limit is on graphemes (a tag over 64 UTF-16 units but within
        // 64 graphemes is kept), checked against the reference too
        for (unit, bytes) in [("👍", 4), ("é", 2), ("e\u{301}", 3)] {
            let tag = unit.repeat(64);
            cases.push((format!("#{tag}"), vec![(tag.clone(), 0, 1 + 64 * bytes)]));
            cases.push((format!("#{tag}{unit}"), vec![]));
        }
        let mut wrong = Vec::new();
        for (text, want) in &cases {
            let got: Vec<(String, usize, usize)> = facets(text)
                .into_iter()
                .map(|f| match f.feature {
                    Feature::Tag { tag } => (tag, f.byte_start, f.byte_end),
                    other => (format!("not a tag: {other:?}"), f.byte_start, f.byte_end),
                })
                .collect();
            if &got != want {
                wrong.push(format!(
                    "{text:?}\n   reference {want:?}\n   crier     {got:?}"
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of {} differ from the reference:\n{}",
            wrong.len(),
            cases.len(),
            wrong.join("\n")
        );
    }

    #[test]
    fn not_facets() {
        assert!(facets("file.txt and bob@example.org and #123 and @nobody").is_empty());
        let f = facets("(see https://example.org/x)");
        assert_eq!(
            f[0].feature,
            Feature::Link {
                uri: "https://example.org/x".into()
            }
        );
    }
}
