//! What `check` rendered, by (item, channel), each with the fingerprint of
//! what it was rendered from (its [`Source`]): the item, the channel's
//! settings and the templates it used. A later check with the same source
//! reuses the variant instead of rendering it again, so a reload or a save
//! renders only what changed, and a start whose content did not change
//! renders nothing (the sources are kept in the store:
//! `Store::record_renders`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sha2_state::Digest as _;

use crate::diagnostics::Diagnostic;
use crate::store::{RenderRecord, StoredRender};
use crate::variant::Variant;

/// Fingerprint of what one (item, channel) variant is rendered from.
pub type Source = [u8; 16];

/// SHA-256 after a variant's canonical JSON, the same algorithm as `sha2`
/// 0.10's, in the release that can save its state (`SerializableState`).
type JsonState = sha2_state::Sha256;

/// One rendered variant and what rendering it found.
#[derive(Debug)]
pub struct Render {
    /// Shared with every delivery planned from it. `None` once the store
    /// holds it (read back at start, or let go after the plan was synced):
    /// planning needs only [`Render::fingerprint`], and a delivery that
    /// must be written again has its pair rendered again (`plan::sync`).
    pub variant: Option<Arc<Variant>>,
    /// SHA-256 after the variant's canonical JSON: the plan's fingerprints
    /// continue from here, so the JSON is made once per variant, not once
    /// per delivery and check. Made when first needed (`crier check`
    /// plans nothing), or up front by [`Render::for_plan`].
    json: OnceLock<JsonState>,
    /// Shape findings and variant lint, reported again whenever it is reused.
    pub findings: Vec<Diagnostic>,
}

impl Render {
    pub fn new(variant: Variant, findings: Vec<Diagnostic>) -> Render {
        Render {
            variant: Some(Arc::new(variant)),
            json: OnceLock::new(),
            findings,
        }
    }

    /// Hashes the canonical JSON now (on the thread that rendered it, not
    /// later in the single-threaded plan).
    pub fn for_plan(self) -> Render {
        self.json_state();
        self
    }

    fn json_state(&self) -> &JsonState {
        (self.json).get_or_init(|| {
            let variant = self
                .variant
                .as_ref()
                .expect("a render without its hash has its variant");
            JsonState::new_with_prefix(variant.canonical_json())
        })
    }

    /// The hash state after the variant's JSON, as the store keeps it.
    pub fn saved_state(&self) -> Vec<u8> {
        use sha2_state::digest::common::hazmat::SerializableState;
        self.json_state().serialize().to_vec()
    }

    /// A render the store kept (`saved_state`): its fingerprints without
    /// its variant. No findings: only checked content is planned and
    /// recorded. `None` for a state this build cannot read.
    fn stored(state: &[u8]) -> Option<Render> {
        use sha2_state::digest::common::hazmat::SerializableState;
        let state = state.try_into().ok()?;
        Some(Render {
            variant: None,
            json: OnceLock::from(JsonState::deserialize(state).ok()?),
            findings: Vec::new(),
        })
    }

    /// The same render, its variant let go: the store holds it.
    fn without_variant(&self) -> Render {
        Render {
            variant: None,
            json: OnceLock::from(self.json_state().clone()),
            findings: self.findings.clone(),
        }
    }

    /// The fingerprint of a delivery of this variant (see `plan`): it
    /// changes with the variant, the time, the approval rule, and any edit
    /// of the item's entry (so an approval never outlives what was approved).
    pub fn fingerprint(&self, version: &str, due_at: DateTime<Utc>, approval: bool) -> String {
        finish(self.json_state().clone(), version, due_at, approval)
    }
}

/// [`Render::fingerprint`] of a variant made outside a check (a digest).
pub fn fingerprint(
    variant: &Variant,
    version: &str,
    due_at: DateTime<Utc>,
    approval: bool,
) -> String {
    let json = JsonState::new_with_prefix(variant.canonical_json());
    finish(json, version, due_at, approval)
}

fn finish(mut h: JsonState, version: &str, due_at: DateTime<Utc>, approval: bool) -> String {
    use sha2_state::Digest as _;
    h.update(version.as_bytes());
    h.update(due_at.timestamp_millis().to_le_bytes());
    h.update([u8::from(approval)]);
    hex::encode(&h.finalize()[..16])
}

