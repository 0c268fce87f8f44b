//! [`Rendered`]: what the templates made for one (item, channel), before the
//! channel shapes it (see `channels::shape`).

use super::Output;

/// Template outputs for one (item, channel), tidied.
#[derive(Debug, Default, Clone)]
pub struct Rendered {
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
}

impl Rendered {
    /// Keeps one template's output: plain text tidied, HTML only trimmed
    /// (its whitespace may matter inside `<pre>`).
    pub fn put(&mut self, output: Output, text: &str) {
        match output {
            Output::Subject => self.subject = Some(tidy(text)),
            Output::Text => self.text = Some(tidy(text)),
            Output::Html => self.html = Some(text.trim().to_string()),
        }
    }
}

/// Plain text from a template: no trailing spaces, at most one blank line
/// in a row (a false `{{#if}}` leaves empty lines), nothing at the ends.
fn tidy(text: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in text.trim().lines().map(str::trim_end) {
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tidy_collapses_blank_runs_and_trailing_space() {
        assert_eq!(super::tidy("\n a  \n\n\n\nb \n\n"), "a\n\nb");
    }
}
