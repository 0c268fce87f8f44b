//! The git command line, for `[console] git_commit`: a save through the API
//! becomes a commit of exactly its file, authored by whoever saved it, and
//! an item's earlier versions are read back from the file's log.
//!
//! git runs as a program with explicit arguments (no shell), in the
//! campaigns folder, with the caller's `GIT_*` environment removed so only
//! the arguments here decide what it does, and with a time limit: a hung
//! hook must not hold the save lock.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// How long one git command may take before it is stopped.
const LIMIT: Duration = Duration::from_secs(30);

/// Who a commit is by (the person who saved) and who made it (crier).
#[derive(Debug, Clone)]
pub struct Author {
    pub name: String,
    pub email: String,
}

/// One commit of a file, as `git log --follow` lists it.
#[derive(Debug, Clone)]
pub struct Commit {
    pub hash: String,
    pub at: DateTime<Utc>,
    pub author: Author,
    pub message: String,
    /// The file's name at that commit (it may have been renamed since).
    pub path: String,
}

/// git in one folder (the campaigns folder).
pub struct Git {
    dir: PathBuf,
}

impl Git {
    pub fn new(dir: &Path) -> Git {
        Git {
            dir: dir.to_path_buf(),
        }
    }

    /// The command for `args`: in the folder, pathspecs literal, the
    /// environment's `GIT_*` removed, nothing read from standard input.
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new("git");
        c.current_dir(&self.dir)
            .arg("--literal-pathspecs")
            .args(["-c", "user.name=crier", "-c", "user.email=crier@localhost"])
            .args(args)
            .stdin(Stdio::null());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("GIT_") {
                c.env_remove(name);
            }
        }
        c
    }

    /// Why the folder cannot hold commits, if it cannot (for `crier check`).
    pub fn work_tree_problem(&self) -> Option<String> {
        match self
            .command(&["rev-parse", "--is-inside-work-tree"])
            .output()
        {
            Ok(out) if out.status.success() && out.stdout.starts_with(b"true") => None,
            Ok(out) => Some(reason(&out)),
            Err(e) => Some(format!("cannot run git: {e}")),
        }
    }

    async fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Result<Output, String> {
        let mut c = tokio::process::Command::from(self.command(args));
        c.envs(envs.iter().copied()).kill_on_drop(true);
        let out = tokio::time::timeout(LIMIT, c.output())
            .await
            .map_err(|_| format!("git {} took longer than {}s", args[0], LIMIT.as_secs()))?
            .map_err(|e| format!("cannot run git: {e}"))?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(reason(&out))
        }
    }

    /// Commits the file `name` (in the folder) as it is now, and nothing
    /// else: whatever else is staged stays staged. `Ok(None)` when the
    /// file is as git already has it.
    pub async fn commit(
        &self,
        name: &str,
        author: &Author,
        message: &str,
    ) -> Result<Option<String>, String> {
        self.run(&["add", "--all", "--", name], &[]).await?;
        let unchanged = self
            .run(&["diff", "--cached", "--quiet", "--", name], &[])
            .await
            .is_ok();
        if unchanged {
            return Ok(None);
        }
        let envs = [
            ("GIT_AUTHOR_NAME", author.name.as_str()),
            ("GIT_AUTHOR_EMAIL", author.email.as_str()),
        ];
        self.run(&["commit", "--quiet", "-m", message, "--", name], &envs)
            .await?;
        let out = self.run(&["rev-parse", "HEAD"], &[]).await?;
        Ok(Some(
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        ))
    }

    /// The commits that touched the file `name`, newest first, following
    /// renames.
    pub async fn log(&self, name: &str) -> Result<Vec<Commit>, String> {
        // Fields apart by NUL, commits by RS: neither occurs in a message.
        let format = "--format=%x1e%H%x00%aI%x00%an%x00%ae%x00%B%x00";
        let out = self
            .run(&["log", "--follow", "--name-only", format, "--", name], &[])
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.split('\u{1e}').filter_map(parse_commit).collect())
    }

    /// The file `path` at each commit (`None` where it did not exist),
    /// in one `git cat-file --batch`.
    pub async fn files_at(&self, at: &[(String, String)]) -> Result<Vec<Option<String>>, String> {
        use tokio::io::AsyncWriteExt;
        if at.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = tokio::process::Command::from(self.command(&["cat-file", "--batch"]));
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = c.spawn().map_err(|e| format!("cannot run git: {e}"))?;
        let input: String = at.iter().map(|(h, p)| format!("{h}:{p}\n")).collect();
        let mut stdin = child.stdin.take().expect("piped");
        let write = async move {
            stdin.write_all(input.as_bytes()).await?;
            drop(stdin);
            Ok::<_, std::io::Error>(())
        };
        let (written, out) = tokio::time::timeout(LIMIT, async {
            tokio::join!(write, child.wait_with_output())
        })
        .await
        .map_err(|_| format!("git cat-file took longer than {}s", LIMIT.as_secs()))?;
        let out = out.map_err(|e| format!("cannot run git: {e}"))?;
        written.map_err(|e| format!("git cat-file: {e}"))?;
        if !out.status.success() {
            return Err(reason(&out));
        }
        parse_batch(&out.stdout, at.len())
    }
}

fn parse_commit(record: &str) -> Option<Commit> {
    let mut fields = record.split('\0');
    let hash = fields.next()?.trim().to_string();
    let at = DateTime::parse_from_rfc3339(fields.next()?).ok()?.to_utc();
    let name = fields.next()?.to_string();
    let email = fields.next()?.to_string();
    let message = fields.next()?.trim().to_string();
    let path = fields.next()?.lines().find(|l| !l.trim().is_empty())?;
    Some(Commit {
        hash,
        at,
        author: Author { name, email },
        message,
        path: path.trim().to_string(),
    })
}

/// `cat-file --batch` answers: `<hash> <type> <size>\n<bytes>\n`, or
/// `<what> missing\n`.
fn parse_batch(mut out: &[u8], expected: usize) -> Result<Vec<Option<String>>, String> {
    let bad = || "git cat-file answered something unexpected".to_string();
    let mut files = Vec::with_capacity(expected);
    while !out.is_empty() {
        let end = out.iter().position(|b| *b == b'\n').ok_or_else(bad)?;
        let header = String::from_utf8_lossy(&out[..end]).into_owned();
        out = &out[end + 1..];
        if header.ends_with(" missing") || header.ends_with(" ambiguous") {
            files.push(None);
            continue;
        }
        let size: usize = header
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        let body = out.get(..size).ok_or_else(bad)?;
        files.push(Some(String::from_utf8_lossy(body).into_owned()));
        out = out.get(size + 1..).ok_or_else(bad)?;
    }
    if files.len() == expected {
        Ok(files)
    } else {
        Err(bad())
    }
}

/// What git said on failing, in one line: the first it wrote (git's
/// `fatal: …`, or a hook's own first words).
fn reason(out: &Output) -> String {
    let said = [&out.stderr, &out.stdout]
        .into_iter()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        .find_map(|text| {
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        });
    let line = said.unwrap_or_else(|| format!("git exited with {}", out.status));
    line.chars().take(200).collect()
}
