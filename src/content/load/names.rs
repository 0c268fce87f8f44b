//! The names an entry refers to: channels must be defined in
//! `channels.toml`, hashtags must be ones a network links.

use toml::Spanned;

use super::Context;
use crate::diagnostics::{Report, SourceFile};

/// The names defined in `channels.toml`; each other one is an error.
pub(super) fn check_channels(
    src: &SourceFile,
    names: &[Spanned<String>],
    ctx: &Context,
    report: &mut Report,
) -> Vec<String> {
    let mut out = Vec::new();
    for n in names {
        if ctx.channels.contains(n.get_ref()) {
            out.push(n.get_ref().clone());
        } else {
            let known: Vec<&str> = ctx.channels.iter().map(String::as_str).collect();
            report.error(
                src.span(&n.span()),
                format!(
                    "unknown channel `{}` (channels.toml defines: {})",
                    n.get_ref(),
                    known.join(", ")
                ),
            );
        }
    }
    out
}

/// The hashtags without their '#'; each malformed one is an error.
pub(super) fn check_hashtags(
    src: &SourceFile,
    tags: &[Spanned<String>],
    report: &mut Report,
) -> Vec<String> {
    let mut out = Vec::new();
    for t in tags {
        let tag = t.get_ref().trim_start_matches('#');
        if tag.is_empty() || !tag.chars().all(|c| c.is_alphanumeric() || c == '_') {
            report.error(
                src.span(&t.span()),
                format!(
                    "hashtag `{}` may hold only letters, digits and '_'",
                    t.get_ref()
                ),
            );
        } else if tag.chars().all(|c| c.is_ascii_digit()) {
            report.error(
                src.span(&t.span()),
                format!("hashtag `{tag}` cannot be only digits"),
            );
        } else {
            out.push(tag.to_string());
        }
    }
    out
}