/// The variants of a checked workspace, found by (item, channel).
#[derive(Debug, Default)]
pub struct Variants {
    by_key: HashMap<(String, String), (Source, Arc<Render>)>,
    /// The pairs this check rendered (not reused): what to record.
    fresh: Vec<(String, String)>,
}

impl Variants {
    pub(crate) fn insert(&mut self, key: (String, String), source: Source, render: Arc<Render>) {
        self.by_key.entry(key).or_insert((source, render));
    }

    pub(crate) fn insert_fresh(&mut self, key: (String, String), source: Source, render: Render) {
        self.fresh.push(key.clone());
        self.insert(key, source, Arc::new(render));
    }

    /// The render of `(item, channel)` if it was made from `source`.
    pub(crate) fn reusable(
        &self,
        item: &str,
        channel: &str,
        source: &Source,
    ) -> Option<&Arc<Render>> {
        let (was, render) = self.by_key.get(&(item.to_string(), channel.to_string()))?;
        (was == source).then_some(render)
    }

    /// The variant of `item` for the channel named `channel`, if it
    /// rendered and is still held (see [`Render::variant`]).
    pub fn get(&self, item: &str, channel: &str) -> Option<&Variant> {
        self.render(item, channel)?.variant.as_deref()
    }

    /// Some variant still held, if any (tests: after adoption, none is).
    #[cfg(test)]
    pub fn get_any_variant(&self) -> Option<&Variant> {
        self.by_key.values().find_map(|(_, r)| r.variant.as_deref())
    }

    /// Whether `(item, channel)` rendered (its variant held or not).
    pub fn has(&self, item: &str, channel: &str) -> bool {
        self.render(item, channel).is_some()
    }

    pub fn render(&self, item: &str, channel: &str) -> Option<&Arc<Render>> {
        let (_, render) = self.by_key.get(&(item.to_string(), channel.to_string()))?;
        Some(render)
    }

    /// How many pairs this check rendered rather than reused.
    pub fn rendered(&self) -> usize {
        self.fresh.len()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// What to record for the freshly rendered pairs, given the fingerprint
    /// each one's main delivery was planned with (`None`: not planned).
    pub fn records(&self, main: impl Fn(&str, &str) -> Option<String>) -> Vec<RenderRecord> {
        let record = |(item, channel): &(String, String)| {
            let render = self.render(item, channel)?;
            self.record(item, channel, render, main(item, channel)?)
        };
        self.fresh.iter().filter_map(record).collect()
    }

    /// The record of `(item, channel)` rendered again as `render` (from
    /// the source this check found), its `at` delivery planned with
    /// `fingerprint`.
    pub fn record(
        &self,
        item: &str,
        channel: &str,
        render: &Render,
        fingerprint: String,
    ) -> Option<RenderRecord> {
        let (source, _) = self.by_key.get(&(item.to_string(), channel.to_string()))?;
        Some(RenderRecord {
            item: item.to_string(),
            channel: channel.to_string(),
            source: hex::encode(source),
            fingerprint,
            state: render.saved_state(),
        })
    }

    /// The same renders with their variants let go, once the plan made
    /// from them is in the store: a running daemon keeps only what the
    /// next check and plan need (a fingerprint state a pair, not a
    /// variant).
    pub fn without_variants(&self) -> Variants {
        let by_key = (self.by_key.iter())
            .map(|(key, (source, render))| {
                let kept = match render.variant {
                    None => render.clone(),
                    Some(_) => Arc::new(render.without_variant()),
                };
                (key.clone(), (*source, kept))
            })
            .collect();
        Variants {
            by_key,
            fresh: Vec::new(),
        }
    }

    /// Adds the variants the store kept (`Store::stored_renders`).
    pub fn add_stored(&mut self, stored: Vec<StoredRender>) {
        for s in stored {
            let Some(source) = parse_source(&s.source) else {
                continue;
            };
            let Some(render) = Render::stored(&s.state) else {
                continue;
            };
            self.insert((s.item, s.channel), source, Arc::new(render));
        }
    }
}

fn parse_source(hex_text: &str) -> Option<Source> {
    hex::decode(hex_text).ok()?.try_into().ok()
}

/// SHA-256 of `value`'s JSON, written straight into the hash.
pub fn json_digest(value: &impl serde::Serialize) -> [u8; 32] {
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hashing(Sha256::new());
    serde_json::to_writer(&mut h, value).expect("plain data serialises");
    h.0.finalize().into()
}
