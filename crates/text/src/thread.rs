//! Splitting long text into a numbered thread whose parts each fit a network.

use crate::Counter;
use std::ops::Range;
use unicode_segmentation::UnicodeSegmentation;

/// How good a place to end a part is; lower is better.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Paragraph,
    Sentence,
    Word,
}

/// A run of whitespace that a part may end before.
struct Gap {
    start: usize,
    end: usize,
    level: Level,
}

fn gaps(text: &str) -> Vec<Gap> {
    let mut out: Vec<Gap> = Vec::new();
    for (i, c) in text.char_indices() {
        if !c.is_whitespace() {
            continue;
        }
        match out.last_mut() {
            Some(g) if g.end == i => g.end = i + c.len_utf8(),
            _ => {
                // a sentence ends in .!?… possibly followed by a closing quote or bracket
                let before = text[..i].trim_end_matches(['"', '\'', '”', '’', ')', ']']);
                let level = if before.ends_with(['.', '!', '?', '…']) {
                    Level::Sentence
                } else {
                    Level::Word
                };
                out.push(Gap {
                    start: i,
                    end: i + c.len_utf8(),
                    level,
                });
            }
        }
        if let Some(g) = out.last_mut() {
            let newlines = text[g.start..g.end].matches('\n').count();
            let by_lines = match newlines {
                0 => Level::Word,
                1 => Level::Sentence,
                _ => Level::Paragraph,
            };
            g.level = g.level.min(by_lines);
        }
    }
    // text that starts with whitespace has no part ending before it
    out.retain(|g| g.start > 0);
    out
}

/// Splits `text` into numbered parts, each ending in " i/n", so every part
/// (suffix included) fits every one of `counter`'s limits (Bluesky's
/// graphemes and bytes alike).
///
/// Parts end, in order of preference, at a paragraph break, a sentence end or
/// between words; a better break is used when it keeps at least half of what
/// the best word break would. URLs and hashtags are never split; a single
/// word longer than a whole part is cut between graphemes. Text that fits is
/// returned unchanged as the only part, without numbering.
pub fn split(text: &str, counter: &dyn Counter) -> Vec<String> {
    if counter.fits(text) {
        return vec![text.to_string()];
    }
    // Reserve room for the widest suffix of each digit count until it holds.
    let mut width = 1;
    loop {
        let widest = format!(" {0}/{0}", "9".repeat(width));
        let parts = pack(text, counter, &widest);
        let n = parts.len();
        if n < 10usize.pow(width as u32) || width >= 6 {
            return parts
                .into_iter()
                .enumerate()
                .map(|(i, p)| format!("{p} {}/{n}", i + 1))
                .collect();
        }
        width += 1;
    }
}

/// Greedily fills parts so that `part + suffix` fits.
fn pack(text: &str, counter: &dyn Counter, suffix: &str) -> Vec<String> {
    let fits = |s: &str| counter.fits(&format!("{s}{suffix}"));
    let gaps = gaps(text);
    let protected: Vec<Range<usize>> = crate::urls(text)
        .into_iter()
        .chain(crate::hashtags(text).into_iter().map(|(r, _)| r))
        .collect();
    let mut parts = Vec::new();
    let mut start = text.len() - text.trim_start().len();
    while start < text.len() {
        let rest = text[start..].trim_end();
        if fits(rest) {
            parts.push(rest.to_string());
            break;
        }
        // best fitting break of each level
        let mut best: [Option<usize>; 3] = [None; 3];
        for g in gaps.iter().filter(|g| g.start > start) {
            if !fits(&text[start..g.start]) {
                break;
            }
            for slot in best.iter_mut().skip(g.level as usize) {
                *slot = Some(g.start);
            }
        }
        let end = match best[Level::Word as usize] {
            Some(word) => {
                let full = counter.count(&text[start..word]);
                best.iter()
                    .flatten()
                    .copied()
                    .find(|&e| counter.count(&text[start..e]) * 2 >= full)
                    .unwrap_or(word)
            }
            None => hard_end(text, start, &protected, &fits),
        };
        parts.push(text[start..end].trim_end().to_string());
        start = end + text[end..].len() - text[end..].trim_start().len();
    }
    parts
}

