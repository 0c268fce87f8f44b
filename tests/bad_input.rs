//! Bad input: each problem gives one clear message naming file and line
//! (or template and field), and `check` keeps going to report the rest.

use std::path::Path;
use std::process::Command;

const CONFIG: &str = r#"[organisation]
name = "Test Partnership"
website = "https://example.org"

[daemon]
public_url = "https://example.org"

[channels.toots]
kind = "mastodon"
instance = "https://mastodon.example"
token_env = "TEST_TOKEN"

[channels.site]
kind = "feed"
title = "News"
path = "news"
"#;

const GOOD_ITEM: &str = r#"[[item]]
id = "good"
kind = "notice"
title = "A notice"
body = "Nothing to see."
at = "2026-12-01 10:00"
channels = ["toots", "site"]
"#;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A small valid workspace to break one piece at a time.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "channels.toml", CONFIG);
    write(
        d,
        "templates/social/default.txt.hbs",
        "{{item.title}}\n\n{{item.body_text}}\n",
    );
    write(
        d,
        "templates/feed/default.html.hbs",
        "{{{item.body_html}}}\n",
    );
    write(d, "campaigns/good.toml", GOOD_ITEM);
    dir
}

fn check(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("--config")
        .arg(dir.join("channels.toml"))
        .arg("check")
        .env_remove("CRIER_CONFIG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap(), text)
}

/// The diagnostic lines that are errors, with the temp dir removed.
fn errors(dir: &Path, text: &str) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    text.lines()
        .filter(|l| l.contains(": error: "))
        .map(|l| l.replace(&prefix, ""))
        .collect()
}

