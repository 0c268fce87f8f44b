//! The real `crier` binary in a temporary workspace: write content, start
//! and kill the daemon, run CLI commands, and wait on the store's state
//! (`crier queue --format json`). Waiting on log lines is only for what the
//! store does not record (the daemon is up, a refused content change).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// How long a test waits for the daemon to do something before failing.
const WAIT_LIMIT: Duration = Duration::from_secs(30);
/// How often a wait on the store looks again.
const POLL: Duration = Duration::from_millis(100);

pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Workspace {
    /// A workspace whose `channels.toml` has `[daemon]` settings for tests
    /// plus `channels` (TOML tables) appended.
    pub fn new(channels: &str, daemon_extra: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = format!(
            "[organisation]\nname = \"Test Partnership\"\nwebsite = \"https://example.org\"\n\n\
             [daemon]\nlisten = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             retry_base_seconds = 1\n{daemon_extra}\n\n{channels}\n"
        );
        let ws = Workspace { dir, port };
        ws.write("channels.toml", &config);
        ws.write(
            "templates/social/default.txt.hbs",
            "{{item.title}}\n\n{{item.body_text}}\n",
        );
        ws.write("templates/feed/default.html.hbs", "{{{item.body_html}}}\n");
        ws.write("templates/document/default.txt.hbs", "{{item.title}}\n");
        ws
    }

    /// The shipped example (channels.toml, campaigns/, templates/ of this
    /// repository) in a workspace of its own, listening on a free port.
    pub fn shipped_example() -> Workspace {
        let ws = Workspace::new("", "");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = std::fs::read_to_string(root.join("channels.toml")).unwrap();
        let url = format!("127.0.0.1:{}", ws.port);
        ws.write("channels.toml", &config.replace("127.0.0.1:8080", &url));
        for dir in ["campaigns", "templates"] {
            copy_dir(&root.join(dir), &ws.path().join(dir));
        }
        ws
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> PathBuf {
        self.path().join("channels.toml")
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Runs a CLI command against this workspace.
    pub fn crier(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_crier"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env_remove("CRIER_CONFIG")
            .output()
            .unwrap()
    }

    /// `crier queue --format json`, parsed.
    pub fn queue(&self) -> Vec<serde_json::Value> {
        let out = self.crier(&["queue", "--format", "json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Polls `crier queue --format json` until `done` holds for the rows and
    /// returns them; fails the test, showing `what` and the queue, after
    /// [`WAIT_LIMIT`]. The store's state, not a log line: a log line can
    /// name the wrong delivery, come from another one, or precede the work.
    pub fn wait_queue(
        &self,
        what: &str,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + WAIT_LIMIT;
        loop {
            let rows = self.queue();
            if done(&rows) {
                return rows;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited {WAIT_LIMIT:?} for {what}; queue:\n{}",
                serde_json::to_string_pretty(&rows).unwrap()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until at least `n` deliveries are in `state` (as `crier queue`
    /// shows it, e.g. "sent", "retrying", "held:credentials").
    pub fn wait_state(&self, state: &str, n: usize) -> Vec<serde_json::Value> {
        self.wait_queue(&format!("{n} deliveries {state}"), |rows| {
            rows.iter().filter(|r| r["state"] == state).count() >= n
        })
    }

    /// Waits until delivery `id` is in `state`, and returns its row.
    pub fn wait_delivery(&self, id: i64, state: &str) -> serde_json::Value {
        let rows = self.wait_queue(&format!("delivery {id} {state}"), |rows| {
            rows.iter().any(|r| r["id"] == id && r["state"] == state)
        });
        rows.into_iter().find(|r| r["id"] == id).unwrap()
    }

    /// Waits until a delivery of `item` is in `state`, and returns its row.
    pub fn wait_item(&self, item: &str, state: &str) -> serde_json::Value {
        let rows = self.wait_queue(&format!("a delivery of {item} {state}"), |rows| {
            rows.iter()
                .any(|r| r["item"] == item && r["state"] == state)
        });
        rows.into_iter()
            .find(|r| r["item"] == item && r["state"] == state)
            .unwrap()
    }

    /// Starts `crier --config … serve` and returns once the daemon answers
    /// `/healthz` (its state, not a log line).
    pub fn start(&self, env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_crier"));
        command.arg("--config").arg(self.config());
        self.answering(spawn(command, env))
    }

    /// Starts `crier ARGS serve` from the workspace folder, as a person
    /// runs it there (`args` may give a relative `--config`, or nothing),
    /// and returns once the daemon answers `/healthz`.
    pub fn start_here(&self, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_crier"));
        command.current_dir(self.path()).args(args);
        self.answering(spawn(command, env))
    }

    /// Another daemon on this workspace's content (the same `campaigns/`
    /// and `templates/`, as instances sharing a folder): a configuration
    /// file of its own, `NAME.toml`, with its own port and data folder.
    pub fn instance(&self, name: &str) -> Instance {
        let port = free_port();
        let config = std::fs::read_to_string(self.config())
            .unwrap()
            .replace(
                &format!("127.0.0.1:{}", self.port),
                &format!("127.0.0.1:{port}"),
            )
            .replace(
                "data_dir = \"data\"",
                &format!("data_dir = \"data-{name}\""),
            );
        self.write(&format!("{name}.toml"), &config);
        Instance {
            config: self.path().join(format!("{name}.toml")),
            port,
        }
    }

    /// Starts an [`instance`](Self::instance) and returns once it answers.
    pub fn start_instance(&self, instance: &Instance, env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_crier"));
        command.arg("--config").arg(&instance.config);
        answering(instance.port, spawn(command, env))
    }

    fn answering(&self, daemon: Daemon) -> Daemon {
        answering(self.port, daemon)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// A second daemon's configuration, from [`Workspace::instance`].
pub struct Instance {
    pub config: PathBuf,
    pub port: u16,
}

/// Waits until the daemon on `port` answers `/healthz` (or fails the test,
/// showing its log, if it exits or the wait runs out).
fn answering(port: u16, mut daemon: Daemon) -> Daemon {
    let deadline = std::time::Instant::now() + WAIT_LIMIT;
    while !answers(port, "/healthz") {
        let exited = daemon.child.try_wait().unwrap();
        assert!(
            exited.is_none() && std::time::Instant::now() < deadline,
            "the daemon did not answer /healthz ({exited:?}); log:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon
}

/// Whether an HTTP server on `port` answers a GET of `path` (any status).
fn answers(port: u16, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: crier\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    s.write_all(request.as_bytes()).is_ok()
        && s.read_to_end(&mut answer).is_ok()
        && answer.starts_with(b"HTTP/1.1 ")
}

/// Runs `command serve --log-format json`, collecting its log.
fn spawn(mut command: Command, env: &[(&str, &str)]) -> Daemon {
    let mut child = command
        .args(["serve", "--log-format", "json"])
        .env_remove("CRIER_CONFIG")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new((Mutex::new(Vec::<String>::new()), Condvar::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let (lines, cv) = &*sink;
            lines.lock().unwrap().push(line);
            cv.notify_all();
        }
    });
    Daemon {
        child,
        log,
        reader: Some(reader),
    }
}

pub struct Daemon {
    child: Child,
    log: Arc<(Mutex<Vec<String>>, Condvar)>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Waits until `count` log lines contain `needle`; fails the test
    /// (showing the log) if that takes too long or the daemon exits.
    pub fn wait_log(&self, needle: &str, count: usize) -> Vec<String> {
        let (lines, cv) = &*self.log;
        let deadline = std::time::Instant::now() + WAIT_LIMIT;
        let mut guard = lines.lock().unwrap();
        loop {
            let hits: Vec<String> = guard
                .iter()
                .filter(|l| l.contains(needle))
                .cloned()
                .collect();
            if hits.len() >= count {
                return hits;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(
                !left.is_zero(),
                "waited for {count}× {needle:?}; log:\n{}",
                guard.join("\n")
            );
            guard = cv.wait_timeout(guard, left).unwrap().0;
        }
    }

    pub fn log(&self) -> String {
        self.log.0.lock().unwrap().join("\n")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to clean up, as in a crash or power loss.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }

    /// SIGTERM; the exit status and the whole log, to its last line.
    pub fn stop(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let lines = self.log.0.lock().unwrap().clone();
        (exit, lines)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An RFC 3339 time `secs` from now, for items due "seconds ahead".
pub fn in_secs(secs: i64) -> String {
    (Utc::now() + chrono::TimeDelta::seconds(secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn parse_time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
