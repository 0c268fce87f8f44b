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
use crate::variants::fingerprint;
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
    let rendered = |item: &Item, channel: &str| variants.get(&item.id, channel).is_some();
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
            variant: Arc::clone(&render.variant),
            requires_approval,
        });
    }
    out.extend(own_deliveries(ws, &out));
    out
}

/// Plans deliveries from a checked workspace and makes the store match;
/// then records what the freshly rendered variants came from, so the next
/// start need not render them.
pub async fn sync(
    checked: &Checked,
    store: &dyn Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<SyncSummary, StoreError> {
    let planned = from_variants(&checked.workspace, &checked.variants);
    let summary = store.sync_plan(&planned, now).await?;
    if checked.variants.rendered() > 0 {
        let main: HashMap<(&str, &str), &str> = planned
            .iter()
            .filter(|p| p.occasion == MAIN)
            .map(|p| {
                (
                    (p.item.as_str(), p.channel.as_str()),
                    p.fingerprint.as_str(),
                )
            })
            .collect();
        let records = checked
            .variants
            .records(|item, channel| main.get(&(item, channel)).map(|f| f.to_string()));
        drop(main);
        drop(planned);
        store.record_renders(&records).await?;
    }
    Ok(summary)
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
        let items: Vec<&Planned> = planned
            .iter()
            .filter(|p| p.channel == channel.name() && p.occasion == MAIN)
            .collect();
        if items.is_empty() {
            continue;
        }
        for mut p in channel.plan_own(&items, tz) {
            p.fingerprint = fingerprint(&p.variant, "", p.due_at, p.requires_approval);
            out.push(p);
        }
    }
    out
}
