//! The configuration file's parsing: defaults, errors with their place.

use super::*;

fn parse(text: &str) -> (Option<Config>, Report) {
    let mut r = Report::default();
    let c = Config::parse(SourceFile::new("channels.toml", text.to_string()), &mut r);
    (c, r)
}

const HEAD: &str = "[organisation]\nname = \"Org\"\nwebsite = \"https://example.org\"\n\n[daemon]\npublic_url = \"https://example.org\"\n";

#[test]
fn channel_tables_keep_their_options_for_the_module() {
    let (c, r) = parse(&format!(
        "{HEAD}\n[channels.toots]\nkind = \"chirp\"\ninstance = \"https://x.example\"\n"
    ));
    assert_eq!(r.error_count(), 0, "{r:?}");
    let c = c.unwrap();
    assert_eq!(c.organisation.timezone, chrono_tz::Europe::London);
    assert_eq!(c.channels[0].kind, "chirp");
    assert!(c.channels[0].options.contains_key("instance"));
    assert!(!c.channels[0].options.contains_key("kind"));
    assert_eq!(c.channels[0].kind_location.to_string(), "channels.toml:9:8");
}

#[test]
fn history_is_kept_unless_a_number_of_months_is_given() {
    let (c, r) = parse(HEAD);
    assert_eq!(r.error_count(), 0, "{r:?}");
    assert_eq!(c.unwrap().daemon.keep_history_months, None);
    let (c, _) = parse(&HEAD.replace("[daemon]\n", "[daemon]\nkeep_history_months = 24\n"));
    assert_eq!(c.unwrap().daemon.keep_history_months, Some(24));
    let (c, r) = parse(&HEAD.replace("[daemon]\n", "[daemon]\nkeep_history_months = 0\n"));
    assert!(c.is_none());
    let msg = r.diagnostics[0].to_string();
    assert!(
        msg.contains("channels.toml:6:") && msg.contains("at least 1"),
        "{msg}"
    );
}

#[test]
fn syntax_error_names_line_and_column() {
    let (c, r) = parse(&format!("{HEAD}\n[channels.a\nkind = 1\n"));
    assert!(c.is_none());
    let msg = r.diagnostics[0].to_string();
    assert!(msg.starts_with("channels.toml:8:"), "{msg}");
}

/// Regression (#9.12): without a `[lint]` table `max_emoji` was 0, so one
/// emoji warned. Absent, empty and partial tables give the documented defaults.
#[test]
fn lint_defaults_hold_whether_the_table_is_absent_empty_or_partial() {
    let cases = [
        ("absent", String::new(), 3, vec![]),
        ("empty", "\n[lint]\n".to_string(), 3, vec![]),
        (
            "partial: only hashtags",
            "\n[lint]\nsingle_word_hashtags = [\"safeguarding\"]\n".to_string(),
            3,
            vec!["safeguarding".to_string()],
        ),
        (
            "partial: only max_emoji",
            "\n[lint]\nmax_emoji = 5\n".to_string(),
            5,
            vec![],
        ),
    ];
    for (name, lint, max_emoji, hashtags) in cases {
        let (c, r) = parse(&format!("{HEAD}{lint}"));
        assert_eq!(r.error_count(), 0, "{name}: {r:?}");
        let lint = c.unwrap().lint;
        assert_eq!(lint.max_emoji, max_emoji, "{name}: max_emoji");
        assert_eq!(
            lint.single_word_hashtags, hashtags,
            "{name}: single_word_hashtags"
        );
    }
    // and the type's own default agrees with the file's
    assert_eq!(LintOptions::default().max_emoji, 3);
}

#[test]
fn console_git_commit_is_off_unless_set_and_checked_with_position() {
    let (c, r) = parse(HEAD);
    assert_eq!(r.error_count(), 0, "{r:?}");
    assert!(!c.unwrap().console.git_commit);
    let (c, r) = parse(&format!("{HEAD}\n[console]\ngit_commit = true\n"));
    assert_eq!(r.error_count(), 0, "{r:?}");
    assert!(c.unwrap().console.git_commit);
    for (text, said) in [
        ("git_commit = \"yes\"", "invalid type"),
        ("git_comit = true", "unknown field `git_comit`"),
    ] {
        let (c, r) = parse(&format!("{HEAD}\n[console]\n{text}\n"));
        assert!(c.is_none());
        let msg = r.diagnostics[0].to_string();
        assert!(
            msg.starts_with("channels.toml:9:") && msg.contains(said),
            "{msg}"
        );
    }
}

#[test]
fn bad_timezone_is_reported_with_position() {
    let (_, r) = parse(&HEAD.replace("website", "timezone = \"Mars/Olympus\"\nwebsite"));
    let msg = r.diagnostics[0].to_string();
    assert!(
        msg.starts_with("channels.toml:3:12:") && msg.contains("Mars/Olympus"),
        "{msg}"
    );
}
