//! Bounces and complaints after the send: what comes back days later, from
//! the bounce mailbox (`mailbox.rs`, IMAP) or a relay's webhook, parsed
//! (`parse.rs`: RFC 3464 DSNs, the common non-standard bounces, RFC 5965
//! ARF complaints), attributed by the signed VERP token only (`verp.rs`:
//! never by guessing from an address), and applied through the store
//! (`Lists::record_bounce`: once per event, in one transaction).
//! `webhooks.rs` serves the relays' event webhooks; `providers.rs` checks
//! their signatures and reads their payloads; `sns.rs` verifies the SNS
//! messages Amazon SES's events come in.

pub mod mailbox;
pub mod parse;
pub mod providers;
pub mod sns;
pub mod webhooks;

use std::path::PathBuf;

use serde::Deserialize;

use crate::secret::SecretRef;
use crate::store::lists::SoftBounces;

/// `[channels.<name>.bounces]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BounceOptions {
    /// The bounce mailbox: `imaps://host:993/INBOX` (plain `imap://` only
    /// to a loopback host); none: no mailbox is read.
    pub imap: Option<String>,
    /// Environment variables with the mailbox's login and password.
    pub user_env: Option<SecretRef>,
    pub password_env: Option<SecretRef>,
    /// Where processed messages are moved (created when missing).
    #[serde(default = "default_processed")]
    pub processed_folder: String,
    /// Seconds between looks at the mailbox.
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
    /// Soft bounces (4.x.x, delayed) within `soft_window_days` that
    /// suppress an address.
    #[serde(default = "default_soft_limit")]
    pub soft_limit: u32,
    #[serde(default = "default_soft_window")]
    pub soft_window_days: u32,
    /// PEM certificates of a private CA for the IMAP server, besides the
    /// public roots (the name must still match).
    pub tls_ca_file: Option<PathBuf>,
    /// The relay the list sends through (`postmark`, `mailgun`,
    /// `sendgrid`): each message then carries the header that relay echoes
    /// in its events, with the crier token.
    pub relay: Option<String>,
    /// Postmark's webhook basic auth, `user:password`, in this variable.
    pub postmark_basic_auth_env: Option<SecretRef>,
    /// Mailgun's webhook signing key, in this variable.
    pub mailgun_signing_key_env: Option<SecretRef>,
    /// SendGrid's event webhook verification key (base64, as SendGrid
    /// shows it; a public key, so not a secret).
    pub sendgrid_public_key: Option<String>,
    /// The SNS topics (ARNs) whose notifications carry this list's SES
    /// events; the `ses` webhook answers 404 without one. SNS signs any
    /// account's messages alike: the topic is what makes them ours.
    #[serde(default)]
    pub ses_topic_arns: Vec<String>,
    /// Tests only: SNS signing certificates and subscription URLs may also
    /// come from https on a loopback address, trusting this CA alone.
    pub sns_test_ca_file: Option<PathBuf>,
}

fn default_processed() -> String {
    "Processed".into()
}
fn default_poll() -> u64 {
    60
}
fn default_soft_limit() -> u32 {
    3
}
fn default_soft_window() -> u32 {
    30
}

impl BounceOptions {
    pub fn soft(&self) -> SoftBounces {
        SoftBounces {
            limit: self.soft_limit.max(1),
            window: chrono::TimeDelta::days(i64::from(self.soft_window_days.max(1))),
        }
    }

    pub fn secrets(&self) -> Vec<&SecretRef> {
        [
            &self.user_env,
            &self.password_env,
            &self.postmark_basic_auth_env,
            &self.mailgun_signing_key_env,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Checks what can be checked without the network; errors name the
    /// field under `channels.<channel>.bounces`.
    pub fn check(&self, channel: &str) -> Result<(), String> {
        let at = |f: &str| format!("channels.{channel}.bounces.{f}");
        if let Some(url) = &self.imap {
            mailbox::Address::parse(url).map_err(|e| format!("{}: {e}", at("imap")))?;
            if self.user_env.is_none() || self.password_env.is_none() {
                return Err(format!(
                    "{}: a mailbox needs user_env and password_env",
                    at("imap")
                ));
            }
        }
        if let Some(r) = &self.relay {
            if !providers::RELAYS.contains(&r.as_str()) {
                return Err(format!(
                    "{}: `{r}` is not one of {}",
                    at("relay"),
                    providers::RELAYS.join(", ")
                ));
            }
        }
        if let Some(k) = &self.sendgrid_public_key {
            providers::sendgrid_key(k)
                .map_err(|e| format!("{}: {e}", at("sendgrid_public_key")))?;
        }
        for arn in &self.ses_topic_arns {
            if !arn.starts_with("arn:aws") || arn.split(':').count() != 6 {
                return Err(format!(
                    "{}: `{arn}` is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
                    at("ses_topic_arns")
                ));
            }
        }
        if let Some(path) = &self.sns_test_ca_file {
            super::config::read_ca_file(path)
                .map_err(|e| format!("{}: {e}", at("sns_test_ca_file")))?;
        }
        if self.poll_seconds == 0 {
            return Err(format!("{} must be at least 1", at("poll_seconds")));
        }
        if self.processed_folder.trim().is_empty() {
            return Err(format!("{} is empty", at("processed_folder")));
        }
        if let Some(path) = &self.tls_ca_file {
            super::config::read_ca_file(path).map_err(|e| format!("{}: {e}", at("tls_ca_file")))?;
        }
        Ok(())
    }
}
