//! Adding subscribers to a list from a CSV file, as every caller sees it
//! (`crier subscribers import`, `POST /api/v1/subscribers/import`): what
//! is asked, what came of it, and why a line or the whole file was
//! refused. The kind that keeps lists does the work
//! ([`KindHooks::import`](super::registry::KindHooks::import)), so there
//! is one implementation whoever calls it.

use serde::Serialize;

use crate::store::StoreError;

/// An import larger than this is refused whole, before anything is read.
pub const MAX_IMPORT_BYTES: u64 = 10 * 1024 * 1024;

/// One CSV file for one list channel.
pub struct ImportRequest {
    /// The channel's name in `channels.toml`.
    pub channel: String,
    /// Where the file came from (its name), for the consent record's
    /// wording when a row gives none, and for messages.
    pub source: String,
    pub csv: Vec<u8>,
    /// Topics for rows without a topics column.
    pub topics: Vec<String>,
    /// New subscribers take their topics as this digest (`daily`,
    /// `weekly`, as the list offers) instead of item by item.
    pub digest: Option<String>,
}

/// What an import did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// Rows added with consent evidence (`consent_at`): confirmed at once.
    pub confirmed: usize,
    /// Rows added without it: sent a confirmation email, not yet on the list.
    pub awaiting_confirmation: usize,
    /// Rows whose address was already subscribed: left as they were.
    pub already_subscribed: usize,
    /// Rows added awaiting confirmation whose email could not be sent
    /// (they can subscribe again through the form).
    pub confirmations_not_sent: Vec<LineProblem>,
    /// Every line refused, and why.
    pub problems: Vec<LineProblem>,
}

impl Imported {
    /// Rows now on the list or waiting for their confirmation.
    pub fn imported(&self) -> usize {
        self.confirmed + self.awaiting_confirmation
    }
}

/// Why one line (or, without a line, the file) was not imported.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineProblem {
    /// The physical line in the file (the header is line 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The column at fault (`email`, `topics`, `consent_at`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why nothing at all was imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportRefused {
    #[error("the file is {size} bytes; an import takes at most {} MB. Split it into smaller files; nothing was imported", MAX_IMPORT_BYTES / 1024 / 1024)]
    TooBig { size: u64 },
    /// The request itself is wrong (an unknown topic, no `email` column):
    /// `field` names what to fix.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The kind keeps no list, or the setup the list needs is missing.
    #[error("{0}")]
    Unavailable(String),
}

impl ImportRefused {
    pub fn invalid(field: &str, message: impl Into<String>) -> ImportRefused {
        ImportRefused::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Refuses `size` bytes over the limit.
    pub fn check_size(size: u64) -> Result<(), ImportRefused> {
        if size > MAX_IMPORT_BYTES {
            return Err(ImportRefused::TooBig { size });
        }
        Ok(())
    }
}
