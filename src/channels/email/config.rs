//! The email channel's own options: the rest of its `[channels.<name>]`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::ChannelSpec;
use crate::secret::{MissingSecret, Secret, SecretRef};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain SMTP: only sensible to a relay on loopback.
    None,
    #[default]
    Starttls,
    Implicit,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DkimAlgorithm {
    Rsa,
    Ed25519,
}

/// DKIM signing: the key file holds an RSA PKCS#1 PEM or a base64 Ed25519
/// seed. The List-* headers are always signed (bulk-sender rules).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dkim {
    pub domain: String,
    pub selector: String,
    pub key_file: PathBuf,
    pub algorithm: DkimAlgorithm,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// `Name <address>` the messages come from.
    pub from: String,
    pub reply_to: Option<String>,
    /// RFC 2919 list identifier, e.g. `news.example.org`.
    pub list_id: String,
    /// The mailto: target of List-Unsubscribe; the from address if absent.
    pub unsubscribe_mailto: Option<String>,
    pub smtp_host: String,
    #[serde(default = "default_port")]
    pub smtp_port: u16,
    #[serde(default)]
    pub tls: Tls,
    /// PEM certificates of a private CA to trust for the SMTP server, on top
    /// of the public roots (a relay with an internal certificate). Never a
    /// way to skip verification: the name must still match `smtp_host`.
    pub tls_ca_file: Option<PathBuf>,
    pub username_env: Option<SecretRef>,
    pub password_env: Option<SecretRef>,
    pub topics: Vec<Topic>,
    /// SMTP connections (and so messages in flight) at once. Also the most
    /// messages a crash can repeat.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Relay quota: messages per second (0 = no cap).
    #[serde(default)]
    pub max_per_second: u32,
    /// Relay quota: messages per rolling hour (none = no cap).
    pub max_per_hour: Option<u64>,
    /// A connection is closed and reopened after this many messages.
    #[serde(default = "default_recycle")]
    pub recycle_after: u32,
    /// Hard bounces (5xx) before an address is suppressed.
    #[serde(default = "default_bounce_limit")]
    pub bounce_limit: i64,
    /// Seconds to wait for the SMTP server at each step.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Off only to measure what Nagle's algorithm costs (bench/email.sh).
    #[serde(default = "default_true")]
    pub tcp_nodelay: bool,
    /// Hours a confirmation link stays valid.
    #[serde(default = "default_confirm_hours")]
    pub confirm_hours: u64,
    /// Subscribing again while pending sends a fresh confirmation at most
    /// once per this many minutes per address (the first one not counted).
    #[serde(default = "default_confirm_resend")]
    pub confirm_resend_minutes: u64,
    /// Subscribe/preferences/unsubscribe requests per client address per minute.
    #[serde(default = "default_page_rate")]
    pub page_requests_per_minute: u32,
    /// The consent wording shown on the form; recorded with each consent.
    #[serde(default = "default_wording")]
    pub consent_wording: String,
    pub dkim: Option<Dkim>,
    /// The domain of the envelope sender, `bounces+<token>@<domain>` (its
    /// mail must reach the bounce mailbox); the From address's if absent.
    pub bounce_domain: Option<String>,
    /// `[channels.<name>.bounces]`: the bounce mailbox and soft-bounce rule.
    pub bounces: Option<super::bounce::BounceOptions>,
    /// `[channels.<name>.digests]`: when the daily and weekly digests go.
    pub digests: Option<super::digest::DigestOptions>,
}

fn default_port() -> u16 {
    587
}
fn default_concurrency() -> usize {
    4
}
fn default_recycle() -> u32 {
    1000
}
fn default_bounce_limit() -> i64 {
    1
}
fn default_timeout() -> u64 {
    30
}
fn default_true() -> bool {
    true
}
fn default_confirm_hours() -> u64 {
    72
}
fn default_confirm_resend() -> u64 {
    15
}
fn default_page_rate() -> u32 {
    10
}
fn default_wording() -> String {
    "I agree to receive the emails I chose above. I can change my topics or leave at any \
     time through the link in every email."
        .into()
}

