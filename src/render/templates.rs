//! Handlebars templates in `templates/`.
//!
//! A template is named by its path without `.hbs`: `mastodon/event.txt`.
//! `.html` templates are rendered with HTML escaping, `.txt` and `.subject`
//! ones without (a social post must not show `&amp;`). Both registries run
//! in strict mode, so a template that names a missing field is an error at
//! `crier check` time, never an empty string at send time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use handlebars::Handlebars;
use sha2::{Digest, Sha256};

use crate::diagnostics::{Location, Report};

/// What a channel asks the templates for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Subject,
    Text,
    Html,
}

impl Output {
    pub fn suffix(self) -> &'static str {
        match self {
            Output::Subject => "subject",
            Output::Text => "txt",
            Output::Html => "html",
        }
    }
}

pub struct Templates {
    dir: PathBuf,
    html: Handlebars<'static>,
    text: Handlebars<'static>,
    /// Each template's source, hashed: what a variant was rendered from
    /// (`Templates::digest`), so a change re-renders only its users.
    digests: HashMap<String, [u8; 32]>,
    /// Every partial's source, hashed together: any template may include any.
    partial_sources: Sha256,
    partials: [u8; 32],
}

/// A failed render, located in the template.
#[derive(Debug, Clone)]
pub struct RenderFailure {
    pub location: Location,
    pub message: String,
}

impl Templates {
    /// Loads every `*.hbs` under `dir`; syntax errors are reported with
    /// file, line and column, and the rest still load.
    pub fn load(dir: &Path, report: &mut Report) -> Templates {
        let mut t = Templates {
            dir: dir.to_path_buf(),
            html: registry(true),
            text: registry(false),
            digests: HashMap::new(),
            partial_sources: Sha256::new(),
            partials: [0; 32],
        };
        let mut files = Vec::new();
        if let Err(e) = walk(dir, &mut files) {
            report.error(
                Location::Path {
                    path: dir.to_path_buf(),
                },
                format!("cannot read the templates folder: {e}"),
            );
        }
        files.sort();
        for path in files {
            t.add(&path, report);
        }
        t.partials = t.partial_sources.clone().finalize().into();
        t
    }

    fn add(&mut self, path: &Path, report: &mut Report) {
        let Some(name) = template_name(&self.dir, path) else {
            return;
        };
        let source = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                report.error(
                    Location::Path {
                        path: path.to_path_buf(),
                    },
                    format!("cannot read: {e}"),
                );
                return;
            }
        };
        let digest: [u8; 32] = Sha256::digest(source.as_bytes()).into();
        if name.starts_with("partials/") {
            self.partial_sources.update(name.as_bytes());
            self.partial_sources.update(digest);
        }
        self.digests.insert(name.clone(), digest);
        let result = if let Some(partial) = name.strip_prefix("partials/") {
            self.html
                .register_partial(partial, source.as_str())
                .and_then(|_| self.text.register_partial(partial, source.as_str()))
        } else if name.ends_with(".html") {
            self.html.register_template_string(&name, source)
        } else {
            self.text.register_template_string(&name, source)
        };
        if let Err(e) = result {
            let (line, column) = e.pos().unwrap_or((1, 1));
            report.error(
                Location::File {
                    path: path.to_path_buf(),
                    line,
                    column,
                },
                format!("template syntax: {}", e.reason()),
            );
        }
    }

    /// The first template that exists among `candidates`.
    pub fn find<'a>(&self, candidates: &'a [String]) -> Option<&'a str> {
        candidates
            .iter()
            .find(|c| self.registry_for(c).has_template(c))
            .map(String::as_str)
    }

    /// What rendering template `name` depends on: its source and every
    /// partial's (files load in sorted order, so the same folder gives the
    /// same digest).
    pub fn digest(&self, name: &str, into: &mut Sha256) {
        into.update(name.as_bytes());
        into.update(self.digests.get(name).copied().unwrap_or_default());
        into.update(self.partials);
    }

    pub fn render(&self, name: &str, data: &serde_json::Value) -> Result<String, RenderFailure> {
        self.registry_for(name).render(name, data).map_err(|e| {
            let template = e.template_name.clone().unwrap_or_else(|| name.to_string());
            let path = self.path_of(&template);
            RenderFailure {
                location: Location::File {
                    path,
                    line: e.line_no.unwrap_or(1),
                    column: e.column_no.unwrap_or(1),
                },
                message: e.reason().to_string(),
            }
        })
    }

    fn registry_for(&self, name: &str) -> &Handlebars<'static> {
        if name.ends_with(".html") {
            &self.html
        } else {
            &self.text
        }
    }

    fn path_of(&self, template: &str) -> PathBuf {
        if self.registry_for(template).has_template(template) {
            self.dir.join(format!("{template}.hbs"))
        } else {
            self.dir.join("partials").join(format!("{template}.hbs"))
        }
    }
}

fn registry(escape_html: bool) -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    if !escape_html {
        h.register_escape_fn(handlebars::no_escape);
    }
    h
}

fn template_name(dir: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(dir).ok()?;
    let s = rel.to_str()?.replace('\\', "/");
    s.strip_suffix(".hbs").map(str::to_string)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "hbs") {
            out.push(path);
        }
    }
    Ok(())
}
