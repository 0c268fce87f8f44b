//! Everything `channels.toml` points at, loaded and checked together:
//! configuration, channels, templates and content. `check`, `preview` and
//! the daemon all start here.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::channels::{learned, registry, Configured, Findings};
use crate::config::{ChannelSpec, Config};
use crate::content::load::Overlay;
use crate::content::{self, Item, ItemKind};
use crate::diagnostics::{Location, Report, Severity};
use crate::lint;
use crate::render::{template_data, Output, Rendered, Templates};
use crate::variant::Variant;
pub use crate::variants::Variants;
use crate::variants::{json_digest, Render, Source};

/// Items a render thread takes at a time.
const ITEMS_PER_TASK: usize = 32;

pub struct Workspace {
    pub config: Config,
    pub channels: Vec<Configured>,
    /// Shared with channels that render at send time (`Channel::attach_templates`).
    pub templates: std::sync::Arc<Templates>,
    pub items: Vec<Item>,
    /// Where each item is in `items`, by id (a listing by ids looks up
    /// hundreds among thousands).
    by_id: HashMap<String, usize>,
    /// Each channel's settings, hashed: part of its variants' sources.
    channel_sources: HashMap<String, [u8; 32]>,
    /// What the check this workspace passed rendered (empty until it is
    /// adopted, `Checked::into_workspace`): the next check reuses it.
    pub rendered: Arc<Variants>,
    /// What each campaign file gave when loaded: the next load parses only
    /// the files that changed.
    pub files: Arc<content::Files>,
    /// The plan the store was last made to match from this workspace
    /// (`plan::sync`), if this process synced it.
    pub synced: Option<Arc<crate::plan::Synced>>,
    /// How many times an (item, channel) was rendered: a reload renders each once.
    #[cfg(test)]
    pub(crate) renders: std::sync::atomic::AtomicUsize,
}

impl Workspace {
    /// Loads as much as can be loaded, reporting every problem. `None` only
    /// when the configuration itself cannot be read.
    pub fn load(config_path: &Path, report: &mut Report) -> Option<Workspace> {
        Workspace::load_with(config_path, &Overlay::default(), report)
    }

    /// `load`, reading the campaign files in `overlay` as given there.
    pub fn load_with(
        config_path: &Path,
        overlay: &Overlay,
        report: &mut Report,
    ) -> Option<Workspace> {
        Workspace::load_reusing(config_path, overlay, &content::Files::default(), report)
    }

    /// `load_with`, reusing from `files` each campaign file whose text did
    /// not change.
    pub fn load_reusing(
        config_path: &Path,
        overlay: &Overlay,
        files: &content::Files,
        report: &mut Report,
    ) -> Option<Workspace> {
        let config = Config::load(config_path, report)?;
        registry::check_channels(&config, report);
        let mut channels = Vec::new();
        let mut channel_sources = HashMap::new();
        for spec in &config.channels {
            match registry::find(&spec.kind) {
                None => report.error(
                    spec.kind_location.clone(),
                    format!(
                        "unknown channel kind `{}` for channels.{} (expected one of: {})",
                        spec.kind,
                        spec.name,
                        registry::names().join(", ")
                    ),
                ),
                Some(kind) => match Configured::build(kind, spec, &config.organisation) {
                    Ok(mut c) => {
                        let learned = adopt_learned(&mut c, &config.data_dir(), report);
                        let source = channel_source(&config, spec, learned.as_ref());
                        channel_sources.insert(spec.name.clone(), source);
                        channels.push(c);
                    }
                    Err(msg) => report.error(spec.location.clone(), msg),
                },
            }
        }
        // Items may name a channel whose table had an error: that is one
        // problem, reported once, not again on every item.
        let names: BTreeSet<String> = config.channels.iter().map(|c| c.name.clone()).collect();
        let templates = std::sync::Arc::new(Templates::load(&config.templates_dir(), report));
        for channel in &mut channels {
            channel.attach_templates(&templates);
        }
        let ctx = content::load::Context {
            timezone: config.organisation.timezone,
            language: &config.organisation.language,
            channels: &names,
        };
        let (items, files) =
            content::load_dir_reusing(&config.campaigns_dir(), &ctx, overlay, files, report);
        let by_id = items
            .iter()
            .enumerate()
            .map(|(i, item)| (item.id.clone(), i))
            .collect();
        Some(Workspace {
            config,
            channels,
            templates,
            items,
            by_id,
            channel_sources,
            rendered: Arc::default(),
            files: Arc::new(files),
            synced: None,
            #[cfg(test)]
            renders: Default::default(),
        })
    }

