//! Counts, splits and annotates post text the way each social network does.
//!
//! - [`x`]: twitter-text v3 weighted length (URLs 23, emoji 2, CJK 2).
//! - [`mastodon`]: graphemes, URLs 23, remote mentions count as `@user`.
//! - [`bluesky`]: graphemes (300) and UTF-8 bytes (3000), and byte-offset
//!   facets for links, tags, mentions.
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

/// One limit a network sets, and a text's length in that limit's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Measure {
    /// What is counted, e.g. "graphemes" or "UTF-8 bytes".
    pub unit: &'static str,
    /// The text's length in `unit`.
    pub length: usize,
    /// The most the network accepts in `unit`.
    pub limit: usize,
}

impl Measure {
    /// Within this limit.
    pub fn fits(&self) -> bool {
        self.length <= self.limit
    }
    /// By how much the text is over this limit (0 when it fits).
    pub fn over(&self) -> usize {
        self.length.saturating_sub(self.limit)
    }
}

/// Measures text the way one network does.
///
/// [`Counter::count`], [`Counter::limit`] and [`Counter::unit`] are the
/// network's main limit, the one shown to people (Bluesky's 300 graphemes).
/// A network with more than one length limit (Bluesky also takes at most
/// 3000 UTF-8 bytes) lists them all in [`Counter::measures`], and a text
/// [`Counter::fits`] only within every one: check that, never `count <= limit`.
pub trait Counter: Send + Sync {
    /// Length of `text` in this network's unit.
    fn count(&self, text: &str) -> usize;
    /// The most this network accepts.
    fn limit(&self) -> usize;
    /// What [`Counter::count`] counts, e.g. "graphemes".
    fn unit(&self) -> &'static str;
    /// Every length limit the network sets on `text`, the main one first.
    fn measures(&self, text: &str) -> Vec<Measure> {
        vec![Measure {
            unit: self.unit(),
            length: self.count(text),
            limit: self.limit(),
        }]
    }
    /// Whether `text` is within every one of the network's length limits.
    fn fits(&self, text: &str) -> bool {
        self.measures(text).iter().all(Measure::fits)
    }
    /// Network rules other than length (X's forbidden characters). True by default.
    fn acceptable(&self, _text: &str) -> bool {
        true
    }
    /// Length, limit and validity: non-empty, within every limit and acceptable.
    fn measure(&self, text: &str) -> Count {
        let length = self.count(text);
        let limit = self.limit();
        Count {
            length,
            limit,
            valid: length > 0 && self.fits(text) && self.acceptable(text),
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
    fn measures(&self, text: &str) -> Vec<Measure> {
        let mut all = self.inner.measures(text);
        all[0].limit = self.limit;
        all
    }
    fn acceptable(&self, text: &str) -> bool {
        self.inner.acceptable(text)
    }
}

/// The networks [`counter_for`] knows, in the order `crier count` lists them.
pub const NETWORKS: &[&str] = &["x", "mastodon", "bluesky", "linkedin"];

/// The counter for `network` (one of [`NETWORKS`]), or
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

    #[test]
    fn every_limit_is_measured_and_a_new_limit_replaces_only_the_main_one() {
        let units = |c: &dyn Counter| c.measures("a").iter().map(|m| m.unit).collect::<Vec<_>>();
        let bluesky = counter_for("bluesky", None).unwrap();
        assert_eq!(units(bluesky.as_ref()), ["graphemes", "UTF-8 bytes"]);
        assert_eq!(
            units(counter_for("x", None).unwrap().as_ref()),
            ["weighted characters"]
        );
        let wider = counter_for("bluesky", Some(1000)).unwrap();
        let family = "👨‍👩‍👧‍👦".repeat(400); // 400 graphemes, 10000 bytes
        let m = wider.measures(&family);
        assert_eq!((m[0].length, m[0].limit), (400, 1000));
        assert_eq!((m[1].length, m[1].limit), (10_000, 3000));
        assert!(!wider.fits(&family), "the byte limit stays");
        assert!(wider.fits(&"a".repeat(1000)));
    }
}
