//! Planning: from content to the deliveries the store must hold.
//!
//! One delivery per (item, channel, occasion): the item's `at`, and each
//! event reminder. Variants are the ones `Workspace::check` rendered, so
//! what is sent is exactly what `check` and `preview` showed.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::content::Item;
use crate::delivery::Planned;
use crate::diagnostics::Report;
use crate::store::{Store, StoreError, SyncSummary};
use crate::variants::{fingerprint, Render};
use crate::workspace::{Checked, Variants, Workspace};

/// The occasion name of an item's main publish time.
pub const MAIN: &str = "at";

/// Every delivery the content asks for, checking (rendering) it first.
/// Call only on a workspace whose report has no errors: a variant that
/// failed to render is left out.
pub fn plan(ws: &Workspace, report: &mut Report) -> Vec<Planned> {
    from_variants(ws, &ws.check(report))
}

/// Every delivery the content asks for, with the variants `check` rendered.
pub fn from_variants(ws: &Workspace, variants: &Variants) -> Vec<Planned> {
    let rendered = |item: &Item, channel: &str| variants.has(&item.id, channel);
    let mut out = Vec::new();
    for o in occasions(ws, rendered) {
        let (item, name) = (o.item, o.channel);
        let (Some(render), Some(spec)) = (variants.render(&item.id, name), ws.config.spec(name))
        else {
            continue;
        };
        let requires_approval = item.require_approval || spec.require_approval;
        out.push(Planned {
            fingerprint: render.fingerprint(&item.origin.version, o.due_at, requires_approval),
            item: item.id.clone(),
            channel: name.to_string(),
            occasion: o.name,
            due_at: o.due_at,
            variant: render.variant.clone(),
            requires_approval,
        });
    }
    out.extend(own_deliveries(ws, &out));
    out
}

