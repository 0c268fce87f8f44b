//! Saving items into the campaign files people also edit by hand and keep
//! in git: one entry changed in place (`toml_edit`), the file's other
//! entries, comments and layout kept; written atomically (a temporary file
//! renamed over it); refused if the file changed since it was read.

use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item as TomlItem, Table, Value};

use super::problem::Problem;
use crate::content::version::entry_version;

/// The arrays entries live in: `[[item]]`, and a campaign's `[[post]]`.
pub const ARRAYS: [&str; 2] = ["item", "post"];

/// A campaign file read for an edit, with the text it had.
pub struct File {
    pub path: PathBuf,
    pub text: String,
    pub doc: DocumentMut,
}

impl File {
    /// Reads `path`; a missing file is an empty one (a new file).
    pub fn read(path: &Path) -> Result<File, Problem> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(Problem::unavailable(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let doc = text.parse::<DocumentMut>().map_err(|e| {
            Problem::new(409, "The file cannot be edited until it is fixed")
                .detail(format!("{}: {e}", path.display()))
        })?;
        Ok(File {
            path: path.to_path_buf(),
            text,
            doc,
        })
    }

    /// The TOML text of the entry with this id, as written in the file
    /// (its comments and layout kept), if the file has it.
    pub fn entry_text(&self, id: &str) -> Option<String> {
        let (array, index) = self.find(id)?;
        let mut tables = ArrayOfTables::new();
        tables.push(self.entry(array, index).clone());
        let mut doc = DocumentMut::new();
        doc.insert(array, TomlItem::ArrayOfTables(tables));
        Some(format!("{}\n", doc.to_string().trim()))
    }

    /// The entry with this id: its array and index.
    pub fn find(&self, id: &str) -> Option<(&'static str, usize)> {
        ARRAYS.into_iter().find_map(|array| {
            let tables = self.doc.get(array)?.as_array_of_tables()?;
            let index = tables
                .iter()
                .position(|t| t.get("id").and_then(|v| v.as_str()) == Some(id))?;
            Some((array, index))
        })
    }

    pub fn entry(&self, array: &str, index: usize) -> &Table {
        self.doc[array]
            .as_array_of_tables()
            .and_then(|a| a.get(index))
            .expect("entry found by `find`")
    }

    pub fn entry_mut(&mut self, array: &str, index: usize) -> &mut Table {
        self.doc[array]
            .as_array_of_tables_mut()
            .and_then(|a| a.get_mut(index))
            .expect("entry found by `find`")
    }

    pub fn append(&mut self, array: &str, table: Table) {
        let entry = self
            .doc
            .entry(array)
            .or_insert(TomlItem::ArrayOfTables(ArrayOfTables::new()));
        if let Some(a) = entry.as_array_of_tables_mut() {
            a.push(table);
        }
    }

    pub fn remove(&mut self, array: &str, index: usize) {
        if let Some(a) = self.doc[array].as_array_of_tables_mut() {
            a.remove(index);
            if a.is_empty() {
                self.doc.remove(array);
            }
        }
    }

    /// Nothing left worth keeping: no tables or values at all.
    pub fn is_empty(&self) -> bool {
        self.doc.is_empty()
    }

    /// Writes `text` in place of the file, unless someone changed the file
    /// since it was read (then 409: their change is kept, not overwritten).
    pub fn replace(&self, text: Option<&str>) -> Result<(), Problem> {
        let now = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Problem::unavailable(e)),
        };
        if now != self.text {
            return Err(Problem::new(409, "The file changed while saving")
                .detail("someone edited the file at the same time; read the item again"));
        }
        match text {
            Some(text) => write_atomically(&self.path, text).map_err(Problem::unavailable),
            None => std::fs::remove_file(&self.path).map_err(Problem::unavailable),
        }
    }
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // A name the content loader skips (not `*.toml`) while it exists.
    let tmp = dir.join(format!(".{name}.saving"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The entry `id`'s text in a campaign file's `text` (see
/// [`File::entry_text`]); `None` if the text is not TOML or lacks it.
pub fn entry_text_in(text: &str, id: &str) -> Option<String> {
    let file = File {
        path: PathBuf::new(),
        text: String::new(),
        doc: text.parse().ok()?,
    };
    file.entry_text(id)
}

/// An entry's version, as the content loader computes it.
pub fn version(table: &Table) -> String {
    entry_version(&toml::Value::Table(to_toml(table)))
}

/// An entry as plain TOML data (comments and layout dropped).
pub fn to_toml(table: &Table) -> toml::Table {
    let mut doc = DocumentMut::new();
    doc.insert("entry", TomlItem::Table(table.clone()));
    let mut parsed: toml::Table = toml::from_str(&doc.to_string()).expect("toml_edit writes TOML");
    match parsed.remove("entry") {
        Some(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    }
}

/// An entry as JSON (`fields` in the API).
pub fn to_json(table: &Table) -> serde_json::Value {
    fn convert(v: toml::Value) -> serde_json::Value {
        use serde_json::Value as J;
        match v {
            toml::Value::String(s) => J::String(s),
            toml::Value::Integer(i) => J::from(i),
            toml::Value::Float(f) => J::from(f),
            toml::Value::Boolean(b) => J::Bool(b),
            toml::Value::Datetime(d) => J::String(d.to_string()),
            toml::Value::Array(a) => J::Array(a.into_iter().map(convert).collect()),
            toml::Value::Table(t) => {
                J::Object(t.into_iter().map(|(k, v)| (k, convert(v))).collect())
            }
        }
    }
    convert(toml::Value::Table(to_toml(table)))
}

/// A JSON object as an entry's table; arrays of objects become
/// `[[entry.key]]` tables (sections, images), as people write them.
pub fn from_json(fields: &serde_json::Map<String, serde_json::Value>) -> Result<Table, Problem> {
    let mut table = Table::new();
    for (key, value) in fields {
        let field = format!("fields.{key}");
        table.insert(key, json_item(value, &field)?);
    }
    Ok(table)
}

fn json_item(value: &serde_json::Value, field: &str) -> Result<TomlItem, Problem> {
    if let Some(list) = value
        .as_array()
        .filter(|a| !a.is_empty() && a.iter().all(|v| v.is_object()))
    {
        let mut tables = ArrayOfTables::new();
        for (i, v) in list.iter().enumerate() {
            let object = v.as_object().expect("checked: every element is an object");
            let mut t = Table::new();
            for (k, v) in object {
                t.insert(k, json_item(v, &format!("{field}[{i}].{k}"))?);
            }
            tables.push(t);
        }
        return Ok(TomlItem::ArrayOfTables(tables));
    }
    Ok(TomlItem::Value(json_value(value, field)?))
}

fn json_value(value: &serde_json::Value, field: &str) -> Result<Value, Problem> {
    use serde_json::Value as J;
    Ok(match value {
        J::Null => {
            return Err(Problem::bad_request(
                field,
                "null is not a TOML value: leave the field out",
            ))
        }
        J::Bool(b) => Value::from(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(f)) => Value::from(f),
            _ => return Err(Problem::bad_request(field, "number out of range")),
        },
        J::String(s) => Value::from(s.as_str()),
        J::Array(a) => {
            let mut array = toml_edit::Array::new();
            for (i, v) in a.iter().enumerate() {
                array.push(json_value(v, &format!("{field}[{i}]"))?);
            }
            Value::Array(array)
        }
        J::Object(o) => {
            let mut inline = toml_edit::InlineTable::new();
            for (k, v) in o {
                inline.insert(k, json_value(v, &format!("{field}.{k}"))?);
            }
            Value::InlineTable(inline)
        }
    })
}

/// Makes `entry` say what `new` says, keeping the comments and spacing of
/// the keys both have and the order of the keys `entry` had.
pub fn update_in_place(entry: &mut Table, new: Table) {
    let gone: Vec<String> = entry
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !new.contains_key(k))
        .collect();
    for key in gone {
        entry.remove(&key);
    }
    for (key, item) in new {
        match (entry.get_mut(&key), item) {
            (Some(TomlItem::Value(old)), TomlItem::Value(mut value)) => {
                if old.to_string().trim() == value.to_string().trim() {
                    continue;
                }
                *value.decor_mut() = old.decor().clone();
                *old = value;
            }
            (_, item) => {
                entry.insert(&key, item);
            }
        }
    }
}

/// A file name inside the campaigns folder: `name.toml`, no folders.
pub fn file_in(dir: &Path, name: &str) -> Result<PathBuf, Problem> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name.ends_with(".toml")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !plain {
        return Err(Problem::bad_request(
            "file",
            "a file name in the campaigns folder, like `2027-training.toml` (letters, digits, - _ .)",
        ));
    }
    Ok(dir.join(name))
}

/// Names the request field each finding is about (`fields.venue`), for
/// findings located in `text` (the file `path` as it would be saved)
/// inside the entry `id`: a form can then show each error at its field.
pub fn name_fields(findings: &mut [super::problem::Finding], path: &Path, text: &str, id: &str) {
    let Some(keys) = entry_keys(text, id) else {
        return;
    };
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    for f in findings.iter_mut().filter(|f| f.field.is_none()) {
        let (Some(file), Some(line)) = (f.file.as_deref(), f.line) else {
            continue;
        };
        let Some(&at) = starts.get(line.saturating_sub(1)) else {
            continue;
        };
        let col = f.column.unwrap_or(1).saturating_sub(1);
        let offset = text[at..]
            .chars()
            .take(col)
            .map(char::len_utf8)
            .sum::<usize>()
            + at;
        if !path.ends_with(file) {
            continue;
        }
        if let Some((key, _)) = keys.iter().find(|(_, span)| span.contains(&offset)) {
            f.field = Some(format!("fields.{key}"));
        }
    }
}

/// Each key of the entry `id` with the bytes from its name to its value's end.
fn entry_keys(text: &str, id: &str) -> Option<Vec<(String, std::ops::Range<usize>)>> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let table = ARRAYS.into_iter().find_map(|array| {
        doc.get(array)?
            .as_array_of_tables()?
            .iter()
            .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(id))
    })?;
    Some(
        table
            .iter()
            .filter_map(|(k, _)| {
                let (key, item) = table.get_key_value(k)?;
                let (start, end) = (key.span()?.start, item.span()?.end);
                Some((k.to_string(), start..end.max(start + 1)))
            })
            .collect(),
    )
}
