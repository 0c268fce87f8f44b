//! `crier serve`: the background service.
//!
//! Start-up order matters: load content, take the data folder's lock (one
//! daemon per queue), open the store, check content (reusing the variants
//! the store says were rendered from unchanged sources), bind the port, let channels set up
//! (feeds' files), sync the plan, recover what a previous process left in
//! flight, then serve and dispatch; only then tell systemd it is ready.

mod http;
pub mod leader;
mod notify;
pub mod reload;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context as _};
use tokio::sync::{watch, Notify};
use tracing::{error, info, warn};

use crate::channels::stopping::Stopping;
use crate::channels::Services;
use crate::dispatch::{Dispatcher, RateGates, Settings};
use crate::metrics::Metrics;
use crate::store::{Opened, Store};
use crate::workspace::Workspace;

/// With `[console] git_commit` on, why saves cannot be committed, if they
/// cannot: a warning, not a refusal to start (see `crier check`).
pub fn git_commit_problem(config: &crate::config::Config) -> Option<String> {
    if !config.console.git_commit {
        return None;
    }
    let dir = config.campaigns_dir();
    let why = crate::api::git::Git::new(&dir).work_tree_problem()?;
    Some(format!(
        "`[console] git_commit` is on, but {} is not in a git work tree ({why}): \
         saves are written but not committed, and each says so on its item's page",
        dir.display()
    ))
}

pub async fn serve(config: &Path) -> anyhow::Result<()> {
    crate::channels::http::install_crypto_provider();
    let mut loaded = crate::diagnostics::Report::default();
    let workspace = Workspace::load(config, &mut loaded)
        .ok_or_else(|| refused(loaded.diagnostics.iter().map(ToString::to_string).collect()))?;
    if let Some(why) = git_commit_problem(&workspace.config) {
        warn!("{why}");
    }
    let data_dir = workspace.config.data_dir();
    let _lock = lock_data_dir(&data_dir)?;
    let opened = crate::store::open(&workspace.config).await?;
    // What the store says was rendered from unchanged sources is not
    // rendered again: unchanged content starts without rendering.
    let stored = reload::stored_variants(opened.queue.as_ref()).await?;
    let checked =
        tokio::task::spawn_blocking(move || reload::Checked::check(workspace, loaded, &stored))
            .await?
            .map_err(refused)?;
    info!(
        rendered = checked.variants.rendered(),
        variants = checked.variants.len(),
        "content checked"
    );
    let auth = Arc::new(crate::auth::Authenticator::new(
        opened.people.clone(),
        &checked.workspace.config,
    ));
    let listen = checked.workspace.config.daemon.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: is another crier or service using that port? Set [daemon] listen"))?;
    // Set on SIGTERM/SIGINT: the dispatcher, every publisher and the HTTP
    // server see it.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut services = services(&checked.workspace, &opened, Stopping::new(stop_rx.clone()));
    let shared = opened.queue.shared();
    let store_clock = match shared {
        true => Some(Arc::new(leader::StoreClock::default())),
        false => None,
    };
    if let Some(clock) = &store_clock {
        clock.measure(opened.queue.as_ref()).await;
        services.clock = clock.clone();
    }
    let owner = crate::store::coordination::participant_name();
    let leading = leader::claim(opened.queue.as_ref(), &owner).await;
    ready_queue(&checked, &services, opened.queue.as_ref(), leading.get()).await?;
    let watch_dirs = vec![
        checked.workspace.config.campaigns_dir(),
        checked.workspace.config.templates_dir(),
    ];
    let dispatcher = dispatcher(checked.into_workspace(), opened.queue.clone(), services);
    if shared {
        opened.queue.watch_changes(dispatcher.wake.clone());
    }
    recover_at_start(&dispatcher, shared).await?;
    let reloader = Arc::new(reload::Reloader {
        config: config.to_path_buf(),
        workspace: dispatcher.workspace.clone(),
        store: opened.queue.clone(),
        clock: dispatcher.services.clock.clone(),
        wake: dispatcher.wake.clone(),
        leading: leading.clone(),
    });
    let opened_queue = opened.queue.clone();
    let app = app(&dispatcher, opened, auth.clone(), config);
    // Watching before serving: once /healthz answers, an edit is seen.
    reloader.clone().watch(watch_dirs);
    // Signals too: once /healthz answers, SIGTERM stops gracefully and
    // SIGHUP reloads, never the default action (the process killed).
    let shutdown = shutdown_signal()?;
    let sighup = on_sighup(reloader.clone())?;
    let server = tokio::spawn(serve_http(listener, app, stop_rx));
    leader::spawn_keeper(
        opened_queue.clone(),
        owner.clone(),
        leading.clone(),
        store_clock,
        reloader.clone(),
        dispatcher.services.stopping.clone(),
    );
    tokio::spawn(learn_limits(dispatcher.clone(), data_dir, reloader));
    let keep = dispatcher
        .workspace
        .read()
        .expect("workspace lock")
        .config
        .daemon
        .keep_history_months;
    if let Some(months) = keep {
        tokio::spawn(forget_old_history(
            dispatcher.clone(),
            months,
            leading.clone(),
        ));
    }
    tokio::spawn(sighup);
    let store = dispatcher.store.clone();
    let dispatch = tokio::spawn(dispatcher.run());
    info!(%listen, "crier is running");
    first_run(&auth).await?;
    notify::notify("READY=1");
    notify::watchdog(dispatch.abort_handle(), store);
    shutdown.await;
    notify::notify("STOPPING=1");
    stop(stop_tx, dispatch, server).await;
    // Before exiting, not in a task the exit may drop: another process
    // takes the role at its next claim instead of after the time to live.
    leader::resign(opened_queue.as_ref(), &owner, &leading).await;
    Ok(())
}

