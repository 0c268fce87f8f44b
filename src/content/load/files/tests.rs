//! A reload parses only the files whose text changed, and what it reuses
//! is exactly what parsing again would give: the same items, the same
//! problems, the same judgement of ids used twice.

use std::collections::BTreeSet;
use std::path::Path;

use tempfile::TempDir;

use crate::content::load::{load_dir, load_dir_reusing, Context, Files, Overlay};
use crate::content::Item;
use crate::diagnostics::Report;

const NOTICE: &str = r#"[[item]]
id = "ID"
kind = "notice"
title = "TITLE"
at = "2026-12-18 15:00"
channels = ["site"]
body = "The office closes for the holidays."
"#;

fn notice(id: &str, title: &str) -> String {
    NOTICE.replace("ID", id).replace("TITLE", title)
}

fn folder(files: &[(&str, String)]) -> TempDir {
    let dir = TempDir::new().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn load(dir: &Path, channels: &[&str], previous: &Files) -> (Vec<Item>, Files, Report) {
    let channels: BTreeSet<String> = channels.iter().map(|c| c.to_string()).collect();
    let ctx = Context {
        timezone: chrono_tz::Europe::London,
        language: "en-GB",
        channels: &channels,
    };
    let mut report = Report::default();
    let (items, files) = load_dir_reusing(dir, &ctx, &Overlay::default(), previous, &mut report);
    (items, files, report)
}

/// What a load from nothing gives: the reference a reuse must equal.
fn fresh(dir: &Path, channels: &[&str]) -> (Vec<Item>, Report) {
    let names: BTreeSet<String> = channels.iter().map(|c| c.to_string()).collect();
    let ctx = Context {
        timezone: chrono_tz::Europe::London,
        language: "en-GB",
        channels: &names,
    };
    let mut report = Report::default();
    let items = load_dir(dir, &ctx, &Overlay::default(), &mut report);
    (items, report)
}

#[test]
fn a_reload_parses_only_the_file_that_changed() {
    let files: Vec<(String, String)> = (0..6)
        .map(|i| (format!("f{i}.toml"), notice(&format!("n{i}"), "Closed")))
        .collect();
    let named: Vec<(&str, String)> = files.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    let dir = folder(&named);
    let (items, first, _) = load(dir.path(), &["site"], &Files::default());
    assert_eq!((items.len(), first.parsed()), (6, 6));

    let (again, second, _) = load(dir.path(), &["site"], &first);
    assert_eq!(second.parsed(), 0, "nothing changed, nothing parsed");
    assert_eq!(again, items);

    std::fs::write(dir.path().join("f3.toml"), notice("n3", "Open again")).unwrap();
    let (edited, third, _) = load(dir.path(), &["site"], &second);
    assert_eq!(third.parsed(), 1);
    assert_eq!(edited, fresh(dir.path(), &["site"]).0);
    assert_eq!(edited[3].title, "Open again");
}

/// Problems found in a file are part of what it gave: a reload that
/// reuses it reports them again, and ids used twice across two reused
/// files are still an error.
#[test]
fn a_reused_file_reports_its_problems_again() {
    let dir = folder(&[
        ("a.toml", notice("same", "First")),
        ("b.toml", notice("same", "Second")),
        (
            "c.toml",
            notice("other", "Other").replace("[\"site\"]", "[\"nowhere\"]"),
        ),
    ]);
    let (_, first, report) = load(dir.path(), &["site"], &Files::default());
    assert!(report.error_count() >= 2, "{report:?}");
    let (_, second, again) = load(dir.path(), &["site"], &first);
    assert_eq!(second.parsed(), 0);
    assert_eq!(again.diagnostics, report.diagnostics);
    assert_eq!(
        again.diagnostics,
        fresh(dir.path(), &["site"]).1.diagnostics
    );
}

/// Loading reads the organisation's settings and the channel names too:
/// when they change, every file is read again.
#[test]
fn a_changed_context_parses_every_file_again() {
    let dir = folder(&[("a.toml", notice("a", "A")), ("b.toml", notice("b", "B"))]);
    let (_, first, report) = load(dir.path(), &["site"], &Files::default());
    assert_eq!(report.error_count(), 0);
    let (_, second, report) = load(dir.path(), &["elsewhere"], &first);
    assert_eq!(second.parsed(), 2);
    assert!(report.error_count() >= 2, "`site` is no longer a channel");
}

/// A file that went away takes its items with it; one that is new is parsed.
#[test]
fn removed_and_new_files_are_followed() {
    let dir = folder(&[("a.toml", notice("a", "A")), ("b.toml", notice("b", "B"))]);
    let (_, first, _) = load(dir.path(), &["site"], &Files::default());
    std::fs::remove_file(dir.path().join("a.toml")).unwrap();
    std::fs::write(dir.path().join("c.toml"), notice("c", "C")).unwrap();
    let (items, second, _) = load(dir.path(), &["site"], &first);
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["b", "c"]);
    assert_eq!((second.parsed(), second.len()), (1, 2));
}
