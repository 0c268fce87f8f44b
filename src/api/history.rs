//! An item's history: each save through the API recorded (the audit log,
//! with the entry's text either side, and with `[console] git_commit` a
//! commit of the file authored by whoever saved), and the item's earlier
//! versions read back, each with a diff against the one before.

use std::path::Path as FilePath;

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::edit;
use super::git::{Author, Git};
use super::problem::{Problem, ProblemDetails};
use super::ApiState;
use crate::access::Principal;
use crate::delivery::Actor;
use crate::store::ContentChange;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(versions))
}

/// A save just written: what the history records of it.
pub struct Saved<'a> {
    /// created, updated or deleted.
    pub action: &'static str,
    pub id: &'a str,
    /// The campaign file written.
    pub path: &'a FilePath,
    /// The entry's TOML text before and after (`None`: absent).
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    /// The entry's version after the save (empty when deleted).
    pub version: String,
}

/// Records a save that has been written: a commit of its file when
/// `[console] git_commit` is on, and the audit log's content change. A
/// commit that fails loses nothing (the file is written): its reason is
/// logged and kept with the change, for the item page to show.
pub async fn record(state: &ApiState, who: &Principal, saved: Saved<'_>) -> Result<(), Problem> {
    let config = state.workspace().config.clone();
    let dir = config.campaigns_dir();
    let file = saved
        .path
        .strip_prefix(&dir)
        .unwrap_or(saved.path)
        .to_string_lossy()
        .into_owned();
    let not_in_git = if config.console.git_commit {
        let mut message = format!("{} {}", saved.action, saved.id);
        if let Some(reason) = saved.reason.as_deref().filter(|r| !r.trim().is_empty()) {
            message.push_str(&format!("\n\n{}", reason.trim()));
        }
        let committed = Git::new(&dir)
            .commit(&file, &author(&who.actor), &message)
            .await;
        committed.err()
    } else {
        None
    };
    if let Some(why) = &not_in_git {
        tracing::warn!(
            item = saved.id,
            file,
            "the save was not recorded in git: {why}"
        );
    }
    let change = ContentChange {
        at: Utc::now(),
        actor: who.actor.clone(),
        item: saved.id.to_string(),
        action: saved.action.to_string(),
        version: saved.version,
        file,
        before: saved.before,
        after: saved.after,
        reason: saved.reason,
        not_in_git,
    };
    state.store.record_content_change(&change).await?;
    Ok(())
}

/// A commit's author for a save: people are known by their address (crier
/// keeps no other name); tokens and the command line by theirs.
fn author(actor: &Actor) -> Author {
    let (name, email) = match actor {
        Actor::Person(email) => (email.clone(), email.clone()),
        Actor::Token(name) => (format!("API token {name}"), String::new()),
        Actor::Cli(user) => (format!("{user} (command line)"), String::new()),
        Actor::Daemon => ("crier".to_string(), String::new()),
    };
    Author { name, email }
}

/// An item's earlier versions, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemVersions {
    pub item: String,
    /// `git`: the commits of the item's file that changed its entry.
    /// `audit`: the saves made through crier, from the audit log.
    pub source: String,
    /// Why the versions are not from git although `git_commit` is on.
    pub note: Option<String>,
    pub versions: Vec<ItemVersion>,
}

/// One version of an item's entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemVersion {
    pub at: DateTime<Utc>,
    /// Who made it: the commit's author, or the person, token or command
    /// line user the audit log names.
    pub who: String,
    /// The commit message, or the change and the reason given.
    pub summary: String,
    /// The commit, for a version from git.
    pub commit: Option<String>,
    /// The entry's TOML text; absent when the change removed the item (or,
    /// for changes recorded before texts were kept, unknown).
    pub text: Option<String>,
    /// A unified diff of the entry's text against the version before
    /// (`+` added lines, `-` removed ones); empty when not known.
    pub diff: String,
}

