//! A reload, a save and a start render only what changed: each test counts
//! the renders of the workspace a reload adopts (`Workspace::renders`).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use tempfile::TempDir;
use tokio::sync::Notify;

use super::{load_checked, stored_variants, Checked, Reloader};
use crate::diagnostics::Report;
use crate::plan::sync;
use crate::store::sqlite::SqliteStore;
use crate::store::{QueueFilter, Store};
use crate::workspace::{template_candidates, Workspace};

/// The shipped example, copied so a test may edit it.
fn example() -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["channels.toml", "templates", "campaigns"] {
        copy(&root.join(name), &dir.path().join(name));
    }
    let config = dir.path().join("channels.toml");
    (dir, config)
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{}: no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// A daemon's reloader on `config`, its content checked, adopted and synced.
async fn running(config: &Path) -> (Reloader, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let checked = load_checked(config).expect("the example checks");
    sync(&checked, store.as_ref(), crate::store::contract::at(0))
        .await
        .unwrap();
    let reloader = Reloader {
        leading: crate::daemon::leader::Leading::new(true),
        config: config.to_path_buf(),
        workspace: Arc::new(RwLock::new(Arc::new(checked.into_workspace()))),
        store: store.clone(),
        clock: Arc::new(crier_schedule::SystemClock),
        wake: Arc::new(Notify::new()),
    };
    (reloader, store)
}

/// Reloads and gives how many (item, channel) pairs the reload rendered.
async fn reload_renders(reloader: &Reloader) -> usize {
    let before = reloader.workspace.read().unwrap().clone();
    reloader.reload("test").await;
    let after = reloader.workspace.read().unwrap().clone();
    assert!(!Arc::ptr_eq(&before, &after), "the reload was refused");
    after.renders.load(Ordering::Relaxed)
}

/// Every (item, channel) pair, and those whose variant uses `template`.
fn pairs(ws: &Workspace, template: Option<&str>) -> usize {
    let uses = |item: &crate::content::Item, channel: &crate::channels::Configured| {
        channel.outputs().iter().any(|&output| {
            let candidates = template_candidates(channel, item.kind, output);
            ws.templates.find(&candidates) == template.or(ws.templates.find(&candidates))
        })
    };
    ws.items
        .iter()
        .flat_map(|item| item.channels.iter().map(move |c| (item, c)))
        .filter_map(|(item, name)| Some((item, ws.channel(name)?)))
        .filter(|(item, channel)| uses(item, channel))
        .count()
}

/// What `check` rendered is what is planned: a reload renders each
/// (item, channel) once, not once to check and again to plan.
#[tokio::test]
async fn a_first_reload_renders_each_variant_once() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("channels.toml");
    let first = load_checked(&config).expect("the shipped example checks");
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let reloader = Reloader {
        leading: crate::daemon::leader::Leading::new(true),
        config,
        workspace: Arc::new(RwLock::new(Arc::new(first.workspace))),
        store: store.clone(),
        clock: Arc::new(crier_schedule::SystemClock),
        wake: Arc::new(Notify::new()),
    };
    let rendered = reload_renders(&reloader).await;
    let ws = reloader.workspace.read().unwrap().clone();
    let all = pairs(&ws, None);
    assert!(all > 10, "the example has variants to render");
    assert_eq!(rendered, all);
    let planned = store.list(&QueueFilter::default()).await.unwrap();
    assert!(planned.len() >= all, "the reload planned every variant");
}

#[tokio::test]
async fn a_reload_of_unchanged_content_renders_nothing() {
    let (_dir, config) = example();
    let (reloader, store) = running(&config).await;
    let queue = store.list(&QueueFilter::default()).await.unwrap();
    assert_eq!(reload_renders(&reloader).await, 0);
    assert_eq!(store.list(&QueueFilter::default()).await.unwrap(), queue);
}

#[tokio::test]
async fn an_item_edit_renders_that_item_only() {
    let (dir, config) = example();
    let (reloader, store) = running(&config).await;
    let file = dir.path().join("campaigns/2026-12-briefing-neglect.toml");
    edit(
        &file,
        "title = \"Neglect and",
        "title = \"Edited: Neglect and",
    );
    let channels = reloader
        .workspace
        .read()
        .unwrap()
        .item("briefing-neglect-gcp2")
        .unwrap()
        .channels
        .len();
    assert_eq!(reload_renders(&reloader).await, channels);
    let planned = store.list(&QueueFilter::default()).await.unwrap();
    let edited = planned
        .iter()
        .filter(|d| d.variant.canonical_json().contains("Edited: Neglect"));
    assert!(edited.count() >= channels, "the edit is planned");
}