/// Plans deliveries from a checked workspace and makes the store match;
/// then records what the freshly rendered variants came from, so the next
/// start need not render them. A pair planned without its variant (the
/// store holds it) whose delivery must be written after all — moved to
/// another posting slot, or missing — is rendered and synced again.
pub async fn sync(
    checked: &Checked,
    store: &dyn Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<SyncSummary, StoreError> {
    let ws = &checked.workspace;
    let whole = from_variants(ws, &checked.variants);
    let synced = Synced::of(&whole);
    // Only what changed since this process's last sync, unless another
    // process may have synced since (a shared store): then everything.
    let scope = (checked.previous_plan.as_ref())
        .filter(|_| !store.shared())
        .map(|previous| synced.changed_since(previous));
    // The entries to sync, and the rest (whose fingerprints records need).
    let (mut planned, rest): (Vec<Planned>, Vec<Planned>) = match &scope {
        None => (whole, Vec::new()),
        Some(items) => whole.into_iter().partition(|p| items.contains(&p.item)),
    };
    let items: Option<Vec<String>> = scope.map(|s| s.into_iter().collect());
    let mut summary = sync_once(store, items.as_deref(), &planned, now).await?;
    let mut records = Vec::new();
    if !summary.unrendered.is_empty() {
        let again = render_again(ws, &mut planned, &summary.unrendered);
        let second = sync_once(store, items.as_deref(), &planned, now).await?;
        if let Some(&left) = second.unrendered.first() {
            let p = &planned[left];
            return Err(StoreError::Other(format!(
                "sync: item {:?} on {:?} could not be rendered again",
                p.item, p.channel
            )));
        }
        summary = SyncSummary {
            added: summary.added + second.added,
            updated: summary.updated + second.updated,
            cancelled: summary.cancelled + second.cancelled,
            unchanged: planned.len()
                - (summary.added + second.added)
                - (summary.updated + second.updated),
            unrendered: Vec::new(),
        };
        records = again;
    }
    if checked.variants.rendered() > 0 || !records.is_empty() {
        let main: HashMap<(&str, &str), &str> = (rest.iter().chain(&planned))
            .filter(|p| p.occasion == MAIN)
            .map(|p| {
                (
                    (p.item.as_str(), p.channel.as_str()),
                    p.fingerprint.as_str(),
                )
            })
            .collect();
        let fingerprint =
            |item: &str, channel: &str| main.get(&(item, channel)).map(|f| f.to_string());
        let mut all = checked.variants.records(fingerprint);
        all.extend(records.iter().filter_map(|(item, channel, render)| {
            checked
                .variants
                .record(item, channel, render, fingerprint(item, channel)?)
        }));
        drop(main);
        store.record_renders(&all).await?;
    }
    let _ = checked.synced.set(Arc::new(synced));
    Ok(summary)
}

/// What a sync made the store match, per item: a hash of its entries'
/// keys, fingerprints and approval rules. The next sync from this process
/// compares against it and syncs only the items that differ or went away
/// (`Store::sync_items`), so a one-item edit stages a few keys, not a
/// million. About 50 bytes an item.
#[derive(Debug, Default)]
pub struct Synced {
    by_item: HashMap<String, u64>,
}

impl Synced {
    pub fn of(plan: &[Planned]) -> Synced {
        use std::hash::{Hash, Hasher};
        let mut entries: HashMap<&str, Vec<&Planned>> = HashMap::new();
        for p in plan {
            entries.entry(p.item.as_str()).or_default().push(p);
        }
        let by_item = (entries.into_iter())
            .map(|(item, mut of)| {
                of.sort_by(|a, b| (&a.channel, &a.occasion).cmp(&(&b.channel, &b.occasion)));
                let mut h = std::collections::hash_map::DefaultHasher::new();
                for p in of {
                    (&p.channel, &p.occasion, &p.fingerprint, p.requires_approval).hash(&mut h);
                }
                (item.to_string(), h.finish())
            })
            .collect();
        Synced { by_item }
    }

    /// The items whose entries differ from `previous`'s, or that either
    /// plan lacks.
    pub fn changed_since(&self, previous: &Synced) -> BTreeSet<String> {
        let differs = |(item, hash): (&String, &u64)| {
            (previous.by_item.get(item) != Some(hash)).then(|| item.clone())
        };
        let gone = (previous.by_item.keys()).filter(|i| !self.by_item.contains_key(*i));
        (self.by_item.iter().filter_map(differs))
            .chain(gone.cloned())
            .collect()
    }
}

/// The whole plan, or the plan of `items` only.
async fn sync_once(
    store: &dyn Store,
    items: Option<&[String]>,
    planned: &[Planned],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<SyncSummary, StoreError> {
    match items {
        None => store.sync_plan(planned, now).await,
        Some(items) => store.sync_items(items, planned, now).await,
    }
}

/// Renders the pairs of the `unrendered` plan entries again and puts their
/// variants (and fingerprints, from the same render) into every entry of
/// those pairs; gives the renders, to record.
fn render_again(
    ws: &Workspace,
    planned: &mut [Planned],
    unrendered: &[usize],
) -> Vec<(String, String, Arc<Render>)> {
    let pairs: BTreeSet<(String, String)> = (unrendered.iter())
        .map(|&i| (planned[i].item.clone(), planned[i].channel.clone()))
        .collect();
    let mut renders: HashMap<(String, String), Arc<Render>> = HashMap::new();
    for (item_id, channel) in pairs {
        let (Some(item), Some(configured)) = (ws.item(&item_id), ws.channel(&channel)) else {
            continue;
        };
        let mut report = crate::diagnostics::Report::default();
        if let Some(variant) = ws.render(item, configured, &mut report) {
            let render = Render::new(variant, report.diagnostics).for_plan();
            renders.insert((item_id, channel), Arc::new(render));
        }
    }
    for p in planned.iter_mut().filter(|p| p.variant.is_none()) {
        let Some(render) = renders.get(&(p.item.clone(), p.channel.clone())) else {
            continue;
        };
        let version = ws.item(&p.item).map_or("", |i| i.origin.version.as_str());
        p.fingerprint = render.fingerprint(version, p.due_at, p.requires_approval);
        p.variant = render.variant.clone();
    }
    renders
        .into_iter()
        .map(|((item, channel), render)| (item, channel, render))
        .collect()
}

/// One (item, channel, occasion) and when it is due.
pub struct Occasion<'a> {
    pub item: &'a Item,
    pub channel: &'a str,
    /// [`MAIN`], or the reminder's text.
    pub name: String,
    pub due_at: DateTime<Utc>,
}

/// When each (item, channel, occasion) the content asks for is due: the
/// item's `at`, or with `slot` its channel's next free posting slot at or
/// after it, and each reminder. `planned` says whether a pair is planned at
/// all (its variant rendered): only those take a slot. The draft preview
/// shows these times, so they are the plan's own.
pub fn occasions<'a>(
    ws: &'a Workspace,
    planned: impl Fn(&Item, &str) -> bool,
) -> Vec<Occasion<'a>> {
    let tz = ws.config.organisation.timezone;
    let mut items: Vec<&Item> = ws.items.iter().collect();
    // Slots are handed out in publish order, so the plan is the same every run.
    items.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let mut taken: HashMap<String, BTreeSet<DateTime<Utc>>> = HashMap::new();
    let mut out = Vec::new();
    for item in items {
        for name in &item.channels {
            let (Some(_), Some(spec)) = (ws.channel(name), ws.config.spec(name)) else {
                continue;
            };
            if !planned(item, name) {
                continue;
            }
            let mut due_at = item.at;
            if item.slot && !spec.slots.is_empty() {
                let slots = crier_schedule::Slots::parse(&spec.slots)
                    .expect("checked when the config was read");
                let used = taken.entry(name.clone()).or_default();
                let before = item.at - chrono::TimeDelta::milliseconds(1);
                due_at = slots.next_free(before, used, tz);
                used.insert(due_at);
            }
            let main = std::iter::once((MAIN.to_string(), due_at));
            for (occasion, due_at) in main.chain(item.reminders.iter().cloned()) {
                out.push(Occasion {
                    item,
                    channel: name,
                    name: occasion,
                    due_at,
                });
            }
        }
    }
    out
}

/// What each channel adds from its planned items (an email list's
/// digests), fingerprinted like the rest.
fn own_deliveries(ws: &Workspace, planned: &[Planned]) -> Vec<Planned> {
    let tz = ws.config.organisation.timezone;
    let mut out = Vec::new();
    for channel in &ws.channels {
        let items: Vec<(&Item, &Planned)> = planned
            .iter()
            .filter(|p| p.channel == channel.name() && p.occasion == MAIN)
            .filter_map(|p| Some((ws.item(&p.item)?, p)))
            .collect();
        if items.is_empty() {
            continue;
        }
        for mut p in channel.plan_own(&items, tz) {
            let Some(variant) = &p.variant else {
                continue; // a channel's own deliveries are made whole
            };
            p.fingerprint = fingerprint(variant, "", p.due_at, p.requires_approval);
            out.push(p);
        }
    }
    out
}