#[utoipa::path(get, path = "/api/v1/items/{id}/versions", params(("id" = String, Path)),
    security(("crier" = ["read"])), tag = "items",
    responses((status = 200, body = ItemVersions), (status = 404, body = ProblemDetails)))]
async fn versions(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ItemVersions>, Problem> {
    let ws = state.workspace();
    let changes = state.store.content_changes(&id).await?;
    let in_workspace = ws.item(&id);
    if in_workspace.is_none() && changes.is_empty() {
        return Err(Problem::not_found(format!("no item `{id}`")));
    }
    let dir = ws.config.campaigns_dir();
    // The file it is in now, or (removed) the last one a save named.
    let file = in_workspace
        .and_then(|i| i.origin.path.strip_prefix(&dir).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .or_else(|| {
            changes
                .iter()
                .rev()
                .map(|c| c.file.clone())
                .find(|f| !f.is_empty())
        });
    let mut note = None;
    if let (true, Some(file)) = (ws.config.console.git_commit, file) {
        match from_git(&Git::new(&dir), &file, &id).await {
            // Saves whose commits all failed are only in the audit log.
            Ok(versions) if versions.is_empty() && !changes.is_empty() => {
                note = Some(format!("not read from git: {file} has no commits yet"));
            }
            Ok(versions) => {
                return Ok(Json(ItemVersions {
                    item: id,
                    source: "git".into(),
                    note: None,
                    versions,
                }))
            }
            Err(why) => note = Some(format!("not read from git: {why}")),
        }
    }
    Ok(Json(ItemVersions {
        item: id,
        source: "audit".into(),
        note,
        versions: from_audit(&changes),
    }))
}

/// The commits of `file` in which the entry's text changed, newest first.
async fn from_git(git: &Git, file: &str, id: &str) -> Result<Vec<ItemVersion>, String> {
    let mut commits = git.log(file).await?;
    commits.reverse();
    let at: Vec<(String, String)> = commits
        .iter()
        .map(|c| (c.hash.clone(), c.path.clone()))
        .collect();
    let files = git.files_at(&at).await?;
    let mut versions = Vec::new();
    let mut before: Option<String> = None;
    for (commit, text) in commits.into_iter().zip(files) {
        let text = text.and_then(|t| edit::entry_text_in(&t, id));
        if text == before {
            continue;
        }
        let who = match commit.author.email.as_str() {
            "" => commit.author.name.clone(),
            email if email == commit.author.name => email.to_string(),
            email => format!("{} <{email}>", commit.author.name),
        };
        versions.push(ItemVersion {
            at: commit.at,
            who,
            summary: commit.message,
            commit: Some(commit.hash),
            diff: diff(before.as_deref(), text.as_deref()),
            text: text.clone(),
        });
        before = text;
    }
    versions.reverse();
    Ok(versions)
}

/// The saves the audit log holds, newest first.
fn from_audit(changes: &[ContentChange]) -> Vec<ItemVersion> {
    let mut versions: Vec<ItemVersion> = changes
        .iter()
        .map(|c| {
            let known = c.before.is_some() || c.after.is_some();
            let mut summary = c.action.clone();
            if let Some(reason) = &c.reason {
                summary.push_str(&format!(": {reason}"));
            }
            ItemVersion {
                at: c.at,
                who: author(&c.actor).name,
                summary,
                commit: None,
                text: c.after.clone(),
                diff: if known {
                    diff(c.before.as_deref(), c.after.as_deref())
                } else {
                    String::new()
                },
            }
        })
        .collect();
    versions.reverse();
    versions
}

/// A unified diff from `before` to `after` (either may be absent: all
/// added, all removed), three lines of context.
pub fn diff(before: Option<&str>, after: Option<&str>) -> String {
    let (before, after) = (before.unwrap_or(""), after.unwrap_or(""));
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header("before", "after")
        .to_string()
}