#[tokio::test]
async fn a_template_edit_renders_the_items_that_use_it() {
    let (dir, config) = example();
    let (reloader, _store) = running(&config).await;
    let ws = reloader.workspace.read().unwrap().clone();
    let users = pairs(&ws, Some("social/briefing.txt"));
    assert!(users > 0 && users < pairs(&ws, None), "{users}");
    let template = dir.path().join("templates/social/briefing.txt.hbs");
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(&template, format!("Edited. {text}")).unwrap();
    assert_eq!(reload_renders(&reloader).await, users);
}

#[tokio::test]
async fn a_channel_setting_edit_renders_that_channels_variants() {
    let (_dir, config) = example();
    let (reloader, _store) = running(&config).await;
    let ws = reloader.workspace.read().unwrap().clone();
    // The one channel whose table sets this limit.
    let limit = |c: &&crate::config::ChannelSpec| c.options.contains_key("max_characters");
    let spec = ws
        .config
        .channels
        .iter()
        .find(limit)
        .expect("a channel with a limit");
    let expected = ws
        .items
        .iter()
        .filter(|i| i.channels.contains(&spec.name))
        .count();
    assert!(expected > 0);
    edit(&config, "max_characters = 500", "max_characters = 480");
    assert_eq!(reload_renders(&reloader).await, expected);
}

/// A start reads back what the store recorded: unchanged content renders
/// nothing, plans exactly what a full render plans, and reports the same.
#[tokio::test]
async fn a_start_on_unchanged_content_renders_nothing() {
    let (_dir, config) = example();
    let (reloader, store) = running(&config).await;
    let full = reloader.workspace.read().unwrap().clone();
    let full_plan = crate::plan::from_variants(&full, &full.rendered);

    let stored = stored_variants(store.as_ref()).await.unwrap();
    let reuse = crate::workspace::Reuse {
        variants: Arc::new(stored),
        files: Default::default(),
        plan: None,
    };
    let started = Checked::load(&config, &reuse).expect("checks");
    assert_eq!(started.workspace.renders.load(Ordering::Relaxed), 0);
    assert_eq!(started.variants.len(), full.rendered.len());
    let plan = crate::plan::from_variants(&started.workspace, &started.variants);
    assert_eq!(plan, full_plan);
    let summary = store
        .sync_plan(&plan, crate::store::contract::at(1))
        .await
        .unwrap();
    assert_eq!(
        (summary.added, summary.updated, summary.cancelled),
        (0, 0, 0)
    );
}

/// Reusing a variant reports what rendering it found, so a check that
/// reuses everything says what a full one says.
#[test]
fn a_reused_variant_reports_its_findings_again() {
    let (dir, config) = example();
    let file = dir.path().join("campaigns/2026-12-briefing-neglect.toml");
    // Too many emoji for a social post: a finding of each social variant.
    edit(
        &file,
        "title = \"Neglect and",
        "title = \"🎉🎉🎉🎉🎉🎉🎉🎉 Neglect and",
    );
    let mut first = Report::default();
    let full = Workspace::load(&config, &mut first).unwrap();
    let variants = full.check(&mut first);
    let mut second = Report::default();
    let again = Workspace::load(&config, &mut second).unwrap();
    let reused = again.check_reusing(&variants, &mut second);
    assert_eq!(again.renders.load(Ordering::Relaxed), 0);
    assert_eq!(reused.len(), variants.len());
    let emoji = |d: &&crate::diagnostics::Diagnostic| d.message.contains("emoji");
    assert!(
        first.diagnostics.iter().filter(emoji).count() > 1,
        "{first:?}"
    );
    assert_eq!(second.diagnostics, first.diagnostics);
}

/// Linting a variant reads the size of its images from disk: a replaced
/// image re-renders (and re-lints) the items that show it.
#[tokio::test]
async fn a_replaced_image_renders_the_items_that_show_it() {
    let (dir, config) = example();
    let (reloader, _store) = running(&config).await;
    let ws = reloader.workspace.read().unwrap().clone();
    let shows =
        |i: &&crate::content::Item| i.images.iter().any(|m| m.src == "images/amnesty-bin.png");
    let expected: usize = ws
        .items
        .iter()
        .filter(shows)
        .map(|i| i.channels.len())
        .sum();
    assert!(expected > 0);
    let image = dir.path().join("campaigns/images/amnesty-bin.png");
    let mut bytes = std::fs::read(&image).unwrap();
    bytes.extend_from_slice(&[0; 16]);
    std::fs::write(&image, bytes).unwrap();
    assert_eq!(reload_renders(&reloader).await, expected);
}