/// End of the longest grapheme-aligned piece of the word at `start` that fits,
/// avoiding cuts inside a URL or hashtag when any other cut fits.
fn hard_end(
    text: &str,
    start: usize,
    protected: &[Range<usize>],
    fits: &dyn Fn(&str) -> bool,
) -> usize {
    let word_end = text[start..]
        .find(char::is_whitespace)
        .map_or(text.len(), |k| start + k);
    let mut any = None;
    let mut clean = None;
    for (off, g) in text[start..word_end].grapheme_indices(true) {
        let end = start + off + g.len();
        if !fits(&text[start..end]) {
            break;
        }
        any = Some(end);
        if !protected.iter().any(|r| r.start < end && end < r.end) {
            clean = Some(end);
        }
    }
    // always make progress, even if a single grapheme cannot fit
    let first = text[start..]
        .graphemes(true)
        .next()
        .map_or(text.len(), |g| start + g.len());
    clean.or(any).unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bluesky::BlueskyCounter;
    use crate::mastodon::MastodonCounter;
    use crate::x::XCounter;

    fn squash(s: &str) -> String {
        s.split_whitespace().collect()
    }

    /// Parts without their " i/n" suffix, after checking the numbering.
    fn bodies(parts: &[String]) -> Vec<String> {
        let n = parts.len();
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let suffix = format!(" {}/{n}", i + 1);
                assert!(p.ends_with(&suffix), "{p:?} should end with {suffix:?}");
                p[..p.len() - suffix.len()].to_string()
            })
            .collect()
    }

    fn check(text: &str, counter: &dyn Counter) -> Vec<String> {
        let parts = split(text, counter);
        for p in &parts {
            assert!(
                counter.fits(p),
                "part too long ({:?}): {p:?}",
                counter.measures(p)
            );
        }
        let bodies = bodies(&parts);
        assert_eq!(
            squash(&bodies.concat()),
            squash(text),
            "text lost or reordered"
        );
        bodies
    }

    #[test]
    fn short_text_is_one_unnumbered_part() {
        assert_eq!(split("Hello, world", &XCounter), ["Hello, world"]);
    }

    #[test]
    fn splits_and_numbers_in_order() {
        let words: Vec<String> = (0..200).map(|i| format!("word{i}")).collect();
        let text = words.join(" ");
        let bodies = check(&text, &XCounter);
        assert!(bodies.len() >= 5);
        assert!(bodies[0].starts_with("word0 word1"));
        assert!(bodies.last().unwrap().ends_with("word199"));
    }

    #[test]
    fn prefers_paragraphs_then_sentences() {
        let para1 = "First paragraph sentence one is here. ".repeat(4);
        let para2 = "Second paragraph goes on for a while. ".repeat(4);
        let text = format!("{}\n\n{}", para1.trim(), para2.trim());
        let bodies = check(&text, &BlueskyCounter);
        assert_eq!(bodies[0], para1.trim());
        let sentences = "One short sentence here. ".repeat(30);
        for b in check(&sentences, &XCounter) {
            assert!(b.ends_with('.'), "{b:?} should end at a sentence");
        }
    }

    #[test]
    fn never_breaks_urls_or_hashtags() {
        let url = "https://www.example.org/safeguarding/training/2024?session=autumn";
        let text = format!(
            "{} {url} #StaySafe {}",
            "filler ".repeat(35),
            "more ".repeat(40)
        );
        let bodies = check(&text, &XCounter);
        assert!(
            bodies.iter().any(|b| b.contains(url)),
            "URL kept whole: {bodies:?}"
        );
        for b in &bodies {
            assert!(
                !b.contains("example.org") || b.contains(url),
                "URL cut: {b:?}"
            );
        }
        assert!(bodies.iter().any(|b| b.contains("#StaySafe")));
    }

    #[test]
    fn hard_splits_an_overlong_word_at_graphemes() {
        let counter = MastodonCounter {
            limit: 20,
            url_length: 23,
        };
        let text = "👨‍👩‍👧‍👦".repeat(40);
        let bodies = check(&text, &counter);
        assert!(bodies.len() >= 3);
        for b in &bodies {
            assert!(
                b.graphemes(true).all(|g| g == "👨‍👩‍👧‍👦"),
                "family emoji cut: {b:?}"
            );
        }
    }

    /// Regression (#9.11): Bluesky also caps a post at 3000 UTF-8 bytes. Text
    /// under 300 graphemes but over 3000 bytes was returned whole, and the PDS
    /// refused it; every part must respect both limits.
    #[test]
    fn bluesky_parts_respect_the_byte_limit_as_well_as_graphemes() {
        use crate::bluesky::{graphemes, MAX_BYTES, MAX_GRAPHEMES};
        let family = "👨‍👩‍👧‍👦";
        // 27 words of 10 family emoji: 296 graphemes, 6776 bytes
        let text = vec![family.repeat(10); 27].join(" ");
        assert!(graphemes(&text) <= MAX_GRAPHEMES && text.len() > MAX_BYTES);
        let parts = split(&text, &BlueskyCounter);
        assert!(parts.len() >= 3, "{} part(s)", parts.len());
        for p in &parts {
            assert!(p.len() <= MAX_BYTES, "part of {} bytes", p.len());
            assert!(BlueskyCounter.measure(p).valid);
        }
        check(&text, &BlueskyCounter);
        // one long word of them is cut between graphemes, still within both limits
        let word = family.repeat(269);
        let parts = split(&word, &BlueskyCounter);
        assert!(parts.len() >= 3);
        for p in bodies(&parts) {
            assert!(p.len() <= MAX_BYTES, "part of {} bytes", p.len());
            assert!(p.graphemes(true).all(|g| g == family), "family emoji cut");
        }
    }

    #[test]
    fn numbering_widens_past_nine_parts() {
        let counter = MastodonCounter {
            limit: 30,
            url_length: 23,
        };
        let text = "abcdefghijklmnop ".repeat(15);
        let parts = split(&text, &counter);
        assert_eq!(parts.len(), 15);
        assert!(parts[14].ends_with(" 15/15"));
        check(&text, &counter);
    }
}
