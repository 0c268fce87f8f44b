//! Email lists: partners subscribe to topics; an item's topics choose its
//! recipients. Each variant has a subject, a plain-text part and HTML.

use serde::Deserialize;

use super::registry::Kind;
use super::{options, Channel, Family, Findings, Rendered};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::render::{Output, Variant};
use crate::secret::SecretRef;

pub const KIND: Kind = Kind {
    name: "email",
    build,
};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Tls {
    /// Plain SMTP: only sensible to a relay on loopback.
    None,
    #[default]
    Starttls,
    Implicit,
}

// Names, descriptions and SMTP settings are read by the subscription pages
// and the sender; shaping a variant needs only the ids.
#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Topic {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// `Name <address>` the messages come from.
    from: String,
    reply_to: Option<String>,
    /// RFC 2919 list identifier, e.g. `news.example.org`.
    list_id: String,
    smtp_host: String,
    #[serde(default = "default_port")]
    smtp_port: u16,
    #[serde(default)]
    tls: Tls,
    username_env: Option<SecretRef>,
    password_env: Option<SecretRef>,
    topics: Vec<Topic>,
}

fn default_port() -> u16 {
    587
}

struct Email {
    name: String,
    options: Options,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    let options: Options = options(spec)?;
    let n = &spec.name;
    for (field, value) in [
        ("from", Some(&options.from)),
        ("reply_to", options.reply_to.as_ref()),
    ] {
        if let Some(v) = value {
            if !v.contains('@') || v.contains(['\r', '\n']) {
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
    Ok(Box::new(Email {
        name: spec.name.clone(),
        options,
    }))
}

/// Header values are one line: template line breaks would allow injection.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Channel for Email {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        KIND.name
    }
    fn family(&self) -> Family {
        Family::Email
    }
    fn outputs(&self) -> &'static [Output] {
        &[Output::Subject, Output::Text, Output::Html]
    }
    fn secrets(&self) -> Vec<&SecretRef> {
        [&self.options.username_env, &self.options.password_env]
            .into_iter()
            .flatten()
            .collect()
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let topics: Vec<&str> = self.options.topics.iter().map(|t| t.id.as_str()).collect();
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
        v.payload = Some(serde_json::json!({
            "from": self.options.from,
            "list_id": self.options.list_id,
            "topics": item.topics.iter().filter(|t| topics.contains(&t.as_str())).collect::<Vec<_>>(),
        }));
        v
    }
}
