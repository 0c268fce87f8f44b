//! `crier init`: the real binary makes workspaces in temporary folders,
//! and `crier check` passes on what it wrote, at once.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn crier(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(args)
        .env_remove("CRIER_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("crier runs")
}

fn init(dir: &Path, more: &[&str]) -> Output {
    let mut args = vec!["init", dir.to_str().unwrap()];
    args.extend_from_slice(more);
    crier(&args)
}

fn check(dir: &Path) -> Output {
    let config = dir.join("channels.toml");
    crier(&["--config", config.to_str().unwrap(), "check", "--strict"])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every kind the registry lists, from `init`'s own error message.
fn every_kind() -> String {
    let tmp = tempfile::tempdir().unwrap();
    let out = init(tmp.path(), &["--name", "X", "--channels", "nonesuch"]);
    let err = text(&out.stderr);
    let list = err.split("one of: ").nth(1).expect("kinds listed");
    list.trim().trim_end_matches(')').replace(' ', "")
}

#[test]
fn every_kind_makes_a_workspace_check_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new-org");
    let kinds = every_kind();
    assert!(kinds.split(',').count() >= 10, "{kinds}");
    let out = init(
        &dir,
        &["--name", "Example Partnership", "--channels", &kinds],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let checked = check(&dir);
    assert!(
        checked.status.success(),
        "{}{}",
        text(&checked.stdout),
        text(&checked.stderr)
    );
    let summary = text(&checked.stdout) + &text(&checked.stderr);
    assert!(summary.contains("0 errors, 0 warnings"), "{summary}");
    for wanted in [".gitignore", "templates/email/news.html.hbs", "campaigns"] {
        assert!(dir.join(wanted).exists(), "{wanted} not written");
    }
    // One example of each content kind.
    let mut campaigns = String::new();
    for entry in std::fs::read_dir(dir.join("campaigns")).unwrap() {
        campaigns += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
    }
    for kind in ["news", "briefing", "event", "notice"] {
        assert!(campaigns.contains(&format!("kind = \"{kind}\"")), "{kind}");
    }
    assert!(campaigns.contains("[[item.sections]]") && campaigns.contains("[[post]]"));
}

#[test]
fn chosen_kinds_get_their_tables_and_name_their_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let out = init(tmp.path(), &["--name", "X", "--channels", "email,feed"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(check(tmp.path()).status.success());
    let config = std::fs::read_to_string(tmp.path().join("channels.toml")).unwrap();
    let table: toml::Table = config.parse().unwrap();
    let channels = table["channels"].as_table().unwrap();
    let mut kinds: Vec<&str> = channels
        .values()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["email", "feed"]);
    assert_eq!(
        table["organisation"]["timezone"].as_str(),
        Some("Europe/London")
    );
    assert_eq!(table["organisation"]["language"].as_str(), Some("en-GB"));
    // Secrets are named, never written; the output says what to set.
    let stdout = text(&out.stdout);
    assert!(stdout.contains("CRIER_EMAIL_SMTP_PASSWORD"), "{stdout}");
    assert!(config.contains("password_env = \"CRIER_EMAIL_SMTP_PASSWORD\""));
}

#[test]
fn an_existing_workspace_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("channels.toml");
    std::fs::write(&config, "# mine\n").unwrap();
    let out = init(tmp.path(), &["--name", "X"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("channels.toml"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");
    let written: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(written.len(), 1, "nothing else written");
}

#[test]
fn an_unknown_kind_is_refused_with_the_kinds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = init(tmp.path(), &["--name", "X", "--channels", "feed,pigeon"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("pigeon") && err.contains("email, feed"),
        "{err}"
    );
    assert!(!tmp.path().join("channels.toml").exists());
}

#[test]
fn without_a_terminal_the_name_is_required() {
    let tmp = tempfile::tempdir().unwrap();
    let out = init(tmp.path(), &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--name"),
        "{}",
        text(&out.stderr)
    );
    assert!(!tmp.path().join("channels.toml").exists());
}

#[test]
fn flags_are_checked_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let out = init(tmp.path(), &["--name", "X", "--timezone", "Mars/Olympus"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("Mars/Olympus"));
    let out = init(
        tmp.path(),
        &[
            "--name",
            "Quoted \"Org\"",
            "--website",
            "https://org.example/",
            "--timezone",
            "America/New_York",
            "--language",
            "en-US",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(check(tmp.path()).status.success());
    let config = std::fs::read_to_string(tmp.path().join("channels.toml")).unwrap();
    let table: toml::Table = config.parse().unwrap();
    let org = &table["organisation"];
    assert_eq!(org["name"].as_str(), Some("Quoted \"Org\""));
    assert_eq!(org["website"].as_str(), Some("https://org.example"));
    assert_eq!(org["timezone"].as_str(), Some("America/New_York"));
    assert_eq!(org["language"].as_str(), Some("en-US"));
}
