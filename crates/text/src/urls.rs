//! URL detection following twitter-text's extractor (v3), which X uses for
//! counting and Mastodon reuses (with the protocol required).
//!
//! The rules, rewritten as a hand-made scanner rather than one large regex:
//! a URL starts at the beginning of the text or after a character that is not
//! `[A-Za-z0-9@＠$#＃]`; it is an optional `http(s)://`, a host whose last label
//! is a real TLD, an optional `:port`, path and query. Paths and queries may
//! not end in punctuation such as `.` `,` `!` or `)` unless the parenthesis
//! balances. Without a protocol only ASCII host names count, not when glued to
//! `-_./`. Hosts with a label longer than 63 bytes after Punycode do not count.

use crate::punycode::ascii_label_len;
use crate::tld::is_tld;
use std::ops::Range;

/// A URL found by [`extract`], as a byte range of the scanned text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub range: Range<usize>,
    pub has_protocol: bool,
}

/// Byte ranges of the URLs in `text`, with or without `http(s)://`, as X's
/// twitter-text finds them. Mastodon counts the ones with a protocol.
pub fn urls(text: &str) -> Vec<Range<usize>> {
    extract(text).into_iter().map(|f| f.range).collect()
}

const MAX_URL_LENGTH: usize = 4096;
const MAX_LABEL_LENGTH: usize = 63;
const MAX_TCO_SLUG: usize = 40;

fn is_space(c: char) -> bool {
    matches!(c, '\u{9}'..='\u{D}' | ' ' | '\u{85}' | '\u{A0}' | '\u{1680}' | '\u{180E}'
        | '\u{2000}'..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}')
}

pub(crate) fn is_invalid(c: char) -> bool {
    matches!(c, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}')
}

fn is_directional(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2066}'..='\u{2069}')
}

/// twitter-text's punctuation set (it leaves out `"` and `` ` ``, so do we).
fn is_punct(c: char) -> bool {
    "!'#%&()*+,\\-./:;<=>?@[]^_{|}~$".contains(c)
}

fn is_domain_char(c: char) -> bool {
    !(is_punct(c) || is_space(c) || is_invalid(c) || is_directional(c))
}

fn is_latin_accent(c: char) -> bool {
    matches!(c, '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{24F}' | '\u{253}' | '\u{254}'
        | '\u{256}' | '\u{257}' | '\u{259}' | '\u{25B}' | '\u{263}' | '\u{268}' | '\u{26F}' | '\u{272}'
        | '\u{289}' | '\u{28B}' | '\u{2BB}' | '\u{300}'..='\u{36F}' | '\u{1E00}'..='\u{1EFF}')
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!*';:=+,.$/%#[]-_~|&@\u{2013}".contains(c)
        || ('\u{400}'..='\u{4FF}').contains(&c)
        || is_latin_accent(c)
}

fn is_path_end(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "+-=_#/".contains(c)
        || ('\u{400}'..='\u{4FF}').contains(&c)
        || is_latin_accent(c)
}

fn is_query_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!?*'@();:&=+$/%#[]-_.,~|".contains(c)
}

fn is_query_end(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_&=#/".contains(c)
}

