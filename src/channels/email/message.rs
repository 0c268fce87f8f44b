//! One recipient's message: multipart/alternative (plain text first, then
//! HTML), personalised with their name and their own links and nobody
//! else's, with the headers the bulk-sender rules require.

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;

use super::config::{bare_address, DkimAlgorithm, Options};

/// What differs per recipient.
pub struct Personal<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    /// One-click unsubscribe (https), also the visible link.
    pub unsubscribe_url: &'a str,
    pub preferences_url: &'a str,
    /// Unique left part of the Message-ID.
    pub message_key: String,
}

/// The parts every recipient shares.
pub struct Content<'a> {
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

/// Names come from web forms and CSV files: one line, no control
/// characters, so they can never add a header.
pub fn clean_name(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn escape(s: &str) -> String {
    handlebars::html_escape(s)
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// Loads the DKIM key named in the configuration.
pub fn dkim_config(options: &Options) -> Result<Option<DkimConfig>, String> {
    let Some(d) = &options.dkim else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&d.key_file)
        .map_err(|e| format!("cannot read the DKIM key {}: {e}", d.key_file.display()))?;
    let algorithm = match d.algorithm {
        DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
        DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
    };
    let key = DkimSigningKey::new(text.trim(), algorithm)
        .map_err(|e| format!("the DKIM key {} is not usable: {e}", d.key_file.display()))?;
    // The default list signs only From/Subject/To/Date; receivers must be
    // able to trust the List-* headers too. Not Content-Type: for a
    // multipart message lettre writes it with the body, after signing, so
    // its signature would leave it out while h= named it, and every
    // verifier would fail the message (seen with dkimpy). The body hash
    // still covers every part.
    let headers = [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "MIME-Version",
    ]
    .into_iter()
    .map(HeaderName::new_from_ascii_str)
    .collect();
    Ok(Some(DkimConfig::new(
        d.selector.clone(),
        d.domain.clone(),
        key,
        headers,
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    )))
}

/// The domain Message-IDs are made in: the sender's.
pub fn id_domain(options: &Options) -> String {
    let from = bare_address(&options.from);
    from.rsplit_once('@')
        .map_or("localhost", |(_, d)| d)
        .to_string()
}

/// Builds the message for one recipient. Errors are addresses lettre
/// refuses (already validated on the way in, so rare).
pub fn build(
    options: &Options,
    org: &str,
    content: &Content<'_>,
    p: &Personal<'_>,
    dkim: Option<&DkimConfig>,
) -> Result<Message, String> {
    let from: Mailbox = options
        .from
        .parse()
        .map_err(|e| format!("from address: {e}"))?;
    let to_addr = p.email.parse().map_err(|e| format!("`{}`: {e}", p.email))?;
    let name = p.name.map(clean_name).filter(|n| !n.is_empty());
    let to = Mailbox::new(name.clone(), to_addr);
    let greeting_text = name
        .as_ref()
        .map(|n| format!("Dear {n},\n\n"))
        .unwrap_or_default();
    let greeting_html = name
        .as_ref()
        .map(|n| format!("<p>Dear {},</p>\n", escape(n)))
        .unwrap_or_default();
    let text = format!(
        "{greeting_text}{}\n\n-- \nChange your topics: {}\nUnsubscribe: {}\n",
        content.text.trim_end(),
        p.preferences_url,
        p.unsubscribe_url
    );
    let html = format!(
        "<!DOCTYPE html>\n<html><body>\n{greeting_html}{}\n<hr>\n<p><a href=\"{}\">Change your topics</a> | <a href=\"{}\">Unsubscribe</a></p>\n</body></html>\n",
        content.html.trim_end(),
        escape(p.preferences_url),
        escape(p.unsubscribe_url)
    );
    let mailto = options
        .unsubscribe_mailto
        .as_deref()
        .map_or_else(|| bare_address(&options.from), bare_address);
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(content.subject)
        .date_now()
        .message_id(Some(format!("<{}@{}>", p.message_key, id_domain(options))))
        .raw_header(header(
            "List-Id",
            format!("{} <{}>", clean_name(org), options.list_id),
        ))
        .raw_header(header(
            "List-Unsubscribe",
            format!(
                "<{}>, <mailto:{mailto}?subject=unsubscribe>",
                p.unsubscribe_url
            ),
        ))
        .raw_header(header(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".into(),
        ))
        .raw_header(header("Precedence", "bulk".into()));
    if let Some(r) = &options.reply_to {
        builder = builder.reply_to(r.parse().map_err(|e| format!("reply_to: {e}"))?);
    }
    let mut msg = builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| e.to_string())?;
    if let Some(d) = dkim {
        msg.sign(d);
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_line_breaks_and_control_characters() {
        assert_eq!(clean_name("Eve\r\nBcc: x@y.z"), "Eve Bcc: x@y.z");
        assert_eq!(clean_name("  A\tB  "), "A B");
    }
}