/// A plain address check: one `@`, no spaces or control characters, a dot
/// in the domain. Enough to refuse typing mistakes and header injection;
/// the SMTP server has the last word.
pub fn valid_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.len() <= 253
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && s.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[],;:\"\\".contains(c))
}

/// The bare address inside `Name <address>`, or the whole string.
pub fn bare_address(s: &str) -> &str {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s.trim(),
    }
}

/// The PEM file's bytes, once it is known to hold at least one certificate
/// (an empty or wrong file would otherwise add no root, silently).
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(pem)
}

impl Options {
    /// The SMTP username and password from their environment variables,
    /// when the channel names them (parse makes sure both or neither);
    /// `Err` names the variable that is not set.
    pub fn smtp_auth(&self) -> Result<Option<(Secret, Secret)>, MissingSecret> {
        match (&self.username_env, &self.password_env) {
            (Some(u), Some(p)) => Ok(Some((u.resolve()?, p.resolve()?))),
            _ => Ok(None),
        }
    }

    pub fn parse(spec: &ChannelSpec) -> Result<Options, String> {
        let options: Options = super::super::options(spec)?;
        let n = &spec.name;
        for (field, value) in [
            ("from", Some(&options.from)),
            ("reply_to", options.reply_to.as_ref()),
            ("unsubscribe_mailto", options.unsubscribe_mailto.as_ref()),
        ] {
            if let Some(v) = value {
                if !valid_address(bare_address(v)) || v.contains(['\r', '\n']) {
                    return Err(format!(
                        "channels.{n}.{field} is not an email address: `{v}`"
                    ));
                }
            }
        }
        if options.topics.is_empty() {
            return Err(format!(
                "channels.{n} needs at least one [[channels.{n}.topics]]"
            ));
        }
        let mut ids: Vec<&str> = options.topics.iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("channels.{n}: topic `{}` is defined twice", w[0]));
        }
        if options.username_env.is_some() != options.password_env.is_some() {
            return Err(format!(
                "channels.{n}: give both username_env and password_env, or neither"
            ));
        }
        if let Some(path) = &options.tls_ca_file {
            if options.tls == Tls::None {
                return Err(format!(
                    "channels.{n}.tls_ca_file is set but tls = \"none\": nothing would use it"
                ));
            }
            read_ca_file(path).map_err(|e| format!("channels.{n}.tls_ca_file: {e}"))?;
        }
        if let Some(d) = &options.bounce_domain {
            if !valid_address(&format!("{}@{d}", super::verp::LOCAL)) {
                return Err(format!(
                    "channels.{n}.bounce_domain is not a mail domain: `{d}`"
                ));
            }
        }
        if let Some(b) = &options.bounces {
            b.check(n)?;
        }
        if let Some(d) = &options.digests {
            d.times(n)?;
        }
        if options.concurrency == 0 || options.recycle_after == 0 {
            return Err(format!(
                "channels.{n}: concurrency and recycle_after must be at least 1"
            ));
        }
        Ok(options)
    }

    /// Where bounces go: `bounce_domain`, or the From address's domain.
    pub fn bounce_domain(&self) -> &str {
        match &self.bounce_domain {
            Some(d) => d,
            None => bare_address(&self.from)
                .rsplit_once('@')
                .map_or("localhost", |(_, d)| d),
        }
    }

    /// When the digests go (none configured: every item only).
    pub fn digest_times(&self, channel: &str) -> super::digest::Times {
        self.digests
            .as_ref()
            .and_then(|d| d.times(channel).ok())
            .unwrap_or_default()
    }

    pub fn topic_ids(&self) -> Vec<&str> {
        self.topics.iter().map(|t| t.id.as_str()).collect()
    }
}
