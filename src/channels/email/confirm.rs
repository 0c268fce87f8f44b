//! The double opt-in email: a signed, expiring link to a page whose button
//! confirms, and — like every message — one-click unsubscribe headers.

use chrono::{DateTime, Utc};

use super::config::Options;
use super::links::{self, Purpose};
use super::message::{self, Content, Personal};
use super::sender::{Answer, Smtp};
use crate::secret::Secret;
use crate::store::lists::Subscriber;

/// Everything needed to send confirmations for one channel.
pub struct Confirmer {
    pub channel: String,
    pub options: Options,
    pub org: String,
    pub key: Secret,
    /// The daemon's public URL, no trailing slash.
    pub public_url: String,
}

impl Confirmer {
    /// Sends the confirmation to `sub`. The error is for the log: it names
    /// the server's answer, never a secret.
    pub async fn send(&self, sub: &Subscriber, now: DateTime<Utc>) -> Result<(), String> {
        let base = format!("{}/lists/{}", self.public_url, self.channel);
        let expiry =
            now.timestamp() + i64::try_from(self.options.confirm_hours * 3600).unwrap_or(0);
        let confirm = links::sign(&self.key, &self.channel, Purpose::Confirm, sub.id, expiry);
        let manage = links::sign(&self.key, &self.channel, Purpose::Manage, sub.id, 0);
        let confirm_url = format!("{base}/confirm?t={confirm}");
        let topics: Vec<&str> = self
            .options
            .topics
            .iter()
            .filter(|t| sub.topics.contains(&t.id))
            .map(|t| t.name.as_str())
            .collect();
        let subject = format!("Please confirm your subscription to {}", self.org);
        let text = format!(
            "You (or someone using your address) asked to receive these emails from {org}: {topics}.\n\n\
             To confirm, open this link within {hours} hours and press \"Confirm my subscription\":\n{confirm_url}\n\n\
             If this was not you, ignore this message: you will not hear from us again.\n",
            org = self.org,
            topics = topics.join(", "),
            hours = self.options.confirm_hours,
        );
        let html = format!(
            "<p>You (or someone using your address) asked to receive these emails from {org}: {topics}.</p>\n\
             <p><a href=\"{url}\">Confirm my subscription</a> (this link works for {hours} hours).</p>\n\
             <p>If this was not you, ignore this message: you will not hear from us again.</p>",
            org = handlebars::html_escape(&self.org),
            topics = handlebars::html_escape(&topics.join(", ")),
            url = handlebars::html_escape(&confirm_url),
            hours = self.options.confirm_hours,
        );
        let unsubscribe_url = format!("{base}/unsubscribe?t={manage}");
        let preferences_url = format!("{base}/preferences?t={manage}");
        let msg = message::build(
            &self.options,
            &self.org,
            &Content {
                subject: &subject,
                text: &text,
                html: &html,
            },
            &Personal {
                email: &sub.email,
                name: sub.name.as_deref(),
                unsubscribe_url: &unsubscribe_url,
                preferences_url: &preferences_url,
                message_key: format!("crier.confirm.{}.{}", sub.id, now.timestamp_millis()),
                reference: None,
                relay_header: None,
            },
            message::dkim_config(&self.options)?.as_ref(),
        )?;
        let auth = self.options.smtp_auth().map_err(|e| e.to_string())?;
        let smtp = Smtp::new(&self.options, auth);
        let mut conn = smtp.connect().await.map_err(|e| e.message)?;
        let answer = smtp.send(&mut conn, msg.envelope(), &msg.formatted()).await;
        conn.quit().await;
        match answer {
            Answer::Accepted => Ok(()),
            Answer::Refused(t) | Answer::Deferred(t) | Answer::Broken(t) => Err(t),
        }
    }
}

/// Sends confirmations one after another in the background; failures are
/// logged (the person can simply subscribe again).
pub fn spawn(confirmer: std::sync::Arc<Confirmer>, sub: Subscriber, now: DateTime<Utc>) {
    tokio::spawn(async move {
        if let Err(e) = confirmer.send(&sub, now).await {
            tracing::warn!(channel = %confirmer.channel, subscriber = sub.id, "confirmation email not sent: {e}");
        }
    });
}
