//! Emoji sequences as twitter-text (via twemoji's pattern) sees them: one
//! pictograph with its modifiers, a flag, a keycap, a tag sequence or a whole
//! ZWJ family. X weighs each such sequence as one double-width character.

use unicode_properties::UnicodeEmoji;

const ZWJ: char = '\u{200D}';
const VS16: char = '\u{FE0F}';
const KEYCAP: char = '\u{20E3}';

fn is_regional(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

fn is_modifier(c: char) -> bool {
    ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

fn is_tag(c: char) -> bool {
    ('\u{E0020}'..='\u{E007F}').contains(&c)
}

/// A base pictograph. ASCII keycap bases are handled apart; `©` and `®`
/// are ordinary Latin-1 text unless VS16 asks for emoji presentation.
fn is_base(c: char, next: Option<char>) -> bool {
    if c.is_ascii() {
        return false;
    }
    if matches!(c, '\u{A9}' | '\u{AE}') {
        return next == Some(VS16);
    }
    c.is_emoji_char() && c != ZWJ && !is_tag(c)
}

/// Byte length of the emoji sequence at the start of `s`, if there is one.
pub(crate) fn emoji_len(s: &str) -> Option<usize> {
    let cs: Vec<(usize, char)> = s.char_indices().take(64).collect();
    let at = |i: usize| cs.get(i).map(|&(_, c)| c);
    let end = |i: usize| cs.get(i).map_or(s.len(), |&(b, _)| b);
    let first = at(0)?;
    // keycap: [0-9#*] VS16? U+20E3
    if first.is_ascii_digit() || first == '#' || first == '*' {
        let k = if at(1) == Some(VS16) { 2 } else { 1 };
        return (at(k) == Some(KEYCAP)).then(|| end(k + 1));
    }
    if is_regional(first) {
        return Some(if at(1).is_some_and(is_regional) {
            end(2)
        } else {
            end(1)
        });
    }
    if !is_base(first, at(1)) {
        return None;
    }
    let mut i = 1;
    loop {
        // presentation selector and/or skin tone, then any tag sequence (subdivision flags)
        while at(i).is_some_and(|c| c == VS16 || is_modifier(c) || c == KEYCAP) {
            i += 1;
        }
        while at(i).is_some_and(is_tag) {
            i += 1;
        }
        // a ZWJ joins only when another pictograph follows it
        match (at(i), at(i + 1)) {
            (Some(ZWJ), Some(next)) if is_base(next, at(i + 2)) => i += 2,
            _ => return Some(end(i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::emoji_len;

    #[test]
    fn sequences() {
        let family = "👨‍👩‍👧‍👦";
        assert_eq!(emoji_len(&format!("{family}x")), Some(family.len()));
        assert_eq!(emoji_len("🙋🏽!"), Some("🙋🏽".len()));
        assert_eq!(emoji_len("1⃣"), Some("1⃣".len()));
        assert_eq!(emoji_len("🇬🇧🇫🇷"), Some("🇬🇧".len()));
        let wales = "🏴󠁧󠁢󠁷󠁬󠁳󠁿";
        assert_eq!(emoji_len(wales), Some(wales.len()));
        assert_eq!(emoji_len("❤️ x"), Some("❤️".len()));
    }

    #[test]
    fn not_emoji() {
        assert_eq!(emoji_len("1"), None);
        assert_eq!(emoji_len("©"), None);
        assert_eq!(emoji_len("a😷"), None);
        assert_eq!(emoji_len("\u{200D}"), None);
    }
}
