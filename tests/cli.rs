//! The small commands, as a user runs them.

use std::process::Command;

fn crier(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crier"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env_remove("CRIER_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn count(network: &str, text: &str) -> serde_json::Value {
    let (code, out) = crier(&["count", "--network", network, "--json", text]);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn count_reports_each_network_s_own_length() {
    // X: a URL is 23, a CJK character weighs 2.
    let x = count(
        "x",
        "Read https://www.northlincsmars.co.uk/news/2026-12/a-long-path 日本",
    );
    assert_eq!(
        x,
        serde_json::json!({"length": 33, "limit": 280, "valid": true})
    );
    // Mastodon: a URL is 23, @user@host counts as @user.
    let m = count(
        "mastodon",
        "@mars@social.example.org https://example.org/a/very/long/path/indeed",
    );
    assert_eq!(m["length"], 5 + 1 + 23);
    assert_eq!(m["limit"], 500);
    // Bluesky: graphemes, so a family emoji is one.
    let b = count("bluesky", "Family 👨‍👩‍👧‍👦 day");
    assert_eq!(b["length"], 12);
    assert_eq!(b["limit"], 300);
    let l = count("linkedin", "Hello #NoMoreKnives");
    assert_eq!(l["limit"], 3000);
    let (_, over) = crier(&["count", "--network", "x", "--json", &"a".repeat(281)]);
    assert!(over.contains("\"valid\":false"), "{over}");
}

#[test]
fn when_lists_firings_across_the_clock_change_once_each() {
    let (code, out) = crier(&[
        "when",
        "30 1 * * *",
        "--from",
        "2026-10-24 00:00",
        "--count",
        "3",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}");
    let f: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let utc: Vec<&str> = f.iter().map(|x| x["utc"].as_str().unwrap()).collect();
    assert_eq!(
        utc,
        [
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z"
        ]
    );
    let (code, out) = crier(&["when", "every tuesday"]);
    assert_eq!(code, 1);
    assert!(out.contains("error"), "{out}");
}

#[test]
fn preview_json_gives_each_variant_with_length_limit_and_parts() {
    let (code, out) = crier(&["preview", "nmk-voices", "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let bsky = v.iter().find(|x| x["channel"] == "bluesky").unwrap();
    assert_eq!(bsky["limit"], 300);
    let parts = bsky["parts"].as_array().unwrap();
    assert!(parts.len() >= 2, "too long for one post: a thread");
    assert!(parts.iter().all(|p| p["length"].as_u64().unwrap() <= 300));
    let (code, out) = crier(&[
        "preview",
        "news-update-2026-12",
        "--channel",
        "partners-email",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}");
    let email: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(email.len(), 1);
    for field in ["subject", "html", "text"] {
        assert!(
            email[0][field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
    assert!(
        email[0]["html"].as_str().unwrap().contains("<h2>"),
        "HTML part is HTML"
    );
    let (code, out) = crier(&["preview", "no-such-item"]);
    assert_eq!(code, 1);
    assert!(out.contains("no item `no-such-item`"), "{out}");
}

#[test]
fn the_shipped_example_passes_check_strictly() {
    let (code, out) = crier(&["check", "--strict"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 errors, 0 warnings"), "{out}");
}

/// #9: `crier … | head -1` closes the pipe early; the command ends quietly
/// as Unix tools do, not with a panic and exit code 101.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["when", "* * * * *", "--count", "20000"])
        .env_remove("CRIER_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away, as `head -1` does after its line; more than a
    // pipe's buffer is written, so the write fails even if it came first.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
    assert!(err.is_empty(), "nothing to say about a closed pipe: {err}");
}

/// #9: `check` and `preview` serve nothing, so a minimal configuration
/// (no `[daemon]` at all) is enough for them.
#[test]
fn check_and_preview_need_no_daemon_table() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "channels.toml",
        "[organisation]\nname = \"Org\"\nwebsite = \"https://example.org\"\n\n\
         [channels.site]\nkind = \"feed\"\ntitle = \"News\"\npath = \"news\"\n",
    );
    write(
        "campaigns/items.toml",
        "[[item]]\nid = \"n1\"\nkind = \"notice\"\ntitle = \"Hello\"\nbody = \"Body.\"\n\
         at = \"2027-01-05T10:00:00Z\"\nchannels = [\"site\"]\n",
    );
    write("templates/feed/default.html.hbs", "{{{item.body_html}}}\n");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_crier"))
            .current_dir(dir.path())
            .args(args)
            .env_remove("CRIER_CONFIG")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };
    let (code, out) = run(&["check"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("0 errors"), "{out}");
    assert!(
        !out.contains("public_url"),
        "a feed needs no public URL: {out}"
    );
    let (code, out) = run(&["preview", "n1"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Hello"), "{out}");
    // A channel that sends links to the daemon is told the URL is a default.
    let config = std::fs::read_to_string(dir.path().join("channels.toml")).unwrap();
    write(
        "channels.toml",
        &format!(
            "{config}\n[channels.chat]\nkind = \"teams\"\nwebhook_url_env = \"TEST_TEAMS_URL\"\n"
        ),
    );
    let (code, out) = run(&["check"]);
    assert_eq!(code, Some(0), "{out}");
    let warning = out
        .lines()
        .find(|l| l.contains("`[daemon] public_url`"))
        .unwrap_or_else(|| panic!("no warning about public_url: {out}"));
    assert!(
        warning.contains("chat") && warning.contains("warning"),
        "{warning}"
    );
    assert!(out.contains("1 warnings"), "{out}");
}

/// With `[console] git_commit` on and campaigns/ no git work tree, `check`
/// warns (saves would not be committed) but passes, unless `--strict`:
/// an error would stop the daemon starting over a record, not a send.
#[test]
fn check_warns_when_saves_cannot_be_committed_to_git() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "channels.toml",
        "[organisation]\nname = \"Org\"\nwebsite = \"https://example.org\"\n\n\
         [console]\ngit_commit = true\n\n\
         [channels.site]\nkind = \"feed\"\ntitle = \"News\"\npath = \"news\"\n",
    );
    write(
        "campaigns/items.toml",
        "[[item]]\nid = \"n1\"\nkind = \"notice\"\ntitle = \"Hello\"\nbody = \"Body.\"\n\
         at = \"2027-01-05T10:00:00Z\"\nchannels = [\"site\"]\n",
    );
    write("templates/feed/default.html.hbs", "{{{item.body_html}}}\n");
    // Not a repository, wherever the temporary folder is: `.git` points nowhere.
    write("campaigns/.git", "gitdir: /nonexistent/crier-test\n");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_crier"))
            .current_dir(dir.path())
            .args(args)
            .env_remove("CRIER_CONFIG")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&["check"]);
    assert_eq!(code, Some(0), "{out}");
    let warning = out
        .lines()
        .find(|l| l.contains("`[console] git_commit` is on"))
        .unwrap_or_else(|| panic!("no warning about git_commit: {out}"));
    assert!(
        warning.contains("warning") && warning.contains("not a git repository"),
        "{warning}"
    );
    let (code, out) = run(&["check", "--strict"]);
    assert_eq!(code, Some(1), "{out}");
    // A repository: nothing to say.
    std::fs::remove_file(dir.path().join("campaigns/.git")).unwrap();
    let init = Command::new("git")
        .current_dir(dir.path().join("campaigns"))
        .args(["init", "--quiet"])
        .status()
        .unwrap();
    assert!(init.success());
    let (code, out) = run(&["check", "--strict"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("git_commit"), "{out}");
}