    pub fn channel(&self, name: &str) -> Option<&Configured> {
        self.channels.iter().find(|c| c.name() == name)
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.by_id.get(id).map(|&i| &self.items[i])
    }

    /// Renders every (item, channel) once, with item-level lint: the work
    /// of `crier check`, and the variants [`crate::plan`] schedules, so a
    /// reload renders each once. Uses every core.
    pub fn check(&self, report: &mut Report) -> Variants {
        self.check_with(&Variants::default(), report, false)
    }

    /// `check`, reusing each variant of `previous` whose source (item,
    /// channel settings, templates) is unchanged, with what rendering it
    /// found: only what changed is rendered.
    pub fn check_reusing(&self, previous: &Variants, report: &mut Report) -> Variants {
        self.check_with(previous, report, true)
    }

    /// With `for_plan`, each new variant's JSON is hashed in parallel too.
    fn check_with(&self, previous: &Variants, report: &mut Report, for_plan: bool) -> Variants {
        let checks = crate::parallel::map(&self.items, ITEMS_PER_TASK, |item| {
            self.check_item(item, previous, for_plan)
        });
        let mut variants = Variants::default();
        for (item, check) in self.items.iter().zip(checks) {
            report.diagnostics.extend(check.found.diagnostics);
            for (channel, source, render) in check.renders {
                let key = (item.id.clone(), channel);
                match render {
                    Ok(reused) => variants.insert(key, source, reused),
                    Err(fresh) => variants.insert_fresh(key, source, fresh),
                }
            }
        }
        variants
    }

    /// One item's lint and variants, reused or rendered.
    fn check_item(&self, item: &Item, previous: &Variants, for_plan: bool) -> ItemCheck {
        let mut found = Report::default();
        lint::item(item, &mut found);
        let digest = self.item_digest(item);
        let mut renders = Vec::new();
        for channel in item.channels.iter().filter_map(|name| self.channel(name)) {
            let source = self.source(&digest, item, channel);
            if let Some(render) = previous.reusable(&item.id, channel.name(), &source) {
                found.diagnostics.extend(render.findings.iter().cloned());
                renders.push((channel.name().to_string(), source, Ok(render.clone())));
                continue;
            }
            let mut own = Report::default();
            let variant = self.render(item, channel, &mut own);
            found.diagnostics.extend(own.diagnostics.iter().cloned());
            if let Some(variant) = variant {
                let mut render = Render::new(variant, own.diagnostics);
                if for_plan {
                    render = render.for_plan();
                }
                renders.push((channel.name().to_string(), source, Err(render)));
            }
        }
        ItemCheck { found, renders }
    }

    /// The item as loaded, and the size of each image file it names:
    /// linting a variant reads that size from disk.
    fn item_digest(&self, item: &Item) -> [u8; 32] {
        let mut h = Sha256::new_with_prefix(json_digest(item));
        for image in &item.images {
            let path = self.config.campaigns_dir().join(&image.src);
            let size = std::fs::metadata(path).map_or(u64::MAX, |m| m.len());
            h.update(size.to_le_bytes());
        }
        h.finalize().into()
    }

    /// What the (item, channel) variant is rendered from: the item as
    /// loaded (`digest`), the channel's settings, and the templates it uses.
    fn source(&self, digest: &[u8; 32], item: &Item, channel: &Configured) -> Source {
        let mut h = Sha256::new_with_prefix(digest);
        h.update(channel.name().as_bytes());
        h.update(
            self.channel_sources
                .get(channel.name())
                .copied()
                .unwrap_or_default(),
        );
        for &output in channel.outputs() {
            let candidates = template_candidates(channel, item.kind, output);
            match self.templates.find(&candidates) {
                Some(name) => self.templates.digest(name, &mut h),
                None => h.update(b"no template"),
            }
        }
        h.finalize()[..16].try_into().expect("16 bytes")
    }

