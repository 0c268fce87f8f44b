//! Email lists: partners subscribe to topics through pages the daemon
//! serves; an item's topics choose its recipients. Each variant has a
//! subject, a plain-text part and HTML; the sender personalises it per
//! recipient and records every recipient's SMTP outcome.
//!
//! Files: `config.rs` (options), `links.rs` (signed links), `message.rs`
//! (MIME, headers, DKIM), `sender.rs` (SMTP connections), `publish/`
//! (one delivery to many recipients, resumable), `pages.rs` (subscribe,
//! confirm, preferences, one-click unsubscribe), `confirm.rs` (the
//! confirmation email, also used by imports), `import.rs` (a CSV into a
//! list, for `crier subscribers import` and the API), `cli.rs`
//! (`crier subscribers`, the command this kind adds), `test_send.rs` (a
//! `[TEST]` send of the real message to a few addresses, touching no record),
//! `deliverability.rs` (the SPF, DKIM and DMARC records `crier channels
//! test` reads), `digest.rs` (daily and weekly digests people choose).

pub mod bounce;
mod cli;
pub mod config;
mod confirm;
pub mod deliverability;
pub mod digest;
mod import;
mod links;
pub mod message;
mod pages;
mod publish;
pub mod sender;
mod test_send;
pub mod verp;

pub use test_send::{send_test, MAX_TEST_ADDRESSES};

use std::sync::Arc;

use async_trait::async_trait;

use super::registry::{Kind, KindHooks};
use super::{
    Channel, Family, Findings, Job, PublishError, Publisher, Reconciled, Rendered, Services,
    TestSent,
};
use crate::config::{ChannelSpec, Config, Organisation};
use crate::content::Item;
use crate::delivery::{Delivery, Planned, Progress, Receipt};
use crate::render::Output;
use crate::secret::SecretRef;
use crate::store::{ChannelStore, StoreError};
use crate::variant::Variant;
use config::Options;

pub const KIND: Kind = Kind {
    name: "email",
    family: Family::Email,
    build,
    hooks: &Hooks,
    example: Some(example),
};

/// `crier init`'s table for an email list (see [`Kind::example`]).
fn example(name: &str) -> String {
    let user = super::registry::env_var(name, "smtp_username");
    let password = super::registry::env_var(name, "smtp_password");
    format!(
        r#"# An email list people subscribe to themselves, by topic, at
# /lists/{name}/. CHANGE the addresses and the SMTP relay to your own.
[channels.{name}]
kind = "email"
from = "Example Team <news@example.org>"
reply_to = "news@example.org"
list_id = "news.example.org"
smtp_host = "smtp.example.org"
smtp_port = 587
tls = "starttls"
username_env = "{user}"
password_env = "{password}"

# Digests people may choose instead of every item, in the organisation's
# timezone; leave out to offer every item only.
# [channels.{name}.digests]
# daily = "07:00"
# weekly = "Mon 07:00"

[[channels.{name}.topics]]
id = "news"
name = "News updates"
description = "Each edition of the news update, and notices."

[[channels.{name}.topics]]
id = "briefings"
name = "7-minute briefings"
description = "Short learning briefings for team meetings."

[[channels.{name}.topics]]
id = "training"
name = "Training courses and events"
description = "New courses and booking deadlines."

[[channels.{name}.topics]]
id = "campaigns"
name = "Campaigns"
description = "Awareness campaigns."
"#
    )
}

/// What the email kind adds once: the lists' recipient counts in
/// `/metrics`, imports into a list, and `crier subscribers`.
struct Hooks;

#[async_trait]
impl KindHooks for Hooks {
    fn keeps_lists(&self) -> bool {
        true
    }

    async fn metrics(&self, store: &dyn ChannelStore) -> Result<String, StoreError> {
        let counts = store.lists().recipient_counts().await?;
        Ok(crate::metrics::Metrics::render_recipients(&counts))
    }

    async fn recipients(
        &self,
        delivery: &Delivery,
        store: &dyn ChannelStore,
        pending: bool,
    ) -> Result<Option<(Progress, Option<u64>)>, StoreError> {
        if pending {
            return cli::owed(delivery, store.lists()).await;
        }
        let progress = store.lists().progress(delivery.id).await?;
        Ok((!progress.is_empty()).then_some((progress, None)))
    }

    async fn import(
        &self,
        config: &Config,
        store: &dyn ChannelStore,
        request: crate::channels::import::ImportRequest,
    ) -> Result<crate::channels::import::Imported, crate::channels::import::ImportRefused> {
        import::run(config, store.lists(), request).await
    }

    fn command(&self) -> Option<clap::Command> {
        Some(cli::command())
    }

    async fn run(
        &self,
        matches: &clap::ArgMatches,
        config: Config,
        store: Arc<dyn ChannelStore>,
    ) -> anyhow::Result<std::process::ExitCode> {
        cli::run(matches, config, store.lists()).await
    }
}

