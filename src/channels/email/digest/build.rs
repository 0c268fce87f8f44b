//! A digest's message, built when it is sent: the items of its topic that
//! were published (sent on the channel) in its period, in publish order,
//! through `templates/email/digest.{subject,txt,html}.hbs`. No item, no
//! digest.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::plan::topics;
use super::Cadence;
use crate::channels::email::Email;
use crate::channels::{PublishError, Services};
use crate::render::{long_date, Templates};
use crate::variant::Variant;

/// What a digest delivery's variant says it is.
#[derive(Debug, Clone)]
pub struct Digest {
    pub topic: String,
    pub cadence: Cadence,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Digest {
    /// The digest a planned variant stands for; `None` for an item's.
    pub fn of(variant: &Variant) -> Option<Digest> {
        let d = variant.payload.as_ref()?.get("digest")?;
        let time = |k: &str| {
            DateTime::parse_from_rfc3339(d.get(k)?.as_str()?)
                .ok()
                .map(|t| t.to_utc())
        };
        Some(Digest {
            topic: d.get("topic")?.as_str()?.to_string(),
            cadence: Cadence::parse(d.get("cadence")?.as_str()?)?,
            from: time("from")?,
            until: time("until")?,
        })
    }
}

/// A digest's subject, plain text and HTML.
pub struct Built {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub items: usize,
}

/// What an item's email variant carries for the digests (set when the
/// channel has digests): its title, summary and link.
pub fn entry(item: &crate::content::Item) -> Value {
    json!({
        "title": item.title,
        "summary": item.summary.clone().unwrap_or_default(),
        "link": item.link.clone().unwrap_or_default(),
    })
}

/// The digest's message, or `None` when nothing of its topic was
/// published in its period. Waits (a retry, with the daemon's backoff)
/// while items of the period are still being sent, so a late item is not
/// left out.
pub async fn build(
    email: &Email,
    digest: &Digest,
    services: &Services,
) -> Result<Option<Built>, PublishError> {
    let store = &services.store;
    let read = |e: crate::store::StoreError| PublishError::retry(e.to_string(), None);
    let unsettled = store
        .unsettled(&email.name, digest.from, digest.until)
        .await
        .map_err(read)?;
    if unsettled > 0 {
        return Err(PublishError::retry(
            format!(
                "{unsettled} items of the period are still being sent; the digest waits for them"
            ),
            None,
        ));
    }
    // The period's item sends only, in publish order, from the store's
    // (channel, due_at) range: not the channel's whole history.
    let sent = store
        .sent_in_period(&email.name, digest.from, digest.until)
        .await
        .map_err(read)?;
    let entries: Vec<Value> = sent
        .into_iter()
        .filter(|d| Digest::of(&d.variant).is_none())
        .filter(|d| topics(&d.variant).contains(&digest.topic))
        .filter_map(|d| d.variant.payload.as_ref()?.get("entry").cloned())
        .collect();
    if entries.is_empty() {
        return Ok(None);
    }
    let templates = email
        .templates
        .get()
        .ok_or_else(|| PublishError::permanent("the digest templates were not loaded".into()))?;
    let data = data(email, digest, &entries);
    render(templates, &email.name, &data)
        .map(|(subject, text, html)| {
            Some(Built {
                subject,
                text,
                html,
                items: entries.len(),
            })
        })
        .map_err(PublishError::permanent)
}

/// What the digest templates see.
pub fn data(email: &Email, digest: &Digest, entries: &[Value]) -> Value {
    let tz = email.timezone;
    let name = email
        .options
        .topics
        .iter()
        .find(|t| t.id == digest.topic)
        .map_or(digest.topic.as_str(), |t| t.name.as_str());
    json!({
        "org": { "name": email.org, "website": email.website },
        "channel": { "name": email.name, "kind": super::super::KIND.name },
        "digest": {
            "cadence": digest.cadence.as_str(),
            "daily": digest.cadence == Cadence::Daily,
            "weekly": digest.cadence == Cadence::Weekly,
            "topic": { "id": digest.topic, "name": name },
            "from": long_date(digest.from, tz),
            "until": long_date(digest.until, tz),
            "count": entries.len(),
        },
        "items": entries,
    })
}

/// Subject, text and HTML from `<channel>/digest.*` or `email/digest.*`.
pub fn render(
    templates: &Templates,
    channel: &str,
    data: &Value,
) -> Result<(String, String, String), String> {
    let one = |suffix: &str| {
        let candidates = [
            format!("{channel}/digest.{suffix}"),
            format!("email/digest.{suffix}"),
        ];
        let name = templates.find(&candidates).ok_or_else(|| {
            format!("no digest template: add templates/email/digest.{suffix}.hbs")
        })?;
        templates
            .render(name, data)
            .map_err(|f| format!("{} ({})", f.message, f.location))
    };
    Ok((
        super::super::one_line(&one("subject")?),
        one("txt")?,
        one("html")?,
    ))
}