/// A reload giving a second feed the path of another fails the check
/// (`KindHooks::check_channels`, as `crier check` reports it) and is refused:
/// the running workspace stays.
#[tokio::test]
async fn a_reload_giving_two_feeds_one_path_is_refused() {
    let (_dir, config) = example();
    let (reloader, _store) = running(&config).await;
    let before = reloader.workspace.read().unwrap().clone();
    edit(&config, "path = \"training\"", "path = \"news\"");
    let refused = load_checked(&config).err().expect("the check fails");
    assert!(
        refused
            .iter()
            .any(|e| e
                .contains("channels.website: `path = \"news\"` is also channels.training-feed's")),
        "{refused:?}"
    );
    reloader.reload("test").await;
    let after = reloader.workspace.read().unwrap().clone();
    assert!(Arc::ptr_eq(&before, &after), "the reload was adopted");
}

/// A running daemon keeps no variants (the store holds them): a plan
/// entry made without one whose delivery must be written after all — here
/// every one, into a store that has none of them — is rendered again, and
/// the store ends as a plan with every variant would leave it.
#[tokio::test]
async fn entries_the_store_lacks_are_rendered_again() {
    let (_dir, config) = example();
    let (reloader, full) = running(&config).await;
    let running = reloader.workspace.read().unwrap().clone();
    assert!(running.rendered.len() > 10);
    assert_eq!(running.rendered.get_any_variant(), None, "variants let go");

    let empty = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let workspace = Workspace::load(&config, &mut Report::default()).unwrap();
    let mut bare = Checked::new(workspace, Default::default());
    bare.variants = running.rendered.clone();
    let summary = sync(&bare, empty.as_ref(), crate::store::contract::at(0))
        .await
        .unwrap();
    let want = full.list(&QueueFilter::default()).await.unwrap();
    assert_eq!((summary.added, summary.unrendered.len()), (want.len(), 0));
    let got = empty.list(&QueueFilter::default()).await.unwrap();
    let key = |d: &crate::delivery::Delivery| {
        let v = d.variant.canonical_json();
        (
            d.item.clone(),
            d.channel.clone(),
            d.occasion.clone(),
            d.fingerprint.clone(),
            v,
        )
    };
    let (mut want, mut got): (Vec<_>, Vec<_>) = (
        want.iter().map(key).collect(),
        got.iter().map(key).collect(),
    );
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

/// After its first sync, a daemon syncs only the items whose plan changed
/// (`plan::Synced`), and leaves the queue exactly where syncing the whole
/// plan would: a whole sync afterwards finds nothing to do.
#[tokio::test]
async fn a_reload_syncs_the_changed_items_only() {
    let (dir, config) = example();
    let (reloader, store) = running(&config).await;
    let file = dir.path().join("campaigns/2026-12-briefing-neglect.toml");
    edit(
        &file,
        "title = \"Neglect and",
        "title = \"Edited: Neglect and",
    );
    std::fs::remove_file(dir.path().join("campaigns/2026-12-notice-holiday.toml")).unwrap();
    let reuse = reloader.workspace.read().unwrap().reuse();
    assert!(reuse.plan.is_some(), "the first sync is remembered");
    let checked = Checked::load(&config, &reuse).unwrap();
    let summary = sync(&checked, store.as_ref(), crate::store::contract::at(1))
        .await
        .unwrap();
    let whole = crate::plan::from_variants(&checked.workspace, &checked.variants);
    let edited = whole
        .iter()
        .filter(|p| p.item == "briefing-neglect-gcp2")
        .count();
    assert!(summary.updated > 0 && summary.cancelled > 0, "{summary:?}");
    assert!(
        summary.unchanged + summary.updated <= edited,
        "only the edited item was synced: {summary:?} of {} entries",
        whole.len()
    );
    let again = store
        .sync_plan(&whole, crate::store::contract::at(2))
        .await
        .unwrap();
    let nothing = (
        again.added,
        again.updated,
        again.cancelled,
        again.unrendered.len(),
    );
    assert_eq!(nothing, (0, 0, 0, 0), "{again:?}");
}
