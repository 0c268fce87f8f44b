//! systemd's notify protocol against the real `crier serve`: the test is
//! the service manager, listening on a unix datagram socket named by
//! `NOTIFY_SOCKET`. `READY=1` comes only once the plan is in the store,
//! `WATCHDOG=1` pings come at the rate `WATCHDOG_USEC` asks, and a
//! SIGTERM is announced with `STOPPING=1`.

mod support;

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::daemon::{in_secs, Workspace};

/// Enough items that syncing the plan takes a while: a `READY=1` sent
/// before the sync would be caught with the store still filling.
const ITEMS: usize = 200;

fn workspace() -> Workspace {
    let ws = Workspace::new(
        "[channels.site]\nkind = \"feed\"\ntitle = \"News\"\npath = \"news\"\n",
        "",
    );
    let at = in_secs(3600);
    let items: String = (0..ITEMS)
        .map(|i| {
            format!(
                "[[item]]\nid = \"n{i}\"\nkind = \"notice\"\ntitle = \"Notice {i}\"\n\
                 body = \"Body {i}.\"\nat = \"{at}\"\nchannels = [\"site\"]\n\n"
            )
        })
        .collect();
    ws.write("campaigns/items.toml", &items);
    ws
}

/// The daemon, killed if the test ends early.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(ws: &Workspace, notify_socket: &str, watchdog_usec: Option<&str>) -> Serving {
    let log = std::fs::File::create(ws.path().join("daemon.log")).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_crier"));
    command
        .arg("--config")
        .arg(ws.config())
        .args(["serve", "--log-format", "json"])
        .env_remove("CRIER_CONFIG")
        .env_remove("WATCHDOG_PID")
        .env("NOTIFY_SOCKET", notify_socket)
        .stdout(Stdio::null())
        .stderr(log);
    match watchdog_usec {
        Some(usec) => command.env("WATCHDOG_USEC", usec),
        None => command.env_remove("WATCHDOG_USEC"),
    };
    Serving(command.spawn().unwrap())
}

/// The next notification, or a failure showing the daemon's log.
fn next(socket: &UnixDatagram, ws: &Workspace) -> String {
    let mut buf = [0u8; 4096];
    match socket.recv(&mut buf) {
        Ok(n) => String::from_utf8(buf[..n].to_vec()).unwrap(),
        Err(e) => panic!(
            "no notification ({e}); log:\n{}",
            std::fs::read_to_string(ws.path().join("daemon.log")).unwrap_or_default()
        ),
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A copy of the workspace, its store as committed now. Reading the live
/// store of a frozen daemon could wait on a write lock it holds; the copy
/// leaves out the lock file and SQLite's shared-memory index, so opening
/// it rebuilds the index from the log and keeps only committed writes.
fn snapshot(ws: &Workspace) -> Workspace {
    let copy = Workspace::new("", "");
    copy_dir(ws.path(), copy.path());
    copy
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if !matches!(
            name.to_str(),
            Some("crier.db-shm" | "crier.lock" | "notify.sock")
        ) {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn planned(ws: &Workspace) -> usize {
    ws.queue()
        .iter()
        .filter(|r| r["state"] == "planned")
        .count()
}

#[test]
fn ready_comes_after_the_plan_is_stored_then_watchdog_pings_and_stopping() {
    let ws = workspace();
    let path = ws.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let daemon = serve(&ws, path.to_str().unwrap(), Some("200000"));

    assert_eq!(next(&socket, &ws), "READY=1");
    // Frozen the moment it said so, its store is copied: what the copy
    // holds was there when it said it was ready.
    signal(&daemon.0, "STOP");
    let at_ready = snapshot(&ws);
    signal(&daemon.0, "CONT");
    assert_eq!(
        planned(&at_ready),
        ITEMS,
        "READY=1 came before the plan was stored"
    );

    // WATCHDOG_USEC of 0.2 s: a ping every 0.1 s; three within 2 s.
    let start = Instant::now();
    let mut pings = 0;
    while pings < 3 {
        assert_eq!(next(&socket, &ws), "WATCHDOG=1");
        pings += 1;
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    signal(&daemon.0, "TERM");
    let stopping = loop {
        let message = next(&socket, &ws);
        if message != "WATCHDOG=1" {
            break message;
        }
    };
    assert_eq!(stopping, "STOPPING=1");
    let mut daemon = daemon;
    assert!(daemon.0.wait().unwrap().success());
}

/// systemd names an abstract socket `@name` (no file); without
/// `WATCHDOG_USEC` no ping is sent.
#[cfg(target_os = "linux")]
#[test]
fn an_abstract_notify_socket_gets_ready_and_no_pings_without_a_watchdog() {
    use std::os::linux::net::SocketAddrExt as _;
    use std::os::unix::net::SocketAddr;

    let ws = workspace();
    let name = format!("crier-test-notify-{}", std::process::id());
    let socket =
        UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let daemon = serve(&ws, &format!("@{name}"), None);
    assert_eq!(next(&socket, &ws), "READY=1");
    assert_eq!(planned(&ws), ITEMS);

    signal(&daemon.0, "TERM");
    // The next message is the stop, with no ping before it.
    assert_eq!(next(&socket, &ws), "STOPPING=1");
    let mut daemon = daemon;
    assert!(daemon.0.wait().unwrap().success());
}
