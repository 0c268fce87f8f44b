//! An entry's version: a hash of what it says, not of how it is laid out
//! (comments, spacing and key order change nothing). The API refuses an
//! edit made against an older version (`If-Match`), and the plan's
//! fingerprint carries it, so any edit of an item voids an approval given
//! for the version before.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// The version of one `[[item]]` or `[[post]]` entry, as parsed.
pub fn entry_version(entry: &toml::Value) -> String {
    let canonical = serde_json::to_vec(&canonical(entry)).expect("JSON of plain data");
    hex::encode(&Sha256::digest(canonical)[..8])
}

/// JSON with every table's keys sorted, whatever order the file used.
fn canonical(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => J::from(*f),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.iter().map(canonical).collect()),
        toml::Value::Table(t) => {
            let sorted: BTreeMap<&String, J> = t.iter().map(|(k, v)| (k, canonical(v))).collect();
            J::Array(
                sorted
                    .into_iter()
                    .map(|(k, v)| J::Array(vec![J::String(k.clone()), v]))
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::entry_version;

    fn version(text: &str) -> String {
        entry_version(&toml::from_str::<toml::Value>(text).unwrap())
    }

    #[test]
    fn layout_and_comments_do_not_change_the_version_but_content_does() {
        let a = version("id = \"a\"\ntitle = \"Hello\"\n");
        let b = version("# a comment\ntitle   = \"Hello\"\nid = \"a\"\n");
        let c = version("id = \"a\"\ntitle = \"Hello!\"\n");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 16);
    }
}
