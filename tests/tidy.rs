//! The invariants ARCHITECTURE.md states, checked on the source itself
//! (in the style of rust-analyzer's `tidy`): if one fails, either the code
//! broke the architecture or the architecture changed and the map must say so.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, relative to the repository root.
fn rust_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), &mut out);
    out.sort();
    out.into_iter()
        .map(|p| p.strip_prefix(root()).unwrap().to_path_buf())
        .collect()
}

fn read(path: &Path) -> String {
    fs::read_to_string(root().join(path)).unwrap()
}

/// The source with comments removed (line comments and doc comments; block
/// comments are not used in this code base), string literals kept.
fn code(source: &str) -> String {
    let mut out = String::new();
    for line in source.lines() {
        out.push_str(strip_line_comment(line));
        out.push('\n');
    }
    out
}

/// Cuts a line at a `//` that is not inside a string literal.
fn strip_line_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'/' if !in_str && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

/// Channel kinds, from the registry's one line per kind.
fn kinds() -> Vec<String> {
    let registry = read(Path::new("src/channels/registry.rs"));
    let kinds: Vec<String> = registry
        .lines()
        .filter_map(|l| l.trim().strip_prefix("super::"))
        .filter_map(|l| l.strip_suffix("::KIND,"))
        .map(str::to_string)
        .collect();
    assert!(kinds.len() >= 10, "registry lines not found: {kinds:?}");
    kinds
}

/// Network names a core file must not mention in code, in any case.
const NETWORKS: &[&str] = &[
    "mastodon", "bluesky", "twitter", "facebook", "linkedin", "slack", "teams", "discord", "smtp",
];

/// Kinds whose names are ordinary words: only their module path counts.
const COMMON_WORDS: &[&str] = &["email", "feed", "webhook", "discard"];

fn is_core(path: &Path) -> bool {
    path.starts_with("src") && !path.starts_with("src/channels")
}

#[test]
fn core_code_never_names_a_network() {
    let kinds = kinds();
    let mut problems = Vec::new();
    for path in rust_files("src").into_iter().filter(|p| is_core(p)) {
        let code = code(&read(&path));
        for (n, line) in code.lines().enumerate() {
            let lower = line.to_lowercase();
            for kind in &kinds {
                let module = format!("channels::{kind}");
                // "email" or "feed" in a string is a column or a word; a
                // brand name in one is the network.
                let literal = format!("\"{kind}\"");
                let brand = !COMMON_WORDS.contains(&kind.as_str());
                if line.contains(&module) || (brand && line.contains(&literal)) {
                    problems.push(format!("{}:{}: names `{kind}`", path.display(), n + 1));
                }
            }
            for net in NETWORKS {
                if words(&lower).any(|w| w == *net) {
                    problems.push(format!("{}:{}: names `{net}`", path.display(), n + 1));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Words that open SQL statements, as they appear in this code's queries.
const SQL: &[&str] = &[
    "SELECT ",
    "INSERT INTO",
    "UPDATE ",
    "DELETE FROM",
    "CREATE TABLE",
    "CREATE INDEX",
    "PRAGMA ",
];

#[test]
fn sql_lives_only_in_the_store() {
    let mut problems = Vec::new();
    for path in rust_files("src") {
        if path.starts_with("src/store") {
            continue;
        }
        let code = code(&read(&path));
        for (n, line) in code.lines().enumerate() {
            let sql =
                SQL.iter().any(|s| line.contains(&format!("\"{s}"))) || line.contains("sqlx::");
            if sql {
                problems.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn only_the_store_deserialises_a_variant() {
    let mut problems = Vec::new();
    for path in rust_files("src") {
        if path.starts_with("src/store") {
            continue;
        }
        let code = code(&read(&path));
        for (n, line) in code.lines().enumerate() {
            if line.contains("from_value") && line.contains("variant") {
                problems.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The layers, lowest first: a layer may use those below it, never above.
const LAYERS: &[&str] = &["store", "render", "channels", "dispatch", "daemon", "cli"];

#[test]
fn layers_have_no_cycle() {
    let mut uses: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for layer in LAYERS {
        let mut files = rust_files(&format!("src/{layer}"));
        files.push(PathBuf::from(format!("src/{layer}.rs")));
        for path in files.into_iter().filter(|p| root().join(p).exists()) {
            let code = code(&read(&path));
            for (_, rest) in code
                .match_indices("crate::")
                .map(|(i, _)| ((), &code[i + 7..]))
            {
                let target: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if target != *layer && LAYERS.contains(&target.as_str()) {
                    uses.entry(layer).or_default().insert(target);
                }
            }
        }
    }
    let rank = |l: &str| LAYERS.iter().position(|x| *x == l).unwrap();
    let mut problems = Vec::new();
    for (layer, targets) in &uses {
        for target in targets {
            if rank(target) > rank(layer) {
                problems.push(format!("{layer} uses {target}, a layer above it"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Long files are split by behaviour; this keeps them so.
const MAX_LINES: usize = 600;

#[test]
fn source_files_fit_in_one_sitting() {
    let mut problems = Vec::new();
    for path in rust_files("src").into_iter().chain(rust_files("crates")) {
        let lines = read(&path).lines().count();
        if lines > MAX_LINES {
            problems.push(format!(
                "{}: {lines} lines (at most {MAX_LINES})",
                path.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_architecture_map_names_files_that_exist() {
    let map = read(Path::new("ARCHITECTURE.md"));
    let mut problems = Vec::new();
    for token in map.split(|c: char| c.is_whitespace() || "`(),;".contains(c)) {
        let token = token.trim_end_matches(['.', ':', '—']);
        let looks_like_path = (token.starts_with("src/")
            || token.starts_with("crates/")
            || token.starts_with("tests/"))
            && !token.contains('<')
            && !token.contains('*');
        if looks_like_path && !root().join(token).exists() {
            problems.push(token.to_string());
        }
    }
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {problems:?}"
    );
}
