//! Every channel kind crier knows, one line each.

use super::{Channel, Family};
use crate::config::{ChannelSpec, Organisation};

/// Builds a channel from its table; the organisation gives defaults
/// (website, name, language) a channel may need.
pub type Build = fn(&ChannelSpec, &Organisation) -> Result<Box<dyn Channel>, String>;

/// A channel kind: its name in `channels.toml`, the family its templates
/// fall back to, and how to build one.
pub struct Kind {
    pub name: &'static str,
    pub family: Family,
    pub build: Build,
}

pub const KINDS: &[Kind] = &[
    super::email::KIND,
    super::feed::KIND,
    super::mastodon::KIND,
    super::bluesky::KIND,
    super::x::KIND,
    super::facebook::KIND,
    super::linkedin::KIND,
    super::slack::KIND,
    super::teams::KIND,
    super::discord::KIND,
    super::webhook::KIND,
    super::discard::KIND,
];

pub fn find(kind: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == kind)
}

pub fn names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}
