//! systemd's service notifications (`Type=notify`, deploy/crier.service):
//! `READY=1` once the store is open and the plan synced, `STOPPING=1` when
//! a stop begins, and `WATCHDOG=1` pings while the daemon is healthy.
//! Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.

use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;
use tracing::warn;

use crate::store::Store;

/// Sends one notification (`READY=1`, `STOPPING=1`, …) to systemd, if it
/// asked for them. A failure is logged, never fatal: systemd then acts on
/// the silence (a start timeout, a watchdog restart), which is its job.
pub fn notify(state: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = address(target.as_bytes())
        .and_then(|addr| UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr));
    if let Err(e) = sent {
        warn!(error = %e, state, "cannot notify systemd");
    }
}

/// A socket path, or `@name` for a Linux abstract socket (systemd uses
/// those for services in their own network namespace).
fn address(target: &[u8]) -> io::Result<SocketAddr> {
    #[cfg(target_os = "linux")]
    if let Some(name) = target.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt as _;
        return SocketAddr::from_abstract_name(name);
    }
    SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(target))
}

/// How often systemd wants a `WATCHDOG=1`: half its `WatchdogSec=`, so
/// one late ping is not a restart. `None` when no watchdog is set, or
/// it is set for another process (`WATCHDOG_PID`).
fn watchdog_interval() -> Option<Duration> {
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim() != std::process::id().to_string() {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Pings systemd's watchdog while the daemon can still do its work: the
/// runtime runs this task, the dispatcher has not ended, and the store
/// answers within one interval. When any stops, the pings stop and
/// systemd restarts the service (`Restart=on-failure`); the next start
/// recovers whatever was in flight.
pub fn watchdog(dispatcher: AbortHandle, store: Arc<dyn Store>) {
    let Some(every) = watchdog_interval() else {
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if dispatcher.is_finished() {
                warn!("the dispatcher has stopped; no more watchdog pings");
                return;
            }
            match tokio::time::timeout(every, store.next_wakeup()).await {
                Ok(Ok(_)) => notify("WATCHDOG=1"),
                Ok(Err(e)) => warn!(error = %e, "the store fails; skipping a watchdog ping"),
                Err(_) => warn!("the store did not answer in time; skipping a watchdog ping"),
            }
        }
    });
}