#[test]
fn the_valid_workspace_passes() {
    let dir = workspace();
    let (code, out) = check(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 errors"), "{out}");
}

#[test]
fn toml_syntax_error_names_file_line_and_column() {
    let dir = workspace();
    write(
        dir.path(),
        "campaigns/broken.toml",
        "[[item]]\nid = \"x\"\ntitle = \"unterminated\n",
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 1);
    let errs = errors(dir.path(), &out);
    assert_eq!(errs.len(), 1, "{out}");
    assert!(
        errs[0].starts_with("campaigns/broken.toml:3:"),
        "{}",
        errs[0]
    );
}

#[test]
fn unknown_channel_points_at_the_name() {
    let dir = workspace();
    write(
        dir.path(),
        "campaigns/a.toml",
        &GOOD_ITEM
            .replace("\"good\"", "\"a\"")
            .replace("[\"toots\", \"site\"]", "[\"toots\", \"tiktok\"]"),
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 1);
    let errs = errors(dir.path(), &out);
    assert_eq!(errs, vec!["campaigns/a.toml:7:22: error: unknown channel `tiktok` (channels.toml defines: site, toots)"], "{out}");
}

#[test]
fn unknown_item_kind_and_unknown_channel_kind() {
    let dir = workspace();
    write(
        dir.path(),
        "campaigns/a.toml",
        &GOOD_ITEM
            .replace("\"good\"", "\"a\"")
            .replace("\"notice\"", "\"newsletter\""),
    );
    write(
        dir.path(),
        "channels.toml",
        &format!("{CONFIG}\n[channels.pigeon]\nkind = \"carrier-pigeon\"\n"),
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 1);
    let errs = errors(dir.path(), &out);
    assert!(
        errs.iter()
            .any(|e| e.starts_with("campaigns/a.toml:3:8: error: unknown kind `newsletter`")),
        "{out}"
    );
    assert!(
        errs.iter()
            .any(|e| e
                .starts_with("channels.toml:19:8: error: unknown channel kind `carrier-pigeon`")),
        "{out}"
    );
}

#[test]
fn bad_date_names_the_field_and_position() {
    let dir = workspace();
    write(
        dir.path(),
        "campaigns/a.toml",
        &GOOD_ITEM
            .replace("\"good\"", "\"a\"")
            .replace("2026-12-01 10:00", "2026-13-45 10:00"),
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 1);
    let errs = errors(dir.path(), &out);
    assert_eq!(errs.len(), 1, "{out}");
    assert!(
        errs[0].starts_with("campaigns/a.toml:6:6: error: bad `at`"),
        "{}",
        errs[0]
    );
}

#[test]
fn time_in_the_spring_gap_is_refused() {
    let dir = workspace();
    write(
        dir.path(),
        "campaigns/a.toml",
        &GOOD_ITEM
            .replace("\"good\"", "\"a\"")
            .replace("2026-12-01 10:00", "2026-03-29 01:30"),
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 1);
    assert!(out.contains("does not exist in Europe/London"), "{out}");
}

#[test]
fn template_syntax_error_names_template_line_and_column() {
    let dir = workspace();
    write(
        dir.path(),
        "templates/social/default.txt.hbs",
        "{{item.title}}\n{{#if item.link}}\nno close\n",
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 1);
    let errs = errors(dir.path(), &out);
    assert!(
        errs.first()
            .is_some_and(|e| e.starts_with("templates/social/default.txt.hbs:")
                && e.contains("template syntax")),
        "{out}"
    );
}

#[test]
fn missing_template_field_is_a_check_error_not_an_empty_string() {
    let dir = workspace();
    write(
        dir.path(),
        "templates/social/default.txt.hbs",
        "{{item.title}}\n{{item.venue}}\n",
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 1);
    let errs = errors(dir.path(), &out);
    assert_eq!(errs.len(), 1, "{out}");
    assert!(
        errs[0].starts_with("templates/social/default.txt.hbs:2:1: error:"),
        "{}",
        errs[0]
    );
    assert!(
        errs[0].contains("item.venue") && errs[0].contains("item `good` for channel `toots`"),
        "{}",
        errs[0]
    );
}

#[test]
fn check_reports_every_problem_in_one_run() {
    let dir = workspace();
    let d = dir.path();
    write(d, "campaigns/1-syntax.toml", "[[item]\n");
    write(
        d,
        "campaigns/2-channel.toml",
        &GOOD_ITEM
            .replace("\"good\"", "\"b\"")
            .replace("\"site\"]", "\"nope\"]"),
    );
    write(
        d,
        "campaigns/3-kind.toml",
        &GOOD_ITEM
            .replace("\"good\"", "\"c\"")
            .replace("\"notice\"", "\"memo\""),
    );
    write(
        d,
        "campaigns/4-date.toml",
        &GOOD_ITEM
            .replace("\"good\"", "\"d\"")
            .replace("2026-12-01 10:00", "soon"),
    );
    write(
        d,
        "templates/feed/default.html.hbs",
        "{{{item.body_html}}}\n{{item.missing_field}}\n",
    );
    write(d, "templates/chat/default.txt.hbs", "{{#each}}\n");
    let (code, out) = check(d);
    assert_eq!(code, 1);
    let errs = errors(d, &out);
    for needle in [
        "campaigns/1-syntax.toml:1:",
        "campaigns/2-channel.toml:7:",
        "campaigns/3-kind.toml:3:",
        "campaigns/4-date.toml:6:",
        "templates/feed/default.html.hbs:2:",
        "templates/chat/default.txt.hbs:",
    ] {
        assert!(
            errs.iter().any(|e| e.starts_with(needle)),
            "missing {needle} in:\n{out}"
        );
    }
}

#[test]
fn unknown_field_in_an_item_is_named() {
    let dir = workspace();
    write(
        dir.path(),
        "campaigns/a.toml",
        &GOOD_ITEM
            .replace("\"good\"", "\"a\"")
            .replace("body =", "venu = \"x\"\nbody ="),
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 1);
    let errs = errors(dir.path(), &out);
    assert!(
        errs.iter()
            .any(|e| e.contains("campaigns/a.toml:5:") && e.contains("venu")),
        "{out}"
    );
}

#[test]
fn image_without_alt_and_http_link_are_errors() {
    let dir = workspace();
    write(
        dir.path(),
        "campaigns/a.toml",
        &format!(
            "{}link = \"http://example.org/insecure\"\n[[item.images]]\nsrc = \"pic.png\"\n",
            GOOD_ITEM.replace("\"good\"", "\"a\"")
        ),
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 1);
    assert!(out.contains("image `pic.png` has no alt text"), "{out}");
    assert!(
        out.contains("link `http://example.org/insecure` is not https"),
        "{out}"
    );
}

#[test]
fn lower_case_multiword_hashtag_warns_and_fails_only_with_strict() {
    let dir = workspace();
    write(
        dir.path(),
        "campaigns/a.toml",
        &GOOD_ITEM
            .replace("\"good\"", "\"a\"")
            .replace("Nothing to see.", "Join in #nomoreknives"),
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("warning: hashtag #nomoreknives") && out.contains("#NoMoreKnives"),
        "{out}"
    );
    let strict = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args([
            "--config",
            dir.path().join("channels.toml").to_str().unwrap(),
            "check",
            "--strict",
        ])
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn text_over_the_limit_without_threads_reports_by_how_much() {
    let dir = workspace();
    let long = "word ".repeat(120);
    write(
        dir.path(),
        "campaigns/a.toml",
        &GOOD_ITEM
            .replace("\"good\"", "\"a\"")
            .replace("Nothing to see.", long.trim())
            .replace("channels =", "thread = false\nchannels ="),
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "item `a` on channel `toots`: error: text is 609 graphemes, 109 over the limit of 500"
        ),
        "{out}"
    );
}

/// An email channel whose `[daemon] public_url` is `public_url`.
fn email_workspace(public_url: &str) -> tempfile::TempDir {
    let dir = workspace();
    let config = CONFIG.replace(
        "public_url = \"https://example.org\"",
        &format!("public_url = \"{public_url}\""),
    ) + "\n[channels.news]\nkind = \"email\"\nfrom = \"Test <news@example.org>\"\n\
         list_id = \"news.example.org\"\nsmtp_host = \"smtp.example.org\"\n\n\
         [[channels.news.topics]]\nid = \"news\"\nname = \"News\"\n";
    write(dir.path(), "channels.toml", &config);
    dir
}

fn check_strict(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("--config")
        .arg(dir.join("channels.toml"))
        .args(["check", "--strict"])
        .env_remove("CRIER_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn an_email_channel_with_an_http_public_url_warns_unless_on_loopback() {
    // Links in every email (List-Unsubscribe among them) would be http.
    let dir = email_workspace("http://example.org");
    let (code, out) = check(dir.path());
    assert_eq!(code, 0, "{out}");
    let warning = out
        .lines()
        .find(|l| l.contains("warning:") && l.contains("[daemon] public_url"))
        .unwrap_or_else(|| panic!("no public_url warning in:\n{out}"));
    assert!(warning.contains("channel `news`"), "{warning}");
    assert!(warning.contains("https"), "{warning}");
    let (code, out) = check_strict(dir.path());
    assert_eq!(code, 1, "{out}");

    for loopback in [
        "http://127.0.0.1:8080",
        "http://localhost:8080/",
        "http://[::1]:8080",
    ] {
        let dir = email_workspace(loopback);
        let (code, out) = check_strict(dir.path());
        assert_eq!(code, 0, "{loopback}: {out}");
        assert!(!out.contains("public_url"), "{loopback}: {out}");
    }
    // https anywhere is what it should be.
    let dir = email_workspace("https://lists.example.org");
    let (code, out) = check_strict(dir.path());
    assert_eq!(code, 0, "{out}");
}

/// Regression (#9.11): Bluesky takes at most 300 graphemes AND 3000 UTF-8
/// bytes. 269 family emoji are under the first but over the second: `check`
/// passed and the PDS refused the post at send time.
#[test]
fn bluesky_text_over_the_byte_limit_is_a_check_error_naming_it() {
    let dir = workspace();
    let config = format!(
        "{CONFIG}\n[channels.sky]\nkind = \"bluesky\"\nidentifier = \"crier.test\"\napp_password_env = \"TEST_SKY\"\n"
    );
    write(dir.path(), "channels.toml", &config);
    let family = "👨‍👩‍👧‍👦".repeat(269);
    let item = |id: &str, thread: bool| {
        GOOD_ITEM
            .replace("\"good\"", &format!("\"{id}\""))
            .replace("title = \"A notice\"", "title = \"Hi\"")
            .replace("Nothing to see.", &family)
            .replace(
                "channels = [\"toots\", \"site\"]",
                &format!("thread = {thread}\nchannels = [\"sky\"]"),
            )
    };
    write(dir.path(), "campaigns/a.toml", &item("a", false));
    let (code, out) = check(dir.path());
    assert_eq!(code, 1, "{out}");
    // "Hi\n\n" + 269 × 25 bytes = 6729 bytes; 273 graphemes fit
    assert!(
        out.contains(
            "item `a` on channel `sky`: error: text is 6729 UTF-8 bytes, 3729 over the limit of 3000 UTF-8 bytes and the item sets thread = false"
        ),
        "{out}"
    );
    assert!(
        !out.contains("graphemes, "),
        "graphemes are within their limit: {out}"
    );

    // threaded, the same text is split so that every post is within both limits
    write(dir.path(), "campaigns/a.toml", &item("a", true));
    let (code, out) = check(dir.path());
    assert_eq!(code, 0, "{out}");
    let preview = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("--config")
        .arg(dir.path().join("channels.toml"))
        .args(["preview", "a", "--channel", "sky", "--format", "json"])
        .env_remove("CRIER_CONFIG")
        .output()
        .unwrap();
    assert!(preview.status.success(), "{preview:?}");
    let v: serde_json::Value = serde_json::from_slice(&preview.stdout).unwrap();
    let v = if v.is_array() { v[0].clone() } else { v };
    let parts = v["parts"].as_array().expect("parts");
    assert!(parts.len() >= 3, "{v}");
    for p in parts {
        let text = p["text"].as_str().unwrap();
        assert!(text.len() <= 3000, "a part of {} bytes", text.len());
    }
}
