//! Counts, splits and annotates post text the way each social network does.
//!
//! - [`x`]: twitter-text v3 weighted length (URLs 23, emoji 2, CJK 2).
//! - [`mastodon`]: graphemes, URLs 23, remote mentions count as `@user`.
//! - [`bluesky`]: graphemes (300) and byte-offset facets for links, tags, mentions.
//! - [`linkedin`]: the "little" text format and its 3000-character limit.
//! - [`thread`]: splits long text into numbered parts that each fit.

mod emoji;
mod hashtags;
mod punycode;
mod tld;
mod urls;

pub mod bluesky;
pub mod linkedin;
pub mod mastodon;
pub mod thread;
pub mod x;

pub use hashtags::hashtags;
pub use urls::urls;

/// The length of a text against a network's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Count {
    /// Length in the network's unit (see [`Counter::unit`]).
    pub length: usize,
    /// The most the network accepts.
    pub limit: usize,
    /// Whether the network would accept the text.
    pub valid: bool,
}

/// Measures text the way one network does.
pub trait Counter: Send + Sync {
    /// Length of `text` in this network's unit.
    fn count(&self, text: &str) -> usize;
    /// The most this network accepts.
    fn limit(&self) -> usize;
    /// What [`Counter::count`] counts, e.g. "graphemes".
    fn unit(&self) -> &'static str;
    /// Network rules other than the length limit (X's forbidden characters,
    /// Bluesky's byte cap). True by default.
    fn acceptable(&self, _text: &str) -> bool {
        true
    }
    /// Length, limit and validity: non-empty, within the limit and acceptable.
    fn measure(&self, text: &str) -> Count {
        let length = self.count(text);
        let limit = self.limit();
        Count {
            length,
            limit,
            valid: length > 0 && length <= limit && self.acceptable(text),
        }
    }
}

/// A counter with another limit, e.g. X Premium's longer posts.
#[derive(Debug, Clone)]
pub struct WithLimit<C> {
    /// The network's counter.
    pub inner: C,
    /// The limit to use instead of the network default.
    pub limit: usize,
}

impl<C: Counter> Counter for WithLimit<C> {
    fn count(&self, text: &str) -> usize {
        self.inner.count(text)
    }
    fn limit(&self) -> usize {
        self.limit
    }
    fn unit(&self) -> &'static str {
        self.inner.unit()
    }
    fn acceptable(&self, text: &str) -> bool {
        self.inner.acceptable(text)
    }
}

/// The counter for `network` ("x", "mastodon", "bluesky", "linkedin"), or
/// `None` for an unknown name. `limit` replaces the network's default limit
/// (a Mastodon instance's own limit, an X Premium account).
pub fn counter_for(network: &str, limit: Option<usize>) -> Option<Box<dyn Counter>> {
    fn boxed<C: Counter + 'static>(c: C, limit: Option<usize>) -> Box<dyn Counter> {
        match limit {
            Some(limit) => Box::new(WithLimit { inner: c, limit }),
            None => Box::new(c),
        }
    }
    Some(match network {
        "x" => boxed(x::XCounter, limit),
        "mastodon" => Box::new(mastodon::MastodonCounter {
            limit: limit.unwrap_or(mastodon::DEFAULT_LIMIT),
            ..Default::default()
        }),
        "bluesky" => boxed(bluesky::BlueskyCounter, limit),
        "linkedin" => boxed(linkedin::LinkedInCounter, limit),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_for_networks() {
        let cases = [
            ("x", 280, "weighted characters"),
            ("mastodon", 500, "graphemes"),
            ("bluesky", 300, "graphemes"),
        ];
        for (name, limit, unit) in cases {
            let c = counter_for(name, None).unwrap();
            assert_eq!((c.limit(), c.unit()), (limit, unit), "{name}");
        }
        assert_eq!(counter_for("linkedin", None).unwrap().limit(), 3000);
        assert!(counter_for("myspace", None).is_none());
        assert_eq!(counter_for("mastodon", Some(1000)).unwrap().limit(), 1000);
        let x = counter_for("x", Some(25_000)).unwrap();
        assert!(x.measure(&"a".repeat(300)).valid);
        assert!(
            !x.measure("a\u{FFFE}").valid,
            "X's forbidden characters stay forbidden"
        );
    }

    #[test]
    fn measure_limits() {
        let c = counter_for("bluesky", None).unwrap();
        assert_eq!(
            c.measure(""),
            Count {
                length: 0,
                limit: 300,
                valid: false
            }
        );
        assert!(c.measure(&"é".repeat(300)).valid);
        assert!(!c.measure(&"é".repeat(301)).valid);
    }
}
