//! Small Python peers from `scripts/` on a free loopback port, each
//! printing `ready <port>` once it listens, killed on drop: a DNS server
//! (`dns_peer.py`) and a stand-in for SNS's HTTPS side (`sns_peer.py`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::smtp::python;

pub struct Peer {
    child: Child,
    pub port: u16,
}

impl Peer {
    fn start(script: &str, args: &[&str]) -> Peer {
        let mut child = Command::new(python())
            .arg(format!("{}/scripts/{script}", env!("CARGO_MANIFEST_DIR")))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the venv's python: run ./scripts/test.sh");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("{script} did not start: {line:?}"));
        Peer { child, port }
    }

    /// A DNS server holding these TXT records (name → values).
    pub fn dns(zone_file: &Path, records: &serde_json::Value) -> Peer {
        std::fs::write(zone_file, records.to_string()).unwrap();
        Peer::start("dns_peer.py", &[zone_file.to_str().unwrap()])
    }

    /// SNS's HTTPS side, with a server certificate from the test CA.
    pub fn sns(cert: &Path, key: &Path) -> Peer {
        Peer::start(
            "sns_peer.py",
            &[
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        )
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
