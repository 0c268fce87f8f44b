//! Reads `campaigns/*.toml`. Each file holds `[[item]]` entries, or a
//! `[campaign]` with `[[post]]` entries that inherit its hashtags, channels,
//! topics and cadence, or both. Every entry is read on its own so one bad
//! entry never hides the problems of the next.
//!
//! Here: folders, files and their tables. `item.rs` makes an entry an item,
//! `details.rs` checks the fields of one kind, `campaign.rs` reads a
//! campaign and its cadence, `times.rs` the times entries write, and
//! `names.rs` the channels and hashtags they name; `files.rs` keeps what
//! each file gave, so a reload parses only the files that changed.

mod campaign;
mod details;
mod files;
mod item;
mod names;
mod times;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::{Item, Origin};
use crate::diagnostics::{Location, Report, SourceFile};
use campaign::{read_campaign, Campaign};
pub use files::Files;
use files::Text;
use item::{build_item, RawItem};

/// What content needs to know about its surroundings.
pub struct Context<'a> {
    pub timezone: Tz,
    pub language: &'a str,
    pub channels: &'a BTreeSet<String>,
}

/// Files to read as if they were on disk with this text (`None`: as if
/// removed): a save is checked with the edited file in place before it is
/// written. Keys are `dir.join(file name)`.
#[derive(Debug, Default, Clone)]
pub struct Overlay(pub BTreeMap<PathBuf, Option<String>>);

/// Loads every `*.toml` under `dir` (sorted, so output is stable).
pub fn load_dir(dir: &Path, ctx: &Context, overlay: &Overlay, report: &mut Report) -> Vec<Item> {
    load_dir_reusing(dir, ctx, overlay, &Files::default(), report).0
}

/// `load_dir`, reusing from `previous` each file whose text did not change
/// (`files.rs`), on every core; also returns what each file gave, for the
/// next load to reuse.
pub fn load_dir_reusing(
    dir: &Path,
    ctx: &Context,
    overlay: &Overlay,
    previous: &Files,
    report: &mut Report,
) -> (Vec<Item>, Files) {
    let Some(mut files) = toml_files(dir, report) else {
        return (Vec::new(), Files::default());
    };
    files.extend(
        overlay
            .0
            .keys()
            .filter(|p| !files.contains(p))
            .cloned()
            .collect::<Vec<_>>(),
    );
    files.sort();
    let paths = files
        .into_iter()
        .filter_map(|path| match overlay.0.get(&path) {
            Some(Some(text)) => Some((path, Text::Given(text.clone()))),
            Some(None) => None,
            None => Some((path, Text::Disk)),
        })
        .collect();
    let (kept, order) = files::load(paths, ctx, previous, report);
    let mut items: Vec<Item> = Vec::with_capacity(order.iter().map(|f| f.items.len()).sum());
    for file in &order {
        items.extend(file.items.iter().cloned());
    }
    drop_duplicate_ids(&mut items, report);
    (items, kept)
}

/// The `*.toml` files in `dir`, sorted; `None` if the folder cannot be read.
fn toml_files(dir: &Path, report: &mut Report) -> Option<Vec<PathBuf>> {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            report.error(
                Location::Path {
                    path: dir.to_path_buf(),
                },
                format!("cannot read the campaigns folder: {e}"),
            );
            return None;
        }
    };
    files.sort();
    Some(files)
}

/// Keeps the first item with each id; a later one is an error naming it.
fn drop_duplicate_ids(items: &mut Vec<Item>, report: &mut Report) {
    let mut seen: HashMap<String, Origin> = HashMap::new();
    items.retain(|item: &Item| match seen.get(&item.id) {
        Some(first) => {
            report.error(
                origin_location(&item.origin),
                format!(
                    "duplicate item id `{}` (first used at {}:{}:{})",
                    item.id,
                    first.path.display(),
                    first.line,
                    first.column
                ),
            );
            false
        }
        None => {
            seen.insert(item.id.clone(), item.origin.clone());
            true
        }
    });
}

fn origin_location(o: &Origin) -> Location {
    Location::File {
        path: o.path.clone(),
        line: o.line,
        column: o.column,
    }
}

/// An `[[item]]` (false) or `[[post]]` (true) entry, not yet read.
type RawEntry<'i> = (bool, Spanned<DeValue<'i>>);

/// Parses one file; entries with errors are reported and left out.
pub fn load_file(src: &SourceFile, ctx: &Context, report: &mut Report) -> Vec<Item> {
    let doc = match DeTable::parse(&src.text) {
        Ok(d) => d.into_inner(),
        Err(e) => {
            let (loc, msg) = src.toml_error(&e);
            report.error(loc, msg);
            return Vec::new();
        }
    };
    let (campaign, entries) = read_tables(src, doc, ctx, report);
    let mut items = Vec::new();
    let mut undated = 0usize;
    for (is_post, value) in entries {
        let span = value.span();
        let version = toml::Value::deserialize(ValueDeserializer::from(value.clone()))
            .map(|v| super::version::entry_version(&v))
            .unwrap_or_default();
        let Some(raw) = deserialize_entry::<RawItem>(src, value, report) else {
            continue;
        };
        let parent = if is_post { campaign.as_ref() } else { None };
        if is_post && campaign.is_none() {
            report.error(
                src.span(&span),
                "[[post]] entries need a [campaign] table in the same file",
            );
            continue;
        }
        let undated_index = if raw.is_undated() && parent.is_some() {
            undated += 1;
            Some(undated - 1)
        } else {
            None
        };
        items.extend(build_item(
            src,
            raw,
            parent,
            undated_index,
            &version,
            ctx,
            report,
        ));
    }
    items
}

/// The file's `[campaign]`, read at once, and its entries, in order.
fn read_tables<'i>(
    src: &SourceFile,
    doc: DeTable<'i>,
    ctx: &Context,
    report: &mut Report,
) -> (Option<Campaign>, Vec<RawEntry<'i>>) {
    let mut campaign: Option<Campaign> = None;
    let mut entries: Vec<RawEntry> = Vec::new();
    for (key, value) in doc {
        match key.get_ref().as_ref() {
            "campaign" => campaign = read_campaign(src, value, ctx, report),
            name @ ("item" | "post") => match value.into_inner() {
                DeValue::Array(array) => {
                    entries.extend(array.into_iter().map(|v| (name == "post", v)))
                }
                _ => report.error(
                    src.span(&key.span()),
                    format!("`{name}` must be an array of tables: write [[{name}]]"),
                ),
            },
            other => report.error(
                src.span(&key.span()),
                format!("unknown table `{other}` (expected [[item]], [campaign] or [[post]])"),
            ),
        }
    }
    (campaign, entries)
}

/// Reads a table into `T`; a problem is reported at its place in the file.
fn deserialize_entry<T: DeserializeOwned>(
    src: &SourceFile,
    value: Spanned<DeValue>,
    report: &mut Report,
) -> Option<T> {
    let span = value.span();
    match T::deserialize(ValueDeserializer::from(value)) {
        Ok(r) => Some(r),
        Err(e) => {
            let loc = e.span().map_or_else(|| src.span(&span), |s| src.span(&s));
            report.error(loc, e.message().trim().to_string());
            None
        }
    }
}