fn char_at(s: &str, i: usize) -> Option<char> {
    s.get(i..).and_then(|r| r.chars().next())
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// End of the maximal run starting at `i` of chars satisfying `f`.
fn run(s: &str, i: usize, f: impl Fn(char) -> bool) -> usize {
    s[i..]
        .char_indices()
        .find(|&(_, c)| !f(c))
        .map_or(s.len(), |(j, _)| i + j)
}

/// After a TLD the next char must not be `[A-Za-z0-9@+-]`.
fn tld_may_end(s: &str, i: usize) -> bool {
    char_at(s, i).is_none_or(|c| !(c.is_ascii_alphanumeric() || "@+-".contains(c)))
}

/// A TLD starting at `i`; returns its end. Like the regex alternation, an
/// internationalised TLD may be followed by more non-ASCII letters.
fn tld_at(s: &str, i: usize) -> Option<usize> {
    let rest = &s[i..];
    if rest.len() > 4 && rest.as_bytes()[..4].eq_ignore_ascii_case(b"xn--") {
        let end = run(s, i + 4, |c| c.is_ascii_alphanumeric() || c == '-');
        if end > i + 4 {
            return Some(end);
        }
    }
    let ascii_end = run(s, i, |c| c.is_ascii_alphanumeric());
    if ascii_end > i {
        return (tld_may_end(s, ascii_end) && is_tld(&s[i..ascii_end])).then_some(ascii_end);
    }
    let idn_end = run(s, i, |c| !c.is_ascii() && is_domain_char(c));
    if !tld_may_end(s, idn_end) {
        return None;
    }
    // longest first; real TLDs are short, so only look at the first few chars
    let ends: Vec<usize> = s[i..idn_end]
        .char_indices()
        .skip(1)
        .map(|(k, _)| i + k)
        .chain([idn_end])
        .take(24)
        .collect();
    ends.into_iter().rev().find(|&e| is_tld(&s[i..e]))
}

/// Labels that end in a dot, starting at `i`: each entry is (start, end) of a
/// label, with `s[end] == '.'`. Labels are runs of `label_char`.
fn dotted_labels(s: &str, i: usize, label_char: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
    let mut labels = Vec::new();
    let mut start = i;
    loop {
        let end = run(s, start, &label_char);
        if char_at(s, end) != Some('.') {
            return labels;
        }
        labels.push((start, end));
        start = end + 1;
    }
}

/// The host at `i` (full twitter-text rules, any script); returns its end.
/// The most subdomains that still leave a valid name + TLD win, as in a greedy regex.
fn domain_at(s: &str, i: usize) -> Option<usize> {
    let labels = dotted_labels(s, i, |c| is_domain_char(c) || c == '-' || c == '_');
    let edges_ok = |&(a, b): &(usize, usize)| {
        b > a
            && is_domain_char(char_at(s, a).unwrap_or('.'))
            && is_domain_char(s[a..b].chars().next_back().unwrap_or('.'))
    };
    for n in (1..=labels.len()).rev() {
        let (name_start, name_end) = labels[n - 1];
        let name_ok = edges_ok(&labels[n - 1]) && !s[name_start..name_end].contains('_');
        if name_ok && labels[..n - 1].iter().all(edges_ok) {
            if let Some(end) = tld_at(s, name_end + 1) {
                return Some(end);
            }
        }
    }
    None
}

/// An ASCII host at `i` (used when there is no protocol); returns its end.
fn ascii_domain_at(s: &str, i: usize) -> Option<usize> {
    let mut labels = dotted_labels(s, i, |c| {
        c.is_ascii_alphanumeric() || c == '-' || is_latin_accent(c)
    });
    // an empty label (`..`) ends the usable run
    if let Some(k) = labels.iter().position(|&(a, b)| a == b) {
        labels.truncate(k);
    }
    (1..=labels.len())
        .rev()
        .find_map(|n| tld_at(s, labels[n - 1].1 + 1))
}

/// All ASCII hosts inside `s`, scanned left to right without overlap.
fn ascii_domains(s: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if let Some(end) = ascii_domain_at(s, i) {
            out.push(i..end);
            i = end;
        } else {
            i += char_at(s, i).map_or(1, char::len_utf8);
        }
    }
    out
}

/// Path after a `/` at `i`: the longest run of path chars (and balanced
/// parentheses) that ends in an allowed final char.
fn path_end(s: &str, i: usize) -> usize {
    let (mut pos, mut good) = (i, i);
    while let Some(c) = char_at(s, pos) {
        if c == '(' {
            match parens_end(s, pos) {
                Some(e) => {
                    pos = e;
                    good = e;
                }
                None => break,
            }
        } else if is_path_char(c) {
            pos += c.len_utf8();
            if is_path_end(c) {
                good = pos;
            }
        } else {
            break;
        }
    }
    good
}

/// `(x)` or `(x(y)z)` with path chars inside; returns the end after `)`.
fn parens_end(s: &str, open: usize) -> Option<usize> {
    let inner = open + 1;
    let e = run(s, inner, is_path_char);
    match char_at(s, e)? {
        ')' if e > inner => Some(e + 1),
        '(' => {
            let e2 = run(s, e + 1, is_path_char);
            if e2 == e + 1 || char_at(s, e2)? != ')' {
                return None;
            }
            let e3 = run(s, e2 + 1, is_path_char);
            (char_at(s, e3)? == ')').then_some(e3 + 1)
        }
        _ => None,
    }
}

/// Query after `?` at `q`; returns the end, or `q` (no query) if nothing valid.
fn query_end(s: &str, q: usize) -> usize {
    let (mut pos, mut good) = (q + 1, q);
    while let Some(c) = char_at(s, pos).filter(|&c| is_query_char(c)) {
        pos += c.len_utf8();
        if is_query_end(c) {
            good = pos;
        }
    }
    good
}

