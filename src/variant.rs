//! A [`Variant`] is exactly what one channel will send for one item: made
//! by rendering and shaping, planned and stored beside its delivery, and
//! handed to the channel's publisher as it was shown by `check`. It is
//! typed from end to end; only the store turns it into text and back.

use serde::{Deserialize, Serialize};

use crate::content::Image;

/// One message of a variant: the whole post, or one post of a thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub text: String,
    /// Counted the way the network counts it.
    pub length: usize,
    /// Network-specific annotations of this part (e.g. rich-text facets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub item: String,
    pub channel: String,
    /// The channel's kind (`mastodon`, `email`, ...).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The full text (for email, the plain-text part).
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Length of `text` as the network counts it.
    pub length: usize,
    /// The network's limit for one message, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// What `length` counts ("graphemes", "weighted characters", ...).
    pub unit: String,
    /// The messages that will be sent: one, or a thread.
    pub parts: Vec<Part>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// The request body beyond the text, where the network needs one
    /// (e.g. an Adaptive Card, a link card, the escaped commentary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

impl Variant {
    /// The variant as JSON text with its keys sorted, so the same variant is
    /// always the same text: plan fingerprints hash it (stores planned by
    /// earlier versions keep their fingerprints) and the store keeps it.
    pub fn canonical_json(&self) -> String {
        // A `Value`'s maps are sorted (no `preserve_order`), the struct's are not.
        serde_json::to_value(self)
            .expect("a variant is plain data")
            .to_string()
    }

    /// A variant with one part and no limit, for channels that take any length.
    pub fn document(item: &str, channel: &str, kind: &str, text: String) -> Variant {
        let length = text.chars().count();
        Variant {
            item: item.into(),
            channel: channel.into(),
            kind: kind.into(),
            subject: None,
            parts: vec![Part {
                text: text.clone(),
                length,
                annotations: None,
            }],
            text,
            html: None,
            length,
            limit: None,
            unit: "characters".into(),
            images: Vec::new(),
            payload: None,
        }
    }
}
