//! Finding hashtags whose words run together in lower case (#nomoreknives),
//! which a screen reader reads as one unknown word.
//!
//! A tag is flagged when it has no capitals, is not itself a known word,
//! and splits entirely into two or more known words. The vocabulary is
//! small and common; `[lint] single_word_hashtags` exempts a tag.

const WORDS: &str = "
a about above abuse access act action adult adults after against age agency aid alcohol all
alone also always an and anti any app are area areas arts as ask at aware awareness away
baby back bank be being best better big birth board body book booking boys brave break brief
briefing bully bullying but by call calm care carer carers case change check child children
choice choose city clear come community concern consent contact council country course courses
crime cyber danger day days do domestic down drug drugs each early east education end equal
every exploitation face fact fair family families fast fear feel find first five focus for
forward free friend friends from fun future get girls give go good great group grow guide hand
happy harm hate have he health hear help here home hope how hub i if in info is it its just
keep key kid kids kind knife knives know last lead learn learning less let life line link
lives live local lock long look love make many matter matters me mental mind minute minutes
month more most much must my need neglect net new news next night no north not notice now of
off on one online only open or our out over own parent parents part partner partners partnership
people place plan play police post practice protect protection quiet read ready real report
reports respect review right risk road room run safe safeguarding safely safer safety say school
schools see seven share she sign smart so social some speak stand start stay step stop story
street strong support sure take talk team teen teens tell thank that the their them these they
think this time to today together too train training trust truth us use voice wait walk want
watch way we week weeks well west what when where who why will with work world year years yes
you young your youth zero";

fn is_word(w: &str) -> bool {
    WORDS.split_whitespace().any(|x| x == w)
}

/// The fewest known words that make up `tag`, if there is a split.
fn split_words(tag: &str) -> Option<Vec<&str>> {
    let n = tag.len();
    // best[i]: fewest words covering tag[..i], with where the last word starts
    let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1];
    best[0] = Some((0, 0));
    for end in 1..=n {
        for start in 0..end {
            let (Some((count, _)), true) = (
                best[start],
                tag.is_char_boundary(start) && tag.is_char_boundary(end),
            ) else {
                continue;
            };
            if is_word(&tag[start..end]) && best[end].is_none_or(|(c, _)| count + 1 < c) {
                best[end] = Some((count + 1, start));
            }
        }
    }
    best[n]?;
    let mut words = Vec::new();
    let mut end = n;
    while end > 0 {
        let (_, start) = best[end]?;
        words.push(&tag[start..end]);
        end = start;
    }
    words.reverse();
    Some(words)
}

/// Hashtags in `text` that need CamelCase, without the '#'.
pub fn unreadable(text: &str, single_words: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in hashtags(text) {
        let lower = tag.to_lowercase();
        let flagged = tag == lower
            && !is_word(&lower)
            && !single_words
                .iter()
                .any(|w| w.trim_start_matches('#').eq_ignore_ascii_case(tag))
            && split_words(&lower).is_some_and(|w| w.len() >= 2);
        if flagged && !out.iter().any(|t| t == tag) {
            out.push(tag.to_string());
        }
    }
    out
}

/// `nomoreknives` → `NoMoreKnives`.
pub fn suggest(tag: &str) -> String {
    split_words(&tag.to_lowercase())
        .unwrap_or_default()
        .iter()
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
        })
        .collect()
}

fn hashtags(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '#' && !prev.is_some_and(|p| p.is_alphanumeric() || p == '&') {
            let rest = &text[i + 1..];
            let end = rest
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            if end > 0 {
                out.push(&rest[..end]);
            }
        }
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_together_lower_case_tags_are_flagged() {
        assert_eq!(
            unreadable("Join us #nomoreknives today", &[]),
            vec!["nomoreknives"]
        );
        assert_eq!(suggest("nomoreknives"), "NoMoreKnives");
    }

    #[test]
    fn camel_case_single_words_and_exemptions_pass() {
        assert!(unreadable("#NoMoreKnives #safeguarding #news", &[]).is_empty());
        assert!(unreadable("#staysafe", &["staysafe".into()]).is_empty());
        // not made of known words: crier cannot tell, so it stays quiet
        assert!(unreadable("#nlmars", &[]).is_empty());
        // an anchor in a URL is not a hashtag
        assert!(unreadable("https://example.org/page#nomoreknives", &[]).is_empty());
    }
}
