//! Everything `channels.toml` points at, loaded and checked together:
//! configuration, channels, templates and content. `check`, `preview` and
//! the daemon all start here.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use crate::channels::{learned, registry, Configured, Findings};
use crate::config::Config;
use crate::content::load::Overlay;
use crate::content::{self, Item, ItemKind};
use crate::diagnostics::{Location, Report, Severity};
use crate::lint;
use crate::render::{template_data, Output, Rendered, Templates};
use crate::variant::Variant;

pub struct Workspace {
    pub config: Config,
    pub channels: Vec<Configured>,
    /// Shared with channels that render at send time (`Channel::attach_templates`).
    pub templates: std::sync::Arc<Templates>,
    pub items: Vec<Item>,
    /// Where each item is in `items`, by id (a listing by ids looks up
    /// hundreds among thousands).
    by_id: HashMap<String, usize>,
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
        let config = Config::load(config_path, report)?;
        let mut channels = Vec::new();
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
                        adopt_learned(&mut c, &config.data_dir(), report);
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
        let items = content::load_dir(&config.campaigns_dir(), &ctx, overlay, report);
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
    /// reload renders each once.
    pub fn check(&self, report: &mut Report) -> Variants {
        let mut variants = Variants::default();
        for item in &self.items {
            for variant in self.variants(item, report) {
                variants.push(variant);
            }
        }
        variants
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

/// A workspace that passed `check`, with the variants checking rendered:
/// planning uses them (`plan::from_variants`), so a reload or a save
/// renders each (item, channel) once.
pub struct Checked {
    pub workspace: Workspace,
    pub variants: Variants,
}

/// The variants of a checked workspace, in render order, found by (item,
/// channel).
#[derive(Debug, Default)]
pub struct Variants {
    all: Vec<Variant>,
    by_key: HashMap<(String, String), usize>,
}

impl Variants {
    fn push(&mut self, variant: Variant) {
        let key = (variant.item.clone(), variant.channel.clone());
        self.by_key.entry(key).or_insert(self.all.len());
        self.all.push(variant);
    }

    /// The variant of `item` for the channel named `channel`, if it rendered.
    pub fn get(&self, item: &str, channel: &str) -> Option<&Variant> {
        let i = self.by_key.get(&(item.to_string(), channel.to_string()))?;
        Some(&self.all[*i])
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
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
fn adopt_learned(channel: &mut Configured, data_dir: &Path, report: &mut Report) {
    let location = Location::Channel {
        channel: channel.name().to_string(),
    };
    let problem = match learned::load(data_dir, channel.name()) {
        Ok(None) => return,
        Ok(Some(l)) if l.kind != channel.kind() => format!(
            "the saved facts were learned by a `{}` channel; ignoring them",
            l.kind
        ),
        Ok(Some(l)) => match channel.adopt(&l) {
            Ok(()) => return,
            Err(why) => why,
        },
        Err(why) => why,
    };
    report.push(Severity::Note, location, problem);
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
