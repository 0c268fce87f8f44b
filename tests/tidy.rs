//! The invariants ARCHITECTURE.md states, checked on the source itself
//! (in the style of rust-analyzer's `tidy`): if one fails, either the code
//! broke the architecture or the architecture changed and the map must say so.

use std::collections::BTreeSet;
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
/// Matched inside identifiers and literals too (`BlueskyFacet`), so the
/// list holds only words no core name contains by accident.
const NETWORKS: &[&str] = &[
    "mastodon", "bluesky", "bsky", "atproto", "twitter", "tweet", "facebook", "linkedin", "slack",
    "discord", "smtp", "imap",
];

/// Network names that are also parts of other words: matched as words.
const NETWORK_WORDS: &[&str] = &["teams"];

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
                if lower.contains(net) {
                    problems.push(format!("{}:{}: names `{net}`", path.display(), n + 1));
                }
            }
            for word in words(&lower).filter(|w| NETWORK_WORDS.contains(w)) {
                problems.push(format!("{}:{}: names `{word}`", path.display(), n + 1));
            }
        }
    }
    for path in rust_files("src").into_iter().filter(|p| is_core(p)) {
        for used in crate_paths(&code(&read(&path))) {
            let segments: Vec<&str> = used.split("::").collect();
            let module = segments.get(2).copied().unwrap_or_default();
            if segments.get(1) == Some(&"channels") && kinds.iter().any(|k| k == module) {
                problems.push(format!("{}: uses `{used}`", path.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Every `crate::…` path the code names, with `use` groups expanded
/// (`crate::channels::{email, feed::Feed}` gives both paths), whatever the
/// line breaks.
fn crate_paths(code: &str) -> Vec<String> {
    let flat: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    let mut rest = flat.as_str();
    while let Some(i) = rest.find("crate::") {
        let tree = &rest[i + "crate::".len()..];
        let (paths, used) = path_tree(tree);
        out.extend(paths.into_iter().map(|p| format!("crate::{p}")));
        rest = &tree[used..];
    }
    out
}

/// Reads one path tree (`a::b`, `a::{b, c::d}`, `{a, b}`) from the start of
/// `s`: its full paths, and how many bytes it took.
fn path_tree(s: &str) -> (Vec<String>, usize) {
    if let Some(mut rest) = s.strip_prefix('{') {
        let (mut paths, mut taken) = (Vec::new(), 1);
        loop {
            let (sub, used) = path_tree(rest);
            paths.extend(sub);
            taken += used;
            rest = &rest[used..];
            match rest.chars().next() {
                Some(',') => (taken, rest) = (taken + 1, &rest[1..]),
                Some('}') => return (paths, taken + 1),
                _ => return (paths, taken),
            }
        }
    }
    let n = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    let head = &s[..n];
    match s[n..].strip_prefix("::") {
        Some(next) if next.starts_with(|c: char| c == '{' || c.is_alphanumeric()) => {
            let (subs, used) = path_tree(next);
            let paths = subs.into_iter().map(|p| format!("{head}::{p}")).collect();
            (paths, n + 2 + used)
        }
        _ if head.is_empty() => (Vec::new(), n),
        _ => (vec![head.to_string()], n),
    }
}

#[test]
fn crate_paths_expand_use_groups_across_lines() {
    let code = "use crate::channels::{\n    email::cli,\n    feed,\n};\n\
                let x = crate::store::open(c);\nuse crate::{dispatch, cli::run};";
    assert_eq!(
        crate_paths(code),
        [
            "crate::channels::email::cli",
            "crate::channels::feed",
            "crate::store::open",
            "crate::dispatch",
            "crate::cli::run",
        ]
    );
}

/// SQL as it appears in queries (upper case, anywhere in a literal), and
/// the database crates.
const SQL: &[&str] = &[
    "SELECT ",
    "INSERT INTO",
    "INSERT OR",
    "UPDATE ",
    "DELETE FROM",
    "CREATE TABLE",
    "CREATE INDEX",
    "ALTER TABLE",
    "DROP TABLE",
    "PRAGMA ",
    "BEGIN IMMEDIATE",
];
const DATABASE_CRATES: &[&str] = &["sqlx::", "rusqlite::", "tokio_postgres::"];

#[test]
fn sql_lives_only_in_the_store() {
    let mut problems = Vec::new();
    let files = rust_files("src").into_iter().chain(rust_files("crates"));
    for path in files.filter(|p| !p.starts_with("src/store")) {
        let code = code(&read(&path));
        for (n, line) in code.lines().enumerate() {
            let in_literal = line.contains('"') && SQL.iter().any(|s| line.contains(s));
            if in_literal || DATABASE_CRATES.iter().any(|c| line.contains(c)) {
                problems.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Ways to turn data into a `Variant`, as they read with spaces removed.
const VARIANT_DESERIALISING: &[&str] = &[
    "::<Variant>",
    "Variant::deserialize",
    "Variant=serde_json::",
    "Variant>=serde_json::",
    "Variant=from_",
    "Variant>=from_",
];

#[test]
fn only_the_store_deserialises_a_variant() {
    let mut problems = Vec::new();
    for path in rust_files("src")
        .into_iter()
        .filter(|p| !p.starts_with("src/store"))
    {
        let flat: String = code(&read(&path))
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for pattern in VARIANT_DESERIALISING {
            if flat.contains(pattern) {
                problems.push(format!("{}: `{pattern}`", path.display()));
            }
        }
        if flat.contains("from_value(") && flat.to_lowercase().contains("variant") {
            let near = flat.match_indices("from_value(").any(|(i, _)| {
                let end = flat[i..].find(';').map_or(flat.len(), |e| i + e);
                flat[i..end].to_lowercase().contains("variant")
            });
            if near {
                problems.push(format!("{}: from_value of a variant", path.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The layers, lowest first: a layer may use those below it, never above.
const LAYERS: &[&str] = &[
    "store", "render", "channels", "dispatch", "auth", "api", "console", "daemon", "cli",
];

/// Domain modules every layer uses: they name no layer.
const DOMAIN: &[&str] = &[
    "content",
    "config",
    "delivery",
    "variant",
    "diagnostics",
    "secret",
    "access",
];

/// Which layers the files of `module` (a folder or a file under src/) name.
fn layers_named_by(module: &str) -> BTreeSet<String> {
    let mut files = rust_files_if_any(&format!("src/{module}"));
    files.push(PathBuf::from(format!("src/{module}.rs")));
    files
        .into_iter()
        .filter(|p| root().join(p).exists())
        .flat_map(|path| crate_paths(&code(&read(&path))))
        .filter_map(|used| used.split("::").nth(1).map(str::to_string))
        .filter(|target| target != module && LAYERS.contains(&target.as_str()))
        .collect()
}

fn rust_files_if_any(dir: &str) -> Vec<PathBuf> {
    if root().join(dir).is_dir() {
        rust_files(dir)
    } else {
        Vec::new()
    }
}

#[test]
fn layers_have_no_cycle() {
    let rank = |l: &str| LAYERS.iter().position(|x| *x == l).unwrap();
    let mut problems = Vec::new();
    for layer in LAYERS {
        for target in layers_named_by(layer) {
            if rank(&target) > rank(layer) {
                problems.push(format!("{layer} uses {target}, a layer above it"));
            }
        }
    }
    for module in DOMAIN {
        for target in layers_named_by(module) {
            problems.push(format!("{module} (domain) uses the {target} layer"));
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
