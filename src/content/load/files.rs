//! Each campaign file as last loaded, so a reload parses again only the
//! files whose text changed: an edit of one file among a thousand parses
//! one. Loading is a function of the file's path, its text and the
//! [`Context`] only (no clock, no other file), so equal inputs give equal
//! items and diagnostics; ids duplicated across files are judged after.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{load_file, Context};
use crate::content::Item;
use crate::diagnostics::{Diagnostic, Location, Report, SourceFile};

/// Files read per worker task: a file is a whole TOML parse.
const FILES_PER_TASK: usize = 4;

/// What loading each file gave, by path.
#[derive(Debug, Default)]
pub struct Files {
    by_path: HashMap<PathBuf, Arc<Loaded>>,
    /// How many of them this load parsed rather than reused.
    parsed: usize,
}

/// One file's items and the problems found reading it.
#[derive(Debug)]
pub struct Loaded {
    /// The context's and the text's SHA-256: equal means equal items.
    digest: [u8; 32],
    pub items: Vec<Item>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Files {
    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// How many files this load parsed: the rest were reused.
    pub fn parsed(&self) -> usize {
        self.parsed
    }
}

/// Where a file's text comes from: disk, or a save being checked.
pub enum Text {
    Disk,
    Given(String),
}

/// Loads `paths` on every core, reusing from `previous` each file whose
/// text and context are unchanged. Returns the files by path (with how
/// many were parsed, not reused) and in `paths` order.
pub fn load(
    paths: Vec<(PathBuf, Text)>,
    ctx: &Context,
    previous: &Files,
    report: &mut Report,
) -> (Files, Vec<Arc<Loaded>>) {
    let context = context_digest(ctx);
    let loaded = crate::parallel::map(&paths, FILES_PER_TASK, |(path, text)| {
        one(path, text, &context, ctx, previous)
    });
    let mut files = Files::default();
    let mut order = Vec::new();
    for ((path, _), result) in paths.into_iter().zip(loaded) {
        match result {
            Ok((file, fresh)) => {
                files.parsed += usize::from(fresh);
                report.diagnostics.extend(file.diagnostics.iter().cloned());
                files.by_path.insert(path, file.clone());
                order.push(file);
            }
            Err(e) => report.error(Location::Path { path }, format!("cannot read: {e}")),
        }
    }
    (files, order)
}

/// One file, reused (`false`) or parsed (`true`).
fn one(
    path: &Path,
    text: &Text,
    context: &[u8; 32],
    ctx: &Context,
    previous: &Files,
) -> std::io::Result<(Arc<Loaded>, bool)> {
    let text = match text {
        Text::Given(t) => t.clone(),
        Text::Disk => std::fs::read_to_string(path)?,
    };
    let digest: [u8; 32] = Sha256::new_with_prefix(context)
        .chain_update(text.as_bytes())
        .finalize()
        .into();
    if let Some(was) = previous.by_path.get(path).filter(|f| f.digest == digest) {
        return Ok((was.clone(), false));
    }
    let mut found = Report::default();
    let items = load_file(&SourceFile::new(path, text), ctx, &mut found);
    let loaded = Loaded {
        digest,
        items,
        diagnostics: found.diagnostics,
    };
    Ok((Arc::new(loaded), true))
}

/// Everything besides the text that loading reads.
fn context_digest(ctx: &Context) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(ctx.timezone.name().as_bytes());
    h.update([0]);
    h.update(ctx.language.as_bytes());
    for name in ctx.channels {
        h.update([0]);
        h.update(name.as_bytes());
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests;
