//! Problems found in configuration, templates and content.
//!
//! `crier check` reports *all* problems, so loaders push into a [`Report`]
//! and keep going instead of returning at the first error. Every problem
//! says where it is: a file position, a template position, or the item and
//! channel it concerns.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// Worth knowing, never a failure (e.g. a secret not set on this machine).
    Note,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "at", rename_all = "lowercase")]
pub enum Location {
    /// A position in a file; line and column are 1-based, columns count characters.
    File {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    /// A file as a whole (e.g. it could not be read).
    Path { path: PathBuf },
    /// An item, optionally as rendered for one channel.
    Item {
        item: String,
        channel: Option<String>,
    },
    /// A channel's configuration.
    Channel { channel: String },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path, line, column } => {
                write!(f, "{}:{line}:{column}", path.display())
            }
            Location::Path { path } => write!(f, "{}", path.display()),
            Location::Item {
                item,
                channel: Some(c),
            } => write!(f, "item `{item}` on channel `{c}`"),
            Location::Item {
                item,
                channel: None,
            } => write!(f, "item `{item}`"),
            Location::Channel { channel } => write!(f, "channel `{channel}`"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        write!(f, "{}: {sev}: {}", self.location, self.message)
    }
}

/// Everything found in one pass, in the order it was found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn error(&mut self, location: Location, message: impl Into<String>) {
        self.push(Severity::Error, location, message);
    }

    pub fn warning(&mut self, location: Location, message: impl Into<String>) {
        self.push(Severity::Warning, location, message);
    }

    pub fn push(&mut self, severity: Severity, location: Location, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            severity,
            location,
            message: message.into(),
        });
    }

    pub fn extend(&mut self, other: Report) {
        self.diagnostics.extend(other.diagnostics);
    }

    pub fn error_count(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warning_count(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// `--strict`: warnings become errors.
    pub fn promote_warnings(&mut self) {
        for d in &mut self.diagnostics {
            if d.severity == Severity::Warning {
                d.severity = Severity::Error;
            }
        }
    }
}

/// A file's text kept for turning byte spans into line and column.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl AsRef<Path>, text: String) -> Self {
        SourceFile {
            path: path.as_ref().to_path_buf(),
            text,
        }
    }

    /// The location of a byte offset; offsets past the end clamp to the end.
    pub fn at(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location::File {
            path: self.path.clone(),
            line,
            column,
        }
    }

    pub fn span(&self, span: &Range<usize>) -> Location {
        self.at(span.start)
    }

    /// Where a TOML parse or deserialize error points, or the file itself.
    pub fn toml_error(&self, err: &toml::de::Error) -> (Location, String) {
        let loc = err
            .span()
            .map(|s| self.at(s.start))
            .unwrap_or_else(|| Location::Path {
                path: self.path.clone(),
            });
        (loc, err.message().trim().to_string())
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_one_based_line_and_character_column() {
        let f = SourceFile::new("a.toml", "x = 1\ny = \"é\" z\n".to_string());
        let z = f.text.find('z').unwrap();
        assert_eq!(f.at(z).to_string(), "a.toml:2:9");
        assert_eq!(f.at(0).to_string(), "a.toml:1:1");
    }
}
