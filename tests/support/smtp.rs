//! A real SMTP server (aiosmtpd, from the venv `scripts/test.sh` makes)
//! on a free loopback port, storing to a Maildir under the target folder
//! (file creation under /tmp is slow on some machines). Killed on drop.
//! Messages are read back with Python's `email` package.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub struct Sink {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    /// Messages accepted so far, as the sink reports them.
    accepted: Arc<(Mutex<u64>, Condvar)>,
}

pub fn python() -> String {
    std::env::var("CRIER_PYTHON")
        .unwrap_or_else(|_| format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR")))
}

fn script(name: &str) -> String {
    format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sink {
    pub fn start(args: &[&str]) -> Sink {
        Sink::start_on(free_port(), args)
    }

    pub fn start_on(port: u16, args: &[&str]) -> Sink {
        Sink::start_with(port, args, &[])
    }

    /// With environment variables for the sink (its `--auth-env` secret).
    pub fn start_with(port: u16, args: &[&str], env: &[(&str, &str)]) -> Sink {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("smtp");
        std::fs::create_dir_all(&base).unwrap();
        let dir = tempfile::tempdir_in(&base).unwrap().keep().join("Maildir");
        let mut child = Command::new(python())
            .arg(script("smtp_sink.py"))
            .args(["--port", &port.to_string(), "--maildir"])
            .arg(&dir)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python with aiosmtpd: run ./scripts/test.sh");
        let out = BufReader::new(child.stdout.take().unwrap());
        let accepted = Arc::new((Mutex::new(0u64), Condvar::new()));
        let ready = Arc::new((Mutex::new(false), Condvar::new()));
        let (a, r) = (accepted.clone(), ready.clone());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if line.starts_with("ready") {
                    *r.0.lock().unwrap() = true;
                    r.1.notify_all();
                } else if let Some(n) = line.strip_prefix("accepted ") {
                    *a.0.lock().unwrap() = n.parse().unwrap();
                    a.1.notify_all();
                }
            }
        });
        let guard = ready.0.lock().unwrap();
        let (ok, _) = ready
            .1
            .wait_timeout_while(guard, Duration::from_secs(20), |r| !*r)
            .unwrap();
        assert!(*ok, "the SMTP sink did not start");
        // Listening, as the sink said; connecting proves it.
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        Sink {
            child,
            port,
            dir,
            accepted,
        }
    }

    pub fn accepted(&self) -> u64 {
        *self.accepted.0.lock().unwrap()
    }

    /// Waits until at least `n` messages were accepted (fails after `limit`).
    pub fn wait_for(&self, n: u64, limit: Duration) -> u64 {
        let guard = self.accepted.0.lock().unwrap();
        let (got, _) = self
            .accepted
            .1
            .wait_timeout_while(guard, limit, |c| *c < n)
            .unwrap();
        assert!(*got >= n, "waited for {n} messages, the sink has {}", *got);
        *got
    }

    /// Every stored message, parsed by Python's `email` package.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        self.messages_dkim(&[])
    }

    /// Every stored message, its DKIM signature checked by dkimpy against
    /// these (name, TXT record) pairs standing in for DNS.
    pub fn messages_dkim(&self, dns: &[(&str, &str)]) -> Vec<serde_json::Value> {
        let mut cmd = Command::new(python());
        cmd.arg(script("read_mail.py")).arg(&self.dir);
        for (name, txt) in dns {
            cmd.arg("--dkim-dns").arg(format!("{name}={txt}"));
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

/// Keys and certificates made for this test run by `scripts/test_keys.py`
/// (Python `cryptography`), in a folder removed on drop.
pub struct Keys {
    pub dir: tempfile::TempDir,
}

impl Keys {
    pub fn new() -> Keys {
        Keys {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(python())
            .arg(script("test_keys.py"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("python with cryptography: run ./scripts/test.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A CA and a server certificate it signed for 127.0.0.1: returns
    /// (ca.pem, server.pem, server.key).
    pub fn tls(&self) -> (PathBuf, PathBuf, PathBuf) {
        self.run(&["tls", "."]);
        let p = |f: &str| self.dir.path().join(f);
        (p("ca.pem"), p("server.pem"), p("server.key"))
    }

    /// A DKIM key (`rsa` or `ed25519`) in a file: returns (file, TXT record).
    pub fn dkim(&self, algorithm: &str) -> (PathBuf, String) {
        let file = self.dir.path().join(format!("dkim-{algorithm}.key"));
        let txt = self.run(&[&format!("dkim-{algorithm}"), file.to_str().unwrap()]);
        (file, txt)
    }
}

/// One header's first value.
pub fn header<'a>(m: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    m["headers"][name.to_lowercase()][0].as_str()
}
