//! The dispatcher on a real store with a `discard` channel: how a burst
//! is leased, marked and recorded.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::TimeDelta;

use super::{Dispatcher, RateGates, Settings};
use crate::channels::{stopping::Stopping, Services};
use crate::delivery::{Planned, State};
use crate::diagnostics::Report;
use crate::store::contract::{at, planned};
use crate::store::AuditFilter;
use crate::workspace::Workspace;

const CONCURRENCY: usize = 4;

/// 100 deliveries due at once, `concurrency = 4`: one lease statement takes
/// them all (its audit rows one block), and no more than 4 are marked
/// "request started" before their sends (each mark a block of at most 4:
/// after a crash, at most 4 can be uncertain). Seen failing before bursts:
/// leases came 16 at a time, between the marks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_leased_at_once_and_marked_a_slot_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("channels.toml"),
        format!(
            "[organisation]\nname = \"t\"\nwebsite = \"https://example.org\"\n\n\
             [daemon]\ndata_dir = \"data\"\nconcurrency = {CONCURRENCY}\n\n\
             [channels.news]\nkind = \"discard\"\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    let mut report = Report::default();
    let ws = Workspace::load(&dir.path().join("channels.toml"), &mut report).unwrap();
    let opened = crate::store::open(&ws.config).await.unwrap();
    let plan: Vec<Planned> = (0..100)
        .map(|i| planned(&format!("i{i:03}"), "news", "at", 0, "t"))
        .collect();
    opened.queue.sync_plan(&plan, at(-1)).await.unwrap();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut services = Services::new(&ws.config, opened.channels, Stopping::new(stopped));
    let clock = Arc::new(crier_schedule::ManualClock::new(
        at(0) + TimeDelta::seconds(1),
    ));
    services.clock = clock;
    let dispatcher = Arc::new(Dispatcher {
        store: opened.queue.clone(),
        settings: Settings::from_config(&ws.config.daemon),
        workspace: Arc::new(RwLock::new(Arc::new(ws))),
        services,
        metrics: Default::default(),
        wake: Default::default(),
        gates: RateGates::default(),
        in_process: Default::default(),
    });
    let run = tokio::spawn(dispatcher.clone().run());
    wait_until_all_sent(&*opened.queue, plan.len()).await;
    stop.send(true).unwrap();
    run.await.unwrap().unwrap();

    let log = transitions(&*opened.queue).await;
    let leases: Vec<usize> = runs(&log, |r| r.starts_with("leased"));
    assert_eq!(leases, [100], "one lease, its audit rows together");
    let marks = runs(&log, |r| r == "request started");
    assert_eq!(marks.iter().sum::<usize>(), 100);
    assert!(
        marks.iter().all(|n| *n <= CONCURRENCY),
        "no more marked than there are send slots: {marks:?}"
    );
}

/// Two processes on one store list the same lapsed lease; the one that
/// acts second finds it already given back and carries on instead of
/// stopping its dispatcher on the error (seen failing: `WrongState`).
#[tokio::test]
async fn a_lapsed_lease_recovered_by_another_process_first_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("channels.toml"),
        "[organisation]\nname = \"t\"\nwebsite = \"https://example.org\"\n\n\
         [daemon]\ndata_dir = \"data\"\n\n[channels.news]\nkind = \"discard\"\n",
    )
    .unwrap();
    let mut report = Report::default();
    let ws = Workspace::load(&dir.path().join("channels.toml"), &mut report).unwrap();
    let opened = crate::store::open(&ws.config).await.unwrap();
    let plan = [planned("i", "news", "at", 0, "t")];
    opened.queue.sync_plan(&plan, at(-1)).await.unwrap();
    opened
        .queue
        .lease_due(at(0), 1, Duration::from_secs(60))
        .await
        .unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let mut services = Services::new(&ws.config, opened.channels, Stopping::new(stopped));
    services.clock = Arc::new(crier_schedule::ManualClock::new(at(5)));
    let dispatcher = Dispatcher {
        store: opened.queue.clone(),
        settings: Settings::from_config(&ws.config.daemon),
        workspace: Arc::new(RwLock::new(Arc::new(ws))),
        services,
        metrics: Default::default(),
        wake: Default::default(),
        gates: RateGates::default(),
        in_process: Default::default(),
    };
    let listed = opened.queue.expired_leases(at(5)).await.unwrap();
    assert_eq!(listed.len(), 1);
    let first = super::recover::recover_all(&dispatcher, listed.clone()).await;
    assert_eq!(first.unwrap(), 1);
    let second = super::recover::recover_all(&dispatcher, listed).await;
    assert_eq!(second.unwrap(), 0);
    let d = opened.queue.list(&Default::default()).await.unwrap();
    assert_eq!(d[0].state, State::Planned);
}

async fn wait_until_all_sent(store: &dyn crate::store::Store, n: usize) {
    for _ in 0..2000 {
        let counts = store.counts().await.unwrap();
        let sent: u64 = counts
            .iter()
            .filter(|c| c.1 == State::Sent)
            .map(|c| c.2)
            .sum();
        if sent as usize == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not all sent: {:?}", store.counts().await.unwrap());
}

/// Every transition's reason, in the order written (the audit log is
/// newest first; the clock stood still, so by the order written).
async fn transitions(store: &dyn crate::store::Store) -> Vec<String> {
    let all = AuditFilter {
        limit: 10_000,
        ..AuditFilter::default()
    };
    let log = store.audit(&all).await.unwrap();
    log.into_iter().rev().map(|e| e.what).collect()
}

/// The lengths of the runs of consecutive entries that match.
fn runs(log: &[String], matches: impl Fn(&str) -> bool) -> Vec<usize> {
    let mut runs = Vec::new();
    let mut current = 0;
    for reason in log {
        if matches(reason) {
            current += 1;
        } else if current > 0 {
            runs.push(std::mem::take(&mut current));
        }
    }
    if current > 0 {
        runs.push(current);
    }
    runs
}