fn refused(problems: Vec<String>) -> anyhow::Error {
    anyhow::anyhow!(
        "the content fails `crier check`; fix it and start again:\n  {}",
        problems.join("\n  ")
    )
}

/// What publishers may use, built once for the daemon's life.
fn services(ws: &Workspace, opened: &Opened, stopping: Stopping) -> Services {
    Services::new(&ws.config, opened.channels.clone(), stopping)
}

/// What channels set up before anything is sent (feeds' files), then the
/// queue made to match the content.
async fn ready_queue(
    checked: &reload::Checked,
    services: &Services,
    store: &dyn Store,
    leading: bool,
) -> anyhow::Result<()> {
    for channel in &checked.workspace.channels {
        channel
            .start(services)
            .await
            .map_err(|e| anyhow::anyhow!("channel `{}`: {e}", channel.name()))?;
    }
    if !leading {
        return Ok(());
    }
    let summary = crate::plan::sync(checked, store, services.clock.now()).await?;
    info!(
        added = summary.added,
        updated = summary.updated,
        cancelled = summary.cancelled,
        "queue matches content"
    );
    Ok(())
}

/// How often a process on a shared store looks at the queue when it has
/// heard nothing: a notification lost behind a pooler is found this late.
const SHARED_POLL: std::time::Duration = std::time::Duration::from_secs(5);

fn dispatcher(ws: Workspace, store: Arc<dyn Store>, services: Services) -> Arc<Dispatcher> {
    let mut settings = Settings::from_config(&ws.config.daemon);
    if store.shared() {
        settings.max_idle = settings.max_idle.min(SHARED_POLL);
    }
    Arc::new(Dispatcher {
        store,
        settings,
        workspace: Arc::new(RwLock::new(Arc::new(ws))),
        services,
        metrics: Arc::new(Metrics::default()),
        wake: Arc::new(Notify::new()),
        gates: RateGates::default(),
        in_process: Default::default(),
    })
}

/// On a store of its own, everything in flight belongs to a dead process
/// (we hold the lock): take every lease, however far ahead it runs; what is
/// recorded about them carries the clock's time. On a shared store a lease
/// may be a live process's: only those that ran out are taken.
async fn recover_at_start(dispatcher: &Dispatcher, shared: bool) -> anyhow::Result<()> {
    let everything = match shared {
        true => dispatcher.services.clock.now(),
        false => chrono::DateTime::<chrono::Utc>::MAX_UTC,
    };
    let recovered = crate::dispatch::recover::expired(dispatcher, everything).await?;
    if recovered > 0 {
        info!(
            recovered,
            "recovered deliveries left in flight by the previous run"
        );
    }
    Ok(())
}

