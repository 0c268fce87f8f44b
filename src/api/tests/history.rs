//! An item's history: with `[console] git_commit` each save is a commit of
//! exactly its file by the person who saved, and the versions come from
//! git; without it, from the audit log. A commit that fails loses nothing.

use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::Fixture;

const GIT_ON: &str = "[console]\ngit_commit = true\n";

/// git in `dir`, as a person at a shell would run it (with an identity of
/// their own); its output.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Setup",
            "-c",
            "user.email=setup@example.org",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A pre-commit hook in the repository at `dir` that says `words` and
/// exits 1; its path.
fn refusing_hook(dir: &Path, words: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let hook = dir.join(".git/hooks/pre-commit");
    std::fs::write(&hook, format!("#!/bin/sh\necho '{words}' >&2\nexit 1\n")).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    hook
}

/// campaigns/ as a git repository holding the fixture's file.
fn repository(fx: &Fixture) -> std::path::PathBuf {
    let dir = fx.file("campaigns");
    git(&dir, &["init", "--quiet"]);
    git(&dir, &["add", "courses.toml"]);
    git(
        &dir,
        &["commit", "--quiet", "-m", "courses as written by hand"],
    );
    dir
}

/// Reads `id` and saves it as `role` with `title` (and a reason).
async fn retitle(fx: &Fixture, role: &str, id: &str, title: &str) -> Value {
    let (_, headers, item) = fx
        .as_role(role, "GET", &format!("/api/v1/items/{id}"), &[], None)
        .await;
    let etag = headers["etag"].to_str().unwrap().to_string();
    let mut fields = item["fields"].clone();
    fields["title"] = json!(title);
    let (status, _, body) = fx
        .as_role(
            role,
            "PUT",
            &format!("/api/v1/items/{id}"),
            &[("if-match", &etag)],
            Some(json!({ "fields": fields, "reason": format!("{role} says so") })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn versions(fx: &Fixture, id: &str) -> Value {
    let (status, _, body) = fx
        .as_role(
            "author",
            "GET",
            &format!("/api/v1/items/{id}/versions"),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn each_save_is_a_commit_of_its_file_by_whoever_saved_and_versions_come_from_git() {
    let fx = Fixture::with_channels(GIT_ON).await;
    let dir = repository(&fx);
    // Someone's work in progress: staged, and changed but not staged.
    std::fs::write(dir.join("draft.txt"), "not ready\n").unwrap();
    git(&dir, &["add", "draft.txt"]);
    std::fs::write(dir.join("notes.md"), "mine\n").unwrap();

    retitle(&fx, "author", "course-a", "Course A, first").await;
    retitle(&fx, "publisher", "course-a", "Course A, second").await;

    // Newest first: by whom, made by crier, the message, the files.
    let commits: Vec<(String, String)> = git(&dir, &["log", "-2", "--format=%H"])
        .lines()
        .map(|hash| {
            let who = git(
                &dir,
                &["show", "-s", "--format=%an <%ae> by %cn <%ce>: %B", hash],
            );
            let files = git(&dir, &["show", "--name-only", "--format=", hash]);
            (who.trim().to_string(), files.trim().to_string())
        })
        .collect();
    let by = |who: &str| {
        format!("{who}@example.org <{who}@example.org> by crier <crier@localhost>: updated course-a\n\n{who} says so")
    };
    assert_eq!(
        commits,
        [
            (by("publisher"), "courses.toml".to_string()),
            (by("author"), "courses.toml".to_string())
        ]
    );
    // The other work is as it was: still staged, still uncommitted.
    let status = git(&dir, &["status", "--porcelain"]);
    assert!(
        status.contains("A  draft.txt") && status.contains("?? notes.md"),
        "{status}"
    );
    assert!(!status.contains("courses.toml"), "{status}");

    let v = versions(&fx, "course-a").await;
    assert_eq!(v["source"], "git", "{v}");
    let list = v["versions"].as_array().unwrap();
    // Two saves, and the first commit (by hand) where the item appeared.
    assert_eq!(list.len(), 3, "{v}");
    assert_eq!(list[0]["who"], "publisher@example.org");
    assert_eq!(list[1]["who"], "author@example.org");
    assert_eq!(list[2]["who"], "Setup <setup@example.org>");
    assert_eq!(list[0]["summary"], "updated course-a\n\npublisher says so");
    let diff = list[0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-title = \"Course A, first\"   # the short name\n")
            && diff.contains("+title = \"Course A, second\"   # the short name\n"),
        "{diff}"
    );
    assert!(
        list[2]["diff"]
            .as_str()
            .unwrap()
            .contains("+id = \"course-a\"\n"),
        "{v}"
    );
    // course-b's entry never changed: only the commit that added it.
    let b = versions(&fx, "course-b").await;
    assert_eq!(b["versions"].as_array().unwrap().len(), 1, "{b}");
}

#[tokio::test]
async fn a_delete_is_committed_and_its_versions_still_read_from_git() {
    let fx = Fixture::with_channels(GIT_ON).await;
    let dir = repository(&fx);
    let (_, headers, _) = fx
        .as_role("author", "GET", "/api/v1/items/course-b", &[], None)
        .await;
    let etag = headers["etag"].to_str().unwrap().to_string();
    let (status, _, body) = fx
        .as_role(
            "author",
            "DELETE",
            "/api/v1/items/course-b?reason=cancelled",
            &[("if-match", &etag)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        git(&dir, &["log", "-1", "--format=%ae %s|%b"]).trim(),
        "author@example.org deleted course-b|cancelled"
    );
    let v = versions(&fx, "course-b").await;
    let list = v["versions"].as_array().unwrap();
    assert_eq!((v["source"].as_str(), list.len()), (Some("git"), 2), "{v}");
    assert!(list[0]["text"].is_null(), "{v}");
    assert!(
        list[0]["diff"]
            .as_str()
            .unwrap()
            .contains("-title = \"Course B\"\n"),
        "{v}"
    );
}

#[tokio::test]
async fn without_git_the_versions_are_the_saves_in_the_audit_log() {
    let fx = Fixture::new().await;
    let (status, _, body) = fx
        .as_role(
            "author",
            "POST",
            "/api/v1/items",
            &[],
            Some(json!({ "fields": {
                "id": "course-c", "kind": "notice", "title": "Course C",
                "at": "2030-01-12 10:00", "channels": ["log"], "body": "A third."
            }})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    retitle(&fx, "publisher", "course-c", "Course C, renamed").await;

    let v = versions(&fx, "course-c").await;
    assert_eq!(v["source"], "audit", "{v}");
    let list = v["versions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{v}");
    assert_eq!(list[0]["who"], "publisher@example.org");
    assert_eq!(list[0]["summary"], "updated: publisher says so");
    assert_eq!(list[1]["who"], "author@example.org");
    assert_eq!(list[1]["summary"], "created");
    let diff = list[0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-title = \"Course C\"\n")
            && diff.contains("+title = \"Course C, renamed\"\n"),
        "{diff}"
    );
    assert!(
        list[1]["diff"]
            .as_str()
            .unwrap()
            .contains("+id = \"course-c\"\n"),
        "{v}"
    );
    assert!(!fx.file("campaigns/.git").exists());
    // An item nobody has saved through crier has no versions yet.
    let a = versions(&fx, "course-a").await;
    assert_eq!(a["versions"], json!([]), "{a}");
    let (status, _, _) = fx
        .as_role("author", "GET", "/api/v1/items/nothing/versions", &[], None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The latest content change in the audit log, as the item page reads it.
async fn latest_save(fx: &Fixture, id: &str) -> Value {
    let (_, _, log) = fx
        .as_role(
            "author",
            "GET",
            &format!("/api/v1/audit?item={id}"),
            &[],
            None,
        )
        .await;
    log.as_array()
        .unwrap()
        .iter()
        .find(|e| e["delivery"].is_null())
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn a_failed_commit_keeps_the_save_and_says_why() {
    // campaigns/ is not a repository: its `.git` points nowhere (so git
    // stops there, whatever folder the temporary one is in).
    let fx = Fixture::with_channels(GIT_ON).await;
    std::fs::write(
        fx.file("campaigns/.git"),
        "gitdir: /nonexistent/crier-test\n",
    )
    .unwrap();
    retitle(&fx, "author", "course-a", "Saved anyway").await;
    let file = std::fs::read_to_string(fx.file("campaigns/courses.toml")).unwrap();
    assert!(file.contains("title = \"Saved anyway\""), "{file}");
    let save = latest_save(&fx, "course-a").await;
    let why = save["not_in_git"].as_str().unwrap();
    assert!(why.contains("not a git repository"), "{save}");
    assert!(
        save["what"]
            .as_str()
            .unwrap()
            .contains("(not recorded in git: "),
        "{save}"
    );
    // The versions fall back to the audit log, and say why.
    let v = versions(&fx, "course-a").await;
    assert_eq!(v["source"], "audit", "{v}");
    assert!(
        v["note"].as_str().unwrap().contains("not a git repository"),
        "{v}"
    );

    // A new file whose commit was refused: its saves are in the audit log.
    let fx = Fixture::with_channels(GIT_ON).await;
    refusing_hook(&repository(&fx), "no");
    let (status, _, body) = fx
        .as_role(
            "author",
            "POST",
            "/api/v1/items",
            &[],
            Some(json!({ "fields": {
                "id": "course-c", "kind": "notice", "title": "Course C",
                "at": "2030-01-12 10:00", "channels": ["log"], "body": "A third."
            }})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v = versions(&fx, "course-c").await;
    assert_eq!(
        (v["source"].as_str(), v["note"].as_str()),
        (
            Some("audit"),
            Some("not read from git: course-c.toml has no commits yet")
        ),
        "{v}"
    );
    assert_eq!(v["versions"].as_array().unwrap().len(), 1, "{v}");

    // A repository whose pre-commit hook refuses.
    let fx = Fixture::with_channels(GIT_ON).await;
    let dir = repository(&fx);
    let hook = refusing_hook(&dir, "refused by the house rules");
    let before = git(&dir, &["rev-parse", "HEAD"]);
    retitle(&fx, "author", "course-a", "Saved anyway").await;
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), before);
    let save = latest_save(&fx, "course-a").await;
    assert_eq!(save["not_in_git"], "refused by the house rules", "{save}");
    // The next save that commits records the file, the earlier change with it.
    std::fs::remove_file(&hook).unwrap();
    retitle(&fx, "publisher", "course-a", "Committed").await;
    assert!(latest_save(&fx, "course-a").await["not_in_git"].is_null());
    assert_eq!(
        git(&dir, &["log", "-1", "--format=%ae"]).trim(),
        "publisher@example.org"
    );
}