pub struct Email {
    pub name: String,
    pub options: Options,
    /// The organisation's name, for List-Id and the pages.
    pub org: String,
    /// The organisation's website, for the digests' footer.
    pub website: String,
    pub keyring: Arc<links::Keyring>,
    /// The organisation's timezone: digest periods and their dates.
    pub timezone: chrono_tz::Tz,
    /// When the digests go, parsed from `options.digests`.
    pub digests: digest::Times,
    /// The workspace's templates, for digests built when they are sent.
    pub templates: std::sync::OnceLock<Arc<crate::render::Templates>>,
}

fn build(spec: &ChannelSpec, organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    let options = Options::parse(spec)?;
    Ok(Box::new(Email {
        name: spec.name.clone(),
        digests: options.digest_times(&spec.name),
        options,
        org: organisation.name.clone(),
        website: organisation.website.clone(),
        keyring: Arc::default(),
        timezone: organisation.timezone,
        templates: std::sync::OnceLock::new(),
    }))
}

impl Email {
    /// The bounce mailbox reader, if `[channels.<name>.bounces] imap` is set.
    pub fn mailbox(&self, services: &Services) -> Result<Option<bounce::mailbox::Mailbox>, String> {
        let Some(b) = &self.options.bounces else {
            return Ok(None);
        };
        let Some(url) = &b.imap else {
            return Ok(None);
        };
        let secret = |s: &Option<SecretRef>| {
            s.as_ref()
                .ok_or_else(|| "the bounce mailbox needs user_env and password_env".to_string())?
                .resolve()
                .map_err(|e| format!("bounce mailbox: {e}"))
        };
        Ok(Some(bounce::mailbox::Mailbox {
            channel: self.name.clone(),
            address: bounce::mailbox::Address::parse(url)?,
            user: secret(&b.user_env)?,
            password: secret(&b.password_env)?,
            processed: b.processed_folder.clone(),
            poll: std::time::Duration::from_secs(b.poll_seconds.max(1)),
            soft: b.soft(),
            key: self.keyring.key(&services.credentials, &self.name)?,
            ca_file: b.tls_ca_file.clone(),
            store: services.store.clone(),
            clock: services.clock.clone(),
        }))
    }
}

impl Email {
    /// With digests, their templates must render (strict, as items' do):
    /// found at `check`, not when the first digest goes.
    fn check_digest_templates(&self, findings: &mut Findings) {
        let (Some(templates), Some(&cadence)) =
            (self.templates.get(), self.digests.offered().last())
        else {
            return;
        };
        if cadence == digest::Cadence::Item {
            return;
        }
        let sample = digest::build::Digest {
            topic: self.options.topics[0].id.clone(),
            cadence,
            from: chrono::DateTime::UNIX_EPOCH,
            until: chrono::DateTime::UNIX_EPOCH,
        };
        let entry =
            serde_json::json!({"title": "T", "summary": "S", "link": "https://example.org/"});
        let data = digest::build::data(self, &sample, &[entry]);
        if let Err(e) = digest::build::render(templates, &self.name, &data) {
            findings.error(format!("digests: {e}"));
        }
    }
}

/// Why the daemon's public URL will not do for the links in emails, if it
/// will not: anything but https, except on loopback (a test or a local
/// trial, where nothing leaves the machine).
fn public_url_problem(public_url: &str) -> Option<&'static str> {
    // The one loopback rule (an unparsable URL is not https either).
    (!crate::channels::http::https_or_loopback(public_url)).then_some("is not https")
}

