//! Shaping for networks with a length limit: count as the network counts,
//! and split into a numbered thread where the network has threads.

use crier_text::{thread, Counter};

use super::Findings;
use crate::content::Item;
use crate::variant::{Part, Variant};

pub struct PostRules<'a> {
    pub counter: &'a dyn Counter,
    /// The network can chain posts as replies.
    pub threads: bool,
    pub max_images: usize,
}

pub fn shape_post(
    item: &Item,
    channel: &str,
    kind: &str,
    text: String,
    rules: PostRules,
    findings: &mut Findings,
) -> Variant {
    let counter = rules.counter;
    let (length, limit, unit) = (counter.count(&text), counter.limit(), counter.unit());
    // every limit the network sets (Bluesky: graphemes and bytes), not only the main one
    let pieces = if counter.fits(&text) {
        vec![text.clone()]
    } else if rules.threads && item.thread {
        thread::split(&text, counter)
    } else {
        let why = if rules.threads {
            " and the item sets thread = false"
        } else {
            " and this network has no threads"
        };
        for (i, m) in counter.measures(&text).iter().enumerate() {
            if m.fits() {
                continue;
            }
            // the main limit's unit is the variant's; another limit names its own
            let of = if i == 0 {
                m.limit.to_string()
            } else {
                format!("{} {}", m.limit, m.unit)
            };
            findings.error(format!(
                "text is {} {}, {} over the limit of {of}{why}",
                m.length,
                m.unit,
                m.over()
            ));
        }
        vec![text.clone()]
    };
    if item.images.len() > rules.max_images {
        findings.error(format!(
            "{} images, but this network takes at most {}",
            item.images.len(),
            rules.max_images
        ));
    }
    let parts = pieces
        .into_iter()
        .map(|p| Part {
            length: counter.count(&p),
            text: p,
            annotations: None,
        })
        .collect();
    Variant {
        item: item.id.clone(),
        channel: channel.to_string(),
        kind: kind.to_string(),
        subject: None,
        text,
        html: None,
        length,
        limit: Some(limit),
        unit: unit.to_string(),
        parts,
        images: item.images.clone(),
        payload: None,
    }
}

/// Counts Unicode scalar values, for networks that count plain characters.
pub struct Chars {
    limit: usize,
}

impl Chars {
    pub fn new(limit: usize) -> Chars {
        Chars { limit }
    }
}

impl Counter for Chars {
    fn count(&self, text: &str) -> usize {
        text.chars().count()
    }
    fn limit(&self) -> usize {
        self.limit
    }
    fn unit(&self) -> &'static str {
        "characters"
    }
}