fn protocol_len(s: &str) -> Option<usize> {
    ["https://", "http://"]
        .iter()
        .find(|p| s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
        .map(|p| p.len())
}

/// What the big regex would match at `start` before the extra checks.
struct Candidate {
    end: usize,
    protocol: usize,
    domain: Range<usize>,
    has_path: bool,
}

fn candidate_at(s: &str, start: usize) -> Option<Candidate> {
    let with_proto = protocol_len(&s[start..]).map(|p| start + p);
    for dstart in with_proto.into_iter().chain([start]) {
        let Some(dend) = domain_at(s, dstart) else {
            continue;
        };
        let mut end = dend;
        if char_at(s, end) == Some(':') {
            let port_end = run(s, end + 1, |c| c.is_ascii_digit());
            if port_end > end + 1 {
                end = port_end;
            }
        }
        let has_path = char_at(s, end) == Some('/');
        if has_path {
            end = path_end(s, end + 1);
        }
        if char_at(s, end) == Some('?') {
            end = query_end(s, end);
        }
        return Some(Candidate {
            end,
            protocol: dstart - start,
            domain: dstart..dend,
            has_path,
        });
    }
    None
}

/// twitter-text's final check: each label at most 63 bytes once Punycoded,
/// no mixed `xn--` hosts, and the whole URL at most 4096 long.
fn valid_host(url: &str, protocol_len: usize, domain: &str) -> bool {
    if domain.starts_with("xn--") && ascii_domains(domain).is_empty() {
        return false;
    }
    let mut ascii_len = 0;
    for label in domain.split('.') {
        match ascii_label_len(label) {
            Some(n) if (1..=MAX_LABEL_LENGTH).contains(&n) => ascii_len += n + 1,
            _ => return false,
        }
    }
    let ascii_len = ascii_len - 1;
    let proto = if protocol_len == 0 {
        "https://".len()
    } else {
        protocol_len
    };
    utf16_len(url) + ascii_len - utf16_len(domain) + proto <= MAX_URL_LENGTH
}

/// t.co links may carry only an alphanumeric slug (at most 40) and a query.
fn tco_end(s: &str, c: &Candidate, start: usize) -> Option<Option<usize>> {
    let host = &s[c.domain.clone()];
    if !host.eq_ignore_ascii_case("t.co") || char_at(s, c.domain.end) != Some('/') {
        return Some(None);
    }
    let slug_start = c.domain.end + 1;
    let slug_end = run(s, slug_start, |c| c.is_ascii_alphanumeric());
    if slug_end == slug_start {
        return Some(None);
    }
    if slug_end - slug_start > MAX_TCO_SLUG {
        return None;
    }
    let mut end = slug_end;
    if char_at(s, end) == Some('?') {
        end = query_end(s, end);
    }
    debug_assert!(end > start);
    Some(Some(end))
}

/// Every URL twitter-text finds in `s`.
pub(crate) fn extract(s: &str) -> Vec<Found> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < s.len() {
        let prev = s[..pos].chars().next_back();
        let may_start = prev
            .is_none_or(|p| !("@＠$#＃".contains(p) || p.is_ascii_alphanumeric() || is_invalid(p)));
        let cand = if may_start {
            candidate_at(s, pos)
        } else {
            None
        };
        let Some(c) = cand else {
            pos += char_at(s, pos).map_or(1, char::len_utf8);
            continue;
        };
        let url = &s[pos..c.end];
        let domain = &s[c.domain.clone()];
        if valid_host(url, c.protocol, domain) {
            if c.protocol == 0 {
                if !prev.is_some_and(|p| "-_./".contains(p)) {
                    let hosts = ascii_domains(domain);
                    let last = hosts.len().saturating_sub(1);
                    for (k, h) in hosts.into_iter().enumerate() {
                        let start = c.domain.start + h.start;
                        let end = if k == last && c.has_path {
                            c.end
                        } else {
                            c.domain.start + h.end
                        };
                        out.push(Found {
                            range: start..end,
                            has_protocol: false,
                        });
                    }
                }
            } else if let Some(tco) = tco_end(s, &c, pos) {
                out.push(Found {
                    range: pos..tco.unwrap_or(c.end),
                    has_protocol: true,
                });
            }
        }
        // The regex consumes one more char as the next URL's preceding char.
        pos = c.end + char_at(s, c.end).map_or(0, char::len_utf8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        urls(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn protocol_and_bare_hosts() {
        assert_eq!(
            found("Hi http://test.co and test.co"),
            ["http://test.co", "test.co"]
        );
        assert_eq!(
            found("foo.baz foo.co.jp foo.comm foo.jp"),
            ["foo.co.jp", "foo.jp"]
        );
        assert_eq!(
            found("see https://example.org/a/b."),
            ["https://example.org/a/b"]
        );
    }

    #[test]
    fn trailing_punctuation_and_parens() {
        assert_eq!(
            found("(https://en.wikipedia.org/wiki/Foo_(bar)), ok"),
            ["https://en.wikipedia.org/wiki/Foo_(bar)"]
        );
        assert_eq!(
            found("(see https://example.com/x)"),
            ["https://example.com/x"]
        );
        assert_eq!(
            found("go http://foo.com?#foo text"),
            ["http://foo.com?#foo"]
        );
    }

    #[test]
    fn rejects_emails_long_labels_and_glued_hosts() {
        assert!(found("mail name@foo.com").is_empty());
        assert!(found(&format!("{}.com", "a".repeat(64))).is_empty());
        assert_eq!(found(&format!("{}.com", "a".repeat(63))).len(), 1);
        assert!(found("http://domain.com-that-is-wrong").is_empty());
    }

    #[test]
    fn non_latin_text_around_urls() {
        assert_eq!(
            found("これは日本語です。example.com中国語t.co/abcde한국"),
            ["example.com", "t.co/abcde"]
        );
        assert_eq!(found("Croeso i www.gov.wales heddiw"), ["www.gov.wales"]);
    }
}
