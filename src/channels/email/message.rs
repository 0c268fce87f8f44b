//! One recipient's message: multipart/alternative (plain text first, then
//! HTML), personalised with their name and their own links and nobody
//! else's, with the headers the bulk-sender rules require.

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::ContentTransferEncoding;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
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
    /// The signed VERP token, repeated in `X-Crier-Ref` so a bounce that
    /// quotes only the original headers is still attributed.
    pub reference: Option<String>,
    /// The header the relay echoes back in its events, if any.
    pub relay_header: Option<(&'static str, String)>,
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

/// What every recipient of one send shares, worked out once: the parsed
/// sender, the fixed headers, and both bodies' shared parts already
/// quoted-printable encoded.
///
/// Quoted-printable is line by line: an encoder's state (the position on
/// the line, soft breaks, trailing blanks) starts afresh after every hard
/// line break (CRLF). So text cut at line ends can be encoded in pieces,
/// and the pieces joined make exactly the encoding of the whole: each
/// recipient's message only encodes its own greeting and links, and
/// copies the shared body (both parts) as it is.
pub struct Prepared {
    from: Mailbox,
    reply_to: Option<Mailbox>,
    subject: String,
    message_id_domain: String,
    list_id: String,
    mailto: String,
    /// The plain-text body between the greeting and the links.
    text: Vec<u8>,
    /// The HTML part's opening, before the greeting.
    html_head: Vec<u8>,
    /// The HTML body between the greeting and the links.
    html: Vec<u8>,
}

/// Line ends as CRLF (a lone LF gets its CR; lettre does the same to the
/// bodies it encodes itself).
fn crlf(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 32 + 2);
    let mut last = '\0';
    for c in s.chars() {
        if c == '\n' && last != '\r' {
            out.push('\r');
        }
        out.push(c);
        last = c;
    }
    out
}

/// Quoted-printable of `s` (line ends made CRLF), with the same encoder
/// lettre uses. `s` must end with a line end (or be empty) for the result
/// to be joined to another piece.
fn qp(s: &str) -> Vec<u8> {
    quoted_printable::encode(crlf(s))
}

/// The parts of a send every recipient shares.
pub fn prepare(options: &Options, org: &str, content: &Content<'_>) -> Result<Prepared, String> {
    let from: Mailbox = options
        .from
        .parse()
        .map_err(|e| format!("from address: {e}"))?;
    let reply_to = match &options.reply_to {
        Some(r) => Some(r.parse().map_err(|e| format!("reply_to: {e}"))?),
        None => None,
    };
    let mailto = options
        .unsubscribe_mailto
        .as_deref()
        .map_or_else(|| bare_address(&options.from), bare_address);
    Ok(Prepared {
        from,
        reply_to,
        subject: content.subject.to_string(),
        message_id_domain: id_domain(options),
        list_id: format!("{} <{}>", clean_name(org), options.list_id),
        mailto: mailto.to_string(),
        text: qp(&format!("{}\n", content.text.trim_end())),
        html_head: qp("<!DOCTYPE html>\n<html><body>\n"),
        html: qp(&format!("{}\n", content.html.trim_end())),
    })
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
    build_prepared(&prepare(options, org, content)?, p, dkim)
}

