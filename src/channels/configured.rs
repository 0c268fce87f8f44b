//! A channel as `channels.toml` configures it: what every kind shares, held
//! once around what the kind's module implements.

use std::ops::{Deref, DerefMut};

use super::registry::Kind;
use super::{Channel, Family};
use crate::config::{ChannelSpec, Organisation};

/// One configured channel: its name and kind, and the module's
/// [`Channel`]. It dereferences to the module, so callers shape, publish
/// and adopt through it as through the module itself.
pub struct Configured {
    name: String,
    kind: &'static Kind,
    module: Box<dyn Channel>,
}

impl Configured {
    /// Builds the channel `spec` describes with `kind`'s module; the error
    /// names the problem in the table.
    pub fn build(
        kind: &'static Kind,
        spec: &ChannelSpec,
        organisation: &Organisation,
    ) -> Result<Configured, String> {
        let module = (kind.build)(spec, organisation)?;
        Ok(Configured {
            name: spec.name.clone(),
            kind,
            module,
        })
    }

    /// Its name in `channels.toml` (`[channels.<name>]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The registry name of its kind, e.g. `mastodon`.
    pub fn kind(&self) -> &'static str {
        self.kind.name
    }

    /// Whether this channel keeps a subscriber list (its kind says).
    pub fn keeps_lists(&self) -> bool {
        self.kind.hooks.keeps_lists()
    }

    pub fn family(&self) -> Family {
        self.kind.family
    }
}

impl Deref for Configured {
    type Target = dyn Channel;

    fn deref(&self) -> &Self::Target {
        self.module.as_ref()
    }
}

impl DerefMut for Configured {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.module.as_mut()
    }
}
