//! `crier serve`: the background service.
//!
//! Start-up order matters: check content, open the store, take the data
//! folder's lock (one daemon per queue), bind the port, recover what a
//! previous process left in flight, sync the plan, then dispatch.

mod http;
pub mod reload;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context as _};
use crier_schedule::{Clock, SystemClock};
use tokio::sync::{watch, Notify};
use tracing::{error, info, warn};

use crate::channels::stopping::Stopping;
use crate::channels::Services;
use crate::dispatch::{Dispatcher, RateGates, Settings};
use crate::metrics::Metrics;

pub async fn serve(config: &Path) -> anyhow::Result<()> {
    crate::channels::http::install_crypto_provider();
    let checked = reload::load_checked(config).map_err(|problems| {
        anyhow::anyhow!(
            "the content fails `crier check`; fix it and start again:\n  {}",
            problems.join("\n  ")
        )
    })?;
    let ws = &checked.workspace;
    let data_dir = ws.config.data_dir();
    let _lock = lock_data_dir(&data_dir)?;
    let opened = crate::store::open(&ws.config).await?;
    let store = opened.queue.clone();
    let listen = ws.config.daemon.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: is another crier or service using that port? Set [daemon] listen"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let publish_dir = data_dir.join("public");
    // Set on SIGTERM/SIGINT: the dispatcher, every publisher and the HTTP
    // server see it.
    let (stop_tx, stop_rx) = watch::channel(false);
    let services = Services {
        http: crate::channels::http::client(),
        publish_dir: publish_dir.clone(),
        public_url: ws
            .config
            .daemon
            .public_url
            .trim_end_matches('/')
            .to_string(),
        store: opened.channels.clone(),
        clock: clock.clone(),
        credentials: crate::credentials::Credentials::new(&data_dir),
        campaigns_dir: ws.config.campaigns_dir(),
        stopping: Stopping::new(stop_rx.clone()),
    };
    let settings = Settings::from_config(&ws.config.daemon);
    // What channels set up before anything is sent (feeds' files).
    for channel in &ws.channels {
        channel
            .start(&services)
            .await
            .map_err(|e| anyhow::anyhow!("channel `{}`: {e}", channel.name()))?;
    }
    let summary = reload::sync(&checked, store.as_ref(), clock.now()).await?;
    info!(
        added = summary.added,
        updated = summary.updated,
        cancelled = summary.cancelled,
        "queue matches content"
    );
    let watch_dirs = vec![ws.config.campaigns_dir(), ws.config.templates_dir()];
    let workspace = Arc::new(RwLock::new(Arc::new(checked.workspace)));
    let wake = Arc::new(Notify::new());
    let metrics = Arc::new(Metrics::default());
    let dispatcher = Arc::new(Dispatcher {
        store: store.clone(),
        workspace: workspace.clone(),
        services,
        settings,
        metrics: metrics.clone(),
        wake: wake.clone(),
        gates: RateGates::default(),
        in_process: Default::default(),
    });
    // Everything in flight belongs to a dead process (we hold the lock):
    // take every lease, however far ahead it runs; what is recorded about
    // them carries the clock's time.
    let recovered =
        crate::dispatch::recover::expired(&dispatcher, chrono::DateTime::<chrono::Utc>::MAX_UTC)
            .await?;
    if recovered > 0 {
        info!(
            recovered,
            "recovered deliveries left in flight by the previous run"
        );
    }
    let reloader = Arc::new(reload::Reloader {
        config: config.to_path_buf(),
        workspace,
        store: store.clone(),
        clock,
        wake: wake.clone(),
    });
    let mut channel_routes = crate::channels::registry::routes(&dispatcher.services);
    {
        let ws = dispatcher.workspace.read().expect("workspace lock");
        channel_routes.extend(
            ws.channels
                .iter()
                .filter_map(|c| c.routes(&dispatcher.services)),
        );
    }
    let app = http::app(
        http::AppState {
            store,
            channel_store: opened.channels,
            metrics,
            wake,
            workspace: dispatcher.workspace.clone(),
        },
        channel_routes,
    );
    // Watching before serving: once /healthz answers, an edit is seen.
    reloader.clone().watch(watch_dirs);
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = server_stop.wait_for(|s| *s).await;
        })
        .await
    });
    tokio::spawn(learn_limits(
        dispatcher.clone(),
        data_dir.clone(),
        reloader.clone(),
    ));
    tokio::spawn(on_sighup(reloader));
    let dispatch = tokio::spawn(dispatcher.run());
    info!(%listen, "crier is running");
    shutdown_signal().await;
    info!("stopping: sends in progress stop at their next safe boundary");
    let _ = stop_tx.send(true);
    let stopped = tokio::time::timeout(STOP_LIMIT, async {
        match dispatch.await {
            Ok(Err(e)) => error!(error = %e, "dispatcher stopped on a store error"),
            Err(e) => error!(error = %e, "dispatcher task failed"),
            Ok(Ok(())) => {}
        }
        let _ = server.await;
    })
    .await;
    if stopped.is_err() {
        // A network hanging past its timeouts: leave as a crash would; the
        // next start recovers what is still in flight.
        warn!(
            limit_s = STOP_LIMIT.as_secs(),
            "sends still in progress at the stop limit; exiting, the next start recovers them"
        );
    }
    info!("stopped");
    Ok(())
}

/// The longest a stop may take, under systemd's `TimeoutStopSec=60`
/// (deploy/crier.service). Normally a stop takes one SMTP transaction or
/// HTTP request plus a commit; this bounds it when a network hangs.
const STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(45);

/// How long one network may take to say what its limits are.
const LEARN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Asks every publishing channel what its network says about itself (an
/// instance's limits) and saves it for `check`, `preview` and planning. In
/// the background: a slow or unreachable network must not delay sending.
/// If anything changed, content is reloaded so pending variants are shaped
/// against the new limits (a reload that now fails `check` is refused and
/// logged, as for any content change).
async fn learn_limits(
    dispatcher: Arc<Dispatcher>,
    data_dir: PathBuf,
    reloader: Arc<reload::Reloader>,
) {
    use crate::channels::learned;
    let ws = dispatcher.workspace.read().expect("workspace lock").clone();
    let services = &dispatcher.services;
    let mut changed = false;
    for channel in &ws.channels {
        let publisher = channel.publisher();
        let name = channel.name();
        let facts = match tokio::time::timeout(LEARN_TIMEOUT, publisher.learn(services)).await {
            Ok(Ok(Some(facts))) => facts,
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => {
                warn!(channel = name, error = %e, "could not read the network's limits; counting with the configured ones");
                continue;
            }
            Err(_) => {
                warn!(
                    channel = name,
                    "the network did not say its limits in time; counting with the configured ones"
                );
                continue;
            }
        };
        match learned::record(&data_dir, channel, facts, services.clock.now()) {
            Ok((path, differs)) => {
                info!(channel = name, path = %path.display(), "saved the network's limits");
                changed |= differs;
            }
            Err(e) => warn!(channel = name, error = %e, "cannot save the network's limits"),
        }
    }
    if changed {
        reloader.reload("limits learned from the networks").await;
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn on_sighup(reloader: Arc<reload::Reloader>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        reloader.reload("SIGHUP").await;
    }
}

/// One daemon per data folder: a second would lease the same queue and
/// make crash recovery unsafe. The lock lasts as long as the process.
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
    let path: PathBuf = dir.join("crier.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("the data folder {} is not writable", dir.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!("another crier is already running on {}", dir.display())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}