/// Builds one recipient's message from the parts prepared for the send:
/// plain text is greeting, body, then the signature with their links;
/// HTML the same in HTML. Only the personal pieces are encoded here.
pub fn build_prepared(
    prepared: &Prepared,
    p: &Personal<'_>,
    dkim: Option<&DkimConfig>,
) -> Result<Message, String> {
    let to_addr = p.email.parse().map_err(|e| format!("`{}`: {e}", p.email))?;
    let name = p.name.map(clean_name).filter(|n| !n.is_empty());
    let mut text = Vec::with_capacity(prepared.text.len() + 256);
    let mut html = Vec::with_capacity(prepared.html_head.len() + prepared.html.len() + 512);
    html.extend_from_slice(&prepared.html_head);
    if let Some(n) = &name {
        text.extend(qp(&format!("Dear {n},\n\n")));
        html.extend(qp(&format!("<p>Dear {},</p>\n", escape(n))));
    }
    text.extend_from_slice(&prepared.text);
    text.extend(qp(&format!(
        "\n-- \nChange your topics: {}\nUnsubscribe: {}\n",
        p.preferences_url, p.unsubscribe_url
    )));
    html.extend_from_slice(&prepared.html);
    html.extend(qp(&format!(
        "<hr>\n<p><a href=\"{}\">Change your topics</a> | <a href=\"{}\">Unsubscribe</a></p>\n</body></html>\n",
        escape(p.preferences_url),
        escape(p.unsubscribe_url)
    )));
    let to = Mailbox::new(name, to_addr);
    let mut builder = Message::builder()
        .from(prepared.from.clone())
        .to(to)
        .subject(prepared.subject.as_str())
        .date_now()
        .message_id(Some(format!(
            "<{}@{}>",
            p.message_key, prepared.message_id_domain
        )))
        .raw_header(header("List-Id", prepared.list_id.clone()))
        .raw_header(header(
            "List-Unsubscribe",
            format!(
                "<{}>, <mailto:{}?subject=unsubscribe>",
                p.unsubscribe_url, prepared.mailto
            ),
        ))
        .raw_header(header(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".into(),
        ))
        .raw_header(header("Precedence", "bulk".into()));
    if let Some(r) = &prepared.reply_to {
        builder = builder.reply_to(r.clone());
    }
    if let Some(r) = &p.reference {
        builder = builder.raw_header(header(super::verp::REF_HEADER, r.clone()));
    }
    if let Some((name, value)) = &p.relay_header {
        builder = builder.raw_header(header(name, value.clone()));
    }
    let qp_body = |b| Body::dangerous_pre_encoded(b, ContentTransferEncoding::QuotedPrintable);
    let mut msg = builder
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(qp_body(text)))
                .singlepart(SinglePart::html(qp_body(html))),
        )
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

    #[test]
    fn pieces_encoded_apart_join_into_the_whole_encoding() {
        let long = "x".repeat(200);
        let pieces = [
            "Dear Zoë Ünal,\n\n",
            "trailing blanks \t \nand = signs\r\n",
            &format!("{long} \n{long}=\n\n"),
            "",
            "\n-- \nChange your topics: https://e.org/p?t=a.b\nUnsubscribe: x\n",
        ];
        let joined: Vec<u8> = pieces.iter().flat_map(|p| qp(p)).collect();
        assert_eq!(joined, qp(&pieces.concat()));
        let decoded =
            quoted_printable::decode(&joined, quoted_printable::ParseMode::Strict).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), crlf(&pieces.concat()));
        for line in joined.split(|&b| b == b'\n') {
            assert!(line.len() <= 77, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn each_recipient_gets_their_own_greeting_and_links_around_the_shared_body() {
        let options: Options = toml::from_str(
            "from = \"News <news@example.org>\"\nlist_id = \"news.example.org\"\nsmtp_host = \"localhost\"\ntopics = []\n",
        )
        .unwrap();
        let content = Content {
            subject: "Hello",
            text: "Line one = 1\nLine two  \n\n",
            html: "<p>Body</p>\n",
        };
        let prepared = prepare(&options, "Org", &content).unwrap();
        let personal = Personal {
            email: "zoe@example.org",
            name: Some("Zoë"),
            unsubscribe_url: "https://e.org/u?t=1",
            preferences_url: "https://e.org/p?t=1",
            message_key: "k.1".into(),
            reference: None,
            relay_header: None,
        };
        let msg = String::from_utf8(
            build_prepared(&prepared, &personal, None)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        let text = "Dear Zoë,\n\nLine one = 1\nLine two\n\n-- \nChange your topics: https://e.org/p?t=1\nUnsubscribe: https://e.org/u?t=1\n";
        let html = format!(
            "<!DOCTYPE html>\n<html><body>\n<p>Dear Zoë,</p>\n<p>Body</p>\n<hr>\n<p><a href=\"{}\">Change your topics</a> | <a href=\"{}\">Unsubscribe</a></p>\n</body></html>\n",
            escape("https://e.org/p?t=1"),
            escape("https://e.org/u?t=1")
        );
        for body in [text, &html] {
            let encoded = String::from_utf8(qp(body)).unwrap();
            assert!(msg.contains(&encoded), "{encoded}\nnot in\n{msg}");
        }
        assert_eq!(
            msg.matches("Content-Transfer-Encoding: quoted-printable")
                .count(),
            2
        );
    }
}