/// With no account yet, a one-time link (an hour) that creates the first
/// admin. The link is a secret: this start message is the only place it
/// is written (stdout for the person at the terminal, and the log).
async fn first_run(auth: &crate::auth::Authenticator) -> anyhow::Result<()> {
    let public_url = &auth.policy.public_url;
    let link = crate::auth::links::first_run(auth.people.as_ref(), public_url, auth.now()).await?;
    if let Some(link) = link {
        println!("No one can sign in yet. Open this link within an hour to create the first administrator:\n  {link}");
        info!(setup_link = %link, "no account exists: open the setup link within an hour to create the first administrator");
    }
    Ok(())
}

/// The daemon's routes, and those of the API (`/api/v1`), the console
/// (`/console/`), sign-in, every
/// kind and every channel. The API and the sign-in pages share one
/// `Authenticator`.
fn app(
    dispatcher: &Dispatcher,
    opened: Opened,
    auth: Arc<crate::auth::Authenticator>,
    config: &Path,
) -> axum::Router {
    let services = &dispatcher.services;
    let mut routes = crate::channels::registry::routes(services);
    let api = crate::api::router(crate::api::ApiState {
        store: opened.queue.clone(),
        workspace: dispatcher.workspace.clone(),
        config_path: config.to_path_buf(),
        wake: dispatcher.wake.clone(),
        auth: auth.clone(),
        services: services.clone(),
        saving: Default::default(),
    });
    // The console calls the same router in process: one implementation.
    routes.push(crate::console::routes(crate::console::Console {
        api: crate::console::Api::new(api.clone()),
        auth: auth.clone(),
        workspace: dispatcher.workspace.clone(),
    }));
    routes.push(api);
    routes.push(crate::auth::routes(auth));
    {
        let ws = dispatcher.workspace.read().expect("workspace lock");
        routes.extend(ws.channels.iter().filter_map(|c| c.routes(services)));
    }
    http::app(
        http::AppState {
            store: opened.queue,
            channel_store: opened.channels,
            metrics: dispatcher.metrics.clone(),
            wake: dispatcher.wake.clone(),
            workspace: dispatcher.workspace.clone(),
        },
        routes,
    )
}

async fn serve_http(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop.wait_for(|s| *s).await;
    })
    .await
}

/// Tells everything to stop and waits, at most [`STOP_LIMIT`], for the
/// sends in progress to reach a safe boundary and the server to close.
async fn stop(
    stop_tx: watch::Sender<bool>,
    dispatch: tokio::task::JoinHandle<Result<(), crate::store::StoreError>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
) {
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
}

/// The longest a stop may take, under systemd's `TimeoutStopSec=60`
/// (deploy/crier.service). Normally a stop takes one SMTP transaction or
/// HTTP request plus a commit; this bounds it when a network hangs.
const STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(45);

/// How long one network may take to say what its limits are.
const LEARN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// `[daemon] keep_history_months`: at start and then daily, forgets the
/// history of deliveries settled longer ago (see `Upkeep::forget_history`);
/// only the leader does, when several processes share the store.
async fn forget_old_history(dispatcher: Arc<Dispatcher>, months: u32, leading: leader::Leading) {
    let mut daily = tokio::time::interval(std::time::Duration::from_secs(24 * 3600));
    loop {
        daily.tick().await;
        if !leading.get() {
            continue;
        }
        let now = dispatcher.services.clock.now();
        let Some(before) = now.checked_sub_months(chrono::Months::new(months)) else {
            continue;
        };
        match dispatcher.store.forget_history(before).await {
            Ok(gone) => info!(
                %before,
                deliveries = gone.deliveries,
                transitions = gone.transitions,
                recipients = gone.recipients,
                "forgot old history"
            ),
            Err(e) => warn!(error = %e, "could not forget old history; will try again tomorrow"),
        }
    }
}

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

/// SIGTERM or SIGINT, registered now (not when first awaited).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Reloads on each SIGHUP, registered now (not when first awaited).
fn on_sighup(
    reloader: Arc<reload::Reloader>,
) -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    Ok(async move {
        while hup.recv().await.is_some() {
            reloader.reload("SIGHUP").await;
        }
    })
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