/// Header values are one line: template line breaks would allow injection.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[async_trait]
impl Channel for Email {
    fn outputs(&self) -> &'static [Output] {
        &[Output::Subject, Output::Text, Output::Html]
    }
    fn secrets(&self) -> Vec<&SecretRef> {
        let mut secrets: Vec<&SecretRef> = [&self.options.username_env, &self.options.password_env]
            .into_iter()
            .flatten()
            .collect();
        if let Some(b) = &self.options.bounces {
            secrets.extend(b.secrets());
        }
        secrets
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let topics = self.options.topic_ids();
        if !item.topics.iter().any(|t| topics.contains(&t.as_str())) {
            findings.error(format!(
                "the item has none of this list's topics ({}), so it would reach no one",
                topics.join(", ")
            ));
        }
        let subject = one_line(&rendered.subject.unwrap_or_default());
        if subject.is_empty() {
            findings.error("the subject is empty");
        }
        let mut v = Variant::document(
            &item.id,
            &self.name,
            KIND.name,
            rendered.text.unwrap_or_default(),
        );
        v.subject = Some(subject);
        v.html = rendered.html;
        let mut payload = serde_json::json!({
            "from": self.options.from,
            "list_id": self.options.list_id,
            "topics": item.topics.iter().filter(|t| topics.contains(&t.as_str())).collect::<Vec<_>>(),
        });
        // Only with digests, so other lists' stored variants keep their fingerprints.
        if self.digests != digest::Times::default() {
            payload["entry"] = digest::build::entry(item);
        }
        v.payload = Some(payload);
        v
    }
    fn attach_templates(&mut self, templates: &Arc<crate::render::Templates>) {
        let _ = self.templates.set(templates.clone());
    }
    fn plan_own(&self, items: &[(&Item, &Planned)], tz: chrono_tz::Tz) -> Vec<Planned> {
        digest::plan::digests(self, &self.digests, items, tz)
    }
    fn list_offer(&self) -> Option<crate::channels::ListOffer> {
        Some(crate::channels::ListOffer {
            topics: (self.options.topics.iter())
                .map(|t| (t.id.clone(), t.name.clone()))
                .collect(),
            digests: (self.digests.offered().into_iter())
                .filter(|c| *c != digest::Cadence::Item)
                .map(|c| c.as_str().to_string())
                .collect(),
        })
    }
    fn publisher(&self) -> &dyn Publisher {
        self
    }
    fn check_setup(&self, config: &Config, findings: &mut Findings) {
        self.check_digest_templates(findings);
        // An unset public_url has its own warning (see `uses_public_url`).
        if !config.daemon.public_url_given {
            return;
        }
        if let Some(problem) = public_url_problem(&config.daemon.public_url) {
            findings.warning(format!(
                "[daemon] public_url `{}` {problem}: the confirm, preferences and one-click \
                 unsubscribe links of this list (List-Unsubscribe among them) would not be https, \
                 and mail providers expect an https one-click link from bulk senders",
                config.daemon.public_url
            ));
        }
    }
    fn routes(&self, services: &Services) -> Option<axum::Router> {
        let pages = pages::router(self, services);
        let hooks = self.options.bounces.as_ref().and_then(|b| {
            let key = self
                .keyring
                .key(&services.credentials, &self.name)
                .map_err(|e| tracing::warn!(channel = %self.name, "event webhooks disabled: {e}"))
                .ok()?;
            let store = services.store.clone();
            let clock = services.clock.clone();
            Some(bounce::webhooks::Hooks::new(&self.name, b, key, store, clock).router())
        });
        Some(match hooks {
            Some(h) => pages.merge(h),
            None => pages,
        })
    }
    /// Starts reading the bounce mailbox, when there is one.
    async fn start(&self, services: &Services) -> Result<(), String> {
        if let Some(mailbox) = self.mailbox(services)? {
            tokio::spawn(mailbox.run(services.stopping.clone()));
        }
        Ok(())
    }
    fn uses_public_url(&self) -> Option<&'static str> {
        Some("the confirm, preferences and unsubscribe links in every message")
    }
}

#[async_trait]
impl Publisher for Email {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        publish::run(self, job, services).await
    }

    /// Always safe to resume: every recipient whose message was accepted
    /// has a record unless it was one of the (at most `concurrency`)
    /// messages in flight at the crash, and `publish` sends only to those
    /// without one.
    async fn reconcile(&self, _job: &Job<'_>, _services: &Services) -> Reconciled {
        Reconciled::NotSent
    }

    async fn send_test(
        &self,
        variant: &Variant,
        to: &[String],
        services: &Services,
    ) -> Result<TestSent, PublishError> {
        send_test(self, variant, to, services).await
    }

    /// Connect, STARTTLS or implicit TLS, AUTH; then the domains' SPF,
    /// DKIM and DMARC records, whatever the connection did.
    async fn check(&self, _services: &Services) -> Result<String, PublishError> {
        let dns = deliverability::report(&self.options).await.join("\n");
        let smtp = self.check_smtp().await;
        match smtp {
            Ok(said) => Ok(format!("{said}\n{dns}")),
            Err(e) => Err(e.map_message(|m| format!("{m}\n{dns}"))),
        }
    }
}

impl Email {
    async fn check_smtp(&self) -> Result<String, PublishError> {
        let auth = self
            .options
            .smtp_auth()
            .map_err(|e| PublishError::credentials(e.to_string()))?;
        let smtp = sender::Smtp::new(&self.options, auth);
        let conn = smtp.connect().await.map_err(|e| {
            if e.credentials_refused {
                PublishError::credentials(e.message)
            } else {
                PublishError::retry(e.message, None)
            }
        })?;
        conn.quit().await;
        let tls = match self.options.tls {
            config::Tls::None => "without TLS",
            config::Tls::Starttls => "with STARTTLS",
            config::Tls::Implicit => "over TLS",
        };
        Ok(format!(
            "connected to {}:{} {tls} and said hello{}",
            self.options.smtp_host,
            self.options.smtp_port,
            if self.options.username_env.is_some() {
                "; AUTH accepted"
            } else {
                ""
            }
        ))
    }
}
