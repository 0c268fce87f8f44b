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

use crate::diagnostics::Diagnostic;
use crate::store::{RenderRecord, StoredRender};
use crate::variant::Variant;

/// Fingerprint of what one (item, channel) variant is rendered from.
pub type Source = [u8; 16];

/// One rendered variant and what rendering it found.
#[derive(Debug)]
pub struct Render {
    /// Shared with every delivery planned from it.
    pub variant: Arc<Variant>,
    /// SHA-256 after the variant's canonical JSON: the plan's fingerprints
    /// continue from here, so the JSON is made once per variant, not once
    /// per delivery and check. Made when first needed (`crier check`
    /// plans nothing), or up front by [`Render::for_plan`].
    json: OnceLock<Sha256>,
    /// Shape findings and variant lint, reported again whenever it is reused.
    pub findings: Vec<Diagnostic>,
}

impl Render {
    pub fn new(variant: Variant, findings: Vec<Diagnostic>) -> Render {
        Render {
            variant: Arc::new(variant),
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

    fn json_state(&self) -> &Sha256 {
        (self.json).get_or_init(|| Sha256::new_with_prefix(self.variant.canonical_json()))
    }

    /// A variant read back from the store, hashed as stored. No findings:
    /// only checked content is planned and recorded.
    fn stored(variant: Variant, json: &str) -> Render {
        Render {
            variant: Arc::new(variant),
            json: OnceLock::from(Sha256::new_with_prefix(json)),
            findings: Vec::new(),
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
    let json = Sha256::new_with_prefix(variant.canonical_json());
    finish(json, version, due_at, approval)
}

fn finish(mut h: Sha256, version: &str, due_at: DateTime<Utc>, approval: bool) -> String {
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

    /// The variant of `item` for the channel named `channel`, if it rendered.
    pub fn get(&self, item: &str, channel: &str) -> Option<&Variant> {
        self.render(item, channel).map(|r| r.variant.as_ref())
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
            let (source, _) = &self.by_key[&(item.clone(), channel.clone())];
            Some(RenderRecord {
                item: item.clone(),
                channel: channel.clone(),
                source: hex::encode(source),
                fingerprint: main(item, channel)?,
            })
        };
        self.fresh.iter().filter_map(record).collect()
    }

    /// Adds the variants the store kept (`Store::stored_renders`).
    pub fn add_stored(&mut self, stored: Vec<StoredRender>) {
        for s in stored {
            let Some(source) = parse_source(&s.source) else {
                continue;
            };
            let render = Render::stored(s.variant, &s.json);
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