    /// Every variant of one item, with item-level lint.
    pub fn variants(&self, item: &Item, report: &mut Report) -> Vec<Variant> {
        lint::item(item, report);
        item.channels
            .iter()
            .filter_map(|name| self.channel(name))
            .filter_map(|channel| self.render(item, channel, report))
            .collect()
    }

    /// One (item, channel): render (templates) → shape (the channel) →
    /// lint. `None` when a template is missing or fails.
    pub fn render(
        &self,
        item: &Item,
        channel: &Configured,
        report: &mut Report,
    ) -> Option<Variant> {
        #[cfg(test)]
        self.renders
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rendered = self.fill_templates(item, channel, report)?;
        let mut findings = Findings::default();
        let variant = channel.shape(item, rendered, &mut findings);
        for (severity, message) in findings.0 {
            report.push(severity, item_location(item, channel), message);
        }
        lint::variant(&self.config, item, channel, &variant, report);
        Some(variant)
    }

    /// Every template output the channel needs, for one item.
    fn fill_templates(
        &self,
        item: &Item,
        channel: &Configured,
        report: &mut Report,
    ) -> Option<Rendered> {
        let data = template_data(&self.config, item, channel.name(), channel.kind());
        let mut rendered = Rendered::default();
        for &output in channel.outputs() {
            let candidates = template_candidates(channel, item.kind, output);
            let Some(name) = self.templates.find(&candidates) else {
                report.error(
                    item_location(item, channel),
                    format!(
                        "no template: add templates/{}.hbs (or any of {})",
                        candidates[0],
                        candidates[1..]
                            .iter()
                            .map(|c| format!("{c}.hbs"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                return None;
            };
            match self.templates.render(name, &data) {
                Ok(text) => rendered.put(output, &text),
                Err(f) => {
                    let message = format!(
                        "{} (rendering item `{}` for channel `{}`)",
                        f.message,
                        item.id,
                        channel.name()
                    );
                    report.error(f.location, message);
                    return None;
                }
            }
        }
        Some(rendered)
    }
}

/// What a loaded workspace leaves for the next load and check of the same
/// folder to reuse: its files as parsed, its variants as rendered, and
/// the plan it synced.
#[derive(Clone, Default)]
pub struct Reuse {
    pub variants: Arc<Variants>,
    pub files: Arc<content::Files>,
    pub plan: Option<Arc<crate::plan::Synced>>,
}

impl Workspace {
    pub fn reuse(&self) -> Reuse {
        Reuse {
            variants: self.rendered.clone(),
            files: self.files.clone(),
            plan: self.synced.clone(),
        }
    }
}

/// A workspace that passed `check`, with the variants checking rendered:
/// planning uses them (`plan::from_variants`), so a reload or a save
/// renders each (item, channel) once.
pub struct Checked {
    pub workspace: Workspace,
    pub variants: Arc<Variants>,
    /// The plan the running workspace synced, when this check replaces
    /// it: `plan::sync` then syncs only the items whose plan changed.
    pub previous_plan: Option<Arc<crate::plan::Synced>>,
    /// The plan this check's sync made the store match, once it has.
    pub synced: std::sync::OnceLock<Arc<crate::plan::Synced>>,
}

impl Checked {
    pub fn new(workspace: Workspace, variants: Variants) -> Checked {
        Checked {
            workspace,
            variants: Arc::new(variants),
            previous_plan: None,
            synced: Default::default(),
        }
    }

    /// Loads and checks everything, reusing what `previous` rendered from
    /// the same sources; `Err` carries the diagnostics that make it unusable.
    pub fn load(config: &Path, previous: &Reuse) -> Result<Checked, Vec<String>> {
        let mut report = Report::default();
        let overlay = Overlay::default();
        match Workspace::load_reusing(config, &overlay, &previous.files, &mut report) {
            Some(workspace) => {
                let mut checked = Checked::check(workspace, report, &previous.variants)?;
                checked.previous_plan = previous.plan.clone();
                Ok(checked)
            }
            None => Err(report.diagnostics.iter().map(ToString::to_string).collect()),
        }
    }

    /// Checks a loaded workspace (`report`: what loading found), reusing
    /// what `previous` rendered from the same sources.
    pub fn check(
        workspace: Workspace,
        mut report: Report,
        previous: &Variants,
    ) -> Result<Checked, Vec<String>> {
        let variants = workspace.check_reusing(previous, &mut report);
        if report.error_count() > 0 {
            return Err(report
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(ToString::to_string)
                .collect());
        }
        Ok(Checked::new(workspace, variants))
    }

    /// The workspace to run on, keeping what the next check reuses
    /// (`Workspace::check_reusing`): each pair's source and fingerprint
    /// state, not its variant. Called once the plan is synced, so the store
    /// holds every variant; one needed again is rendered again
    /// (`plan::sync`).
    pub fn into_workspace(self) -> Workspace {
        let mut ws = self.workspace;
        ws.rendered = Arc::new(self.variants.without_variants());
        ws.synced = self.synced.into_inner();
        ws
    }
}

/// Gives freed heap back to the system. A check allocates hundreds of MB
/// (every workspace and variant) from whichever threads ran it; glibc
/// keeps what they freed in per-thread arenas, so without this the
/// daemon's resident size only ever grows with each reload and save.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn item_location(item: &Item, channel: &Configured) -> Location {
    Location::Item {
        item: item.id.clone(),
        channel: Some(channel.name().to_string()),
    }
}

/// Gives a channel what its network told us earlier (see
/// `channels::learned`). Problems are notes: the channel then counts with
/// its configured limits, as it does on a machine that never asked.
fn adopt_learned(
    channel: &mut Configured,
    data_dir: &Path,
    report: &mut Report,
) -> Option<learned::Learned> {
    let location = Location::Channel {
        channel: channel.name().to_string(),
    };
    let problem = match learned::load(data_dir, channel.name()) {
        Ok(None) => return None,
        Ok(Some(l)) if l.kind != channel.kind() => format!(
            "the saved facts were learned by a `{}` channel; ignoring them",
            l.kind
        ),
        Ok(Some(l)) => match channel.adopt(&l) {
            Ok(()) => return Some(l),
            Err(why) => why,
        },
        Err(why) => why,
    };
    report.push(Severity::Note, location, problem);
    None
}

/// Everything of the configuration a channel's variants may depend on:
/// its own table and learned limits, and the organisation, daemon and
/// lint settings every channel sees.
fn channel_source(
    config: &Config,
    spec: &ChannelSpec,
    learned: Option<&learned::Learned>,
) -> [u8; 32] {
    let shared = format!(
        "{:?}{:?}{:?}",
        config.organisation, config.daemon, config.lint
    );
    let own = format!(
        "{}{}{}{:?}{:?}",
        spec.name, spec.kind, spec.require_approval, spec.max_per_minute, spec.slots
    );
    let mut h = Sha256::new_with_prefix(shared);
    h.update(own);
    h.update(json_digest(&spec.options));
    h.update(json_digest(&learned));
    h.finalize().into()
}

/// One item's check: its findings, and per channel the variant reused
/// (`Ok`) or rendered (`Err`), with its source.
struct ItemCheck {
    found: Report,
    renders: Vec<(String, Source, Result<Arc<Render>, Render>)>,
}

/// Where a channel's template for one content kind may be, most specific first.
pub fn template_candidates(channel: &Configured, kind: ItemKind, output: Output) -> Vec<String> {
    let (k, f, o) = (channel.kind(), channel.family().as_str(), output.suffix());
    let c = kind.as_str();
    let mut v = vec![
        format!("{k}/{c}.{o}"),
        format!("{k}/default.{o}"),
        format!("{f}/{c}.{o}"),
        format!("{f}/default.{o}"),
    ];
    v.dedup();
    v
}
