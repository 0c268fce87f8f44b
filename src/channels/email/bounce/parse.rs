//! What a message in the bounce mailbox says: a delivery status
//! notification (RFC 3464, as Postfix, Exchange and Gmail send them), a
//! non-standard bounce (plain text from a mailer daemon, with an SMTP
//! reply quoted in it), a complaint (RFC 5965 ARF), or none of these (an
//! auto-reply, a person writing back). And which message it is about: the
//! signed VERP token in the bounce's own headers, or in the original
//! message's headers it quotes (`X-Crier-Ref`, `Return-Path`).

use mail_parser::{MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use super::super::verp::{self, Sent};
use crate::secret::Secret;
use crate::store::lists::BounceKind;

/// What one message reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: BounceKind,
    /// The enhanced status code (`5.1.1`), when one was given.
    pub status: Option<String>,
    /// The remote server's words (Diagnostic-Code, the quoted reply), or
    /// the complaint's feedback type.
    pub detail: Option<String>,
}

/// One message read: its key (for recording it once), what it reports and
/// whom it is about. `report` None: not a bounce or complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub key: String,
    pub report: Option<Report>,
    pub sent: Option<Sent>,
}

/// Reads one raw message. A message that cannot be parsed at all is read
/// as reporting nothing (it is moved aside like an auto-reply).
pub fn read(raw: &[u8], key: &Secret, channel: &str) -> Read {
    let id = message_key(raw);
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Read {
            key: id,
            report: None,
            sent: None,
        };
    };
    let mut texts: Vec<String> = Vec::new();
    let (mut dsn, mut arf) = (None, None);
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            if let Some(t) = part.text_contents() {
                texts.push(t.to_string());
            }
            continue;
        };
        let kind = format!(
            "{}/{}",
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase()
        );
        let text = match &part.body {
            PartType::Multipart(_) => continue,
            _ => String::from_utf8_lossy(part.contents()).into_owned(),
        };
        match kind.as_str() {
            "message/delivery-status" | "message/global-delivery-status" => {
                dsn.get_or_insert(text.clone());
            }
            "message/feedback-report" => {
                arf.get_or_insert(text.clone());
            }
            _ => {}
        }
        texts.push(text);
    }
    let report = match (arf, dsn) {
        (Some(arf), _) => complaint(&arf),
        (None, Some(dsn)) => delivery_status(&dsn),
        (None, None) => non_standard(&msg, &texts),
    };
    // The bounce's own headers first (the envelope it was sent back to),
    // then the original message it quotes.
    let own = ["To", "Delivered-To", "X-Original-To", "Envelope-To"]
        .iter()
        .filter_map(|h| msg.header_raw(*h))
        .collect::<Vec<_>>()
        .join("\n");
    let sent = verp::find(key, channel, &own)
        .or_else(|| texts.iter().find_map(|t| verp::find(key, channel, t)));
    Read {
        key: id,
        report,
        sent,
    }
}

/// The bounce's Message-ID, or a hash of its bytes when it has none: a
/// message read twice has the same key.
fn message_key(raw: &[u8]) -> String {
    let id = MessageParser::default()
        .parse_headers(raw)
        .and_then(|m| m.message_id().map(str::to_string));
    match id {
        Some(id) if !id.trim().is_empty() => format!("<{}>", id.trim()),
        _ => format!("sha256:{}", hex::encode(Sha256::digest(raw))),
    }
}

/// Header-style fields in blocks separated by blank lines (the body of a
/// message/delivery-status or message/feedback-report), names lowercased,
/// continuation lines joined.
fn field_blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !blocks.last().is_some_and(Vec::is_empty) {
                blocks.push(Vec::new());
            }
            continue;
        }
        let block = blocks.last_mut().expect("one block at least");
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = block.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            block.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    blocks.retain(|b| !b.is_empty());
    blocks
}

fn field<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// RFC 3464: the first recipient block that failed or was delayed.
fn delivery_status(text: &str) -> Option<Report> {
    let blocks = field_blocks(text);
    blocks.iter().skip(1).find_map(|b| {
        let action = field(b, "action")?.to_ascii_lowercase();
        let status = field(b, "status").and_then(status_code);
        let detail = field(b, "diagnostic-code")
            .map(|d| d.split_once(';').map_or(d, |(_, r)| r).trim().to_string());
        let kind = match (action.as_str(), status.as_deref()) {
            ("failed", Some(s)) if s.starts_with('5') => BounceKind::Hard,
            ("failed", Some(s)) if s.starts_with('4') => BounceKind::Soft,
            // A failure with no usable code is taken at its word.
            ("failed", _) => BounceKind::Hard,
            ("delayed", _) => BounceKind::Soft,
            _ => return None, // delivered, relayed, expanded
        };
        Some(Report {
            kind,
            status,
            detail,
        })
    })
}

/// RFC 5965: an abuse (or fraud, virus, other) report is a complaint; a
/// `not-spam` report is not.
fn complaint(text: &str) -> Option<Report> {
    let blocks = field_blocks(text);
    let kind = blocks
        .iter()
        .find_map(|b| field(b, "feedback-type"))
        .unwrap_or("abuse")
        .to_ascii_lowercase();
    (kind != "not-spam").then(|| Report {
        kind: BounceKind::Complaint,
        status: None,
        detail: Some(format!("feedback report: {kind}")),
    })
}

/// `5.1.1` out of `5.1.1 (bad destination mailbox)`.
fn status_code(s: &str) -> Option<String> {
    let code = s.split_whitespace().next()?;
    let mut parts = code.split('.');
    let class = parts.next()?;
    let ok = matches!(class, "2" | "4" | "5")
        && parts.clone().count() == 2
        && parts.all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| code.to_string())
}

/// A bounce without a delivery-status part: from a mailer daemon (or with
/// a bounce's subject), with an SMTP reply quoted in its text.
fn non_standard(msg: &mail_parser::Message<'_>, texts: &[String]) -> Option<Report> {
    let from = msg
        .header_raw("From")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let subject = msg.subject().unwrap_or_default().to_ascii_lowercase();
    let daemon = ["mailer-daemon", "postmaster", "mail delivery"]
        .iter()
        .any(|d| from.contains(d));
    let bouncy = [
        "undeliver",
        "delivery status notification",
        "failure notice",
        "returned mail",
        "delivery failed",
        "delivery has failed",
        "could not be delivered",
    ]
    .iter()
    .any(|s| subject.contains(s));
    if !daemon && !bouncy {
        return None;
    }
    let (line, status, class) = texts
        .iter()
        .flat_map(|t| t.lines())
        .find_map(|l| smtp_reply(l).map(|(s, c)| (l.trim().to_string(), s, c)))?;
    let delayed = subject.contains("delay") || subject.contains("warning");
    Some(Report {
        kind: if class == '5' && !delayed {
            BounceKind::Hard
        } else {
            BounceKind::Soft
        },
        status,
        detail: Some(line),
    })
}

/// An SMTP reply quoted in a line: a 4xx/5xx code (`550 `, `550-`) and,
/// if there is one, its enhanced status code. Returns (status, class).
fn smtp_reply(line: &str) -> Option<(Option<String>, char)> {
    let words: Vec<&str> = line
        .split(|c: char| {
            c.is_whitespace() || matches!(c, '(' | ')' | '<' | '>' | ',' | ';' | ':' | '-' | '#')
        })
        .filter(|w| !w.is_empty())
        .collect();
    let enhanced = words
        .iter()
        .find_map(|w| status_code(w.trim_end_matches('.')).filter(|s| s.starts_with(['4', '5'])));
    let basic = words.iter().find_map(|w| {
        (w.len() == 3 && w.bytes().all(|b| b.is_ascii_digit()) && w.starts_with(['4', '5']))
            .then(|| w.chars().next().expect("three digits"))
    });
    match (enhanced, basic) {
        (Some(s), _) => {
            let class = s.chars().next().expect("a code");
            Some((Some(s), class))
        }
        (None, Some(class)) => Some((None, class)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_and_quoted_replies() {
        assert_eq!(status_code("5.1.1 (bad mailbox)"), Some("5.1.1".into()));
        assert_eq!(status_code("4.2.2"), Some("4.2.2".into()));
        assert_eq!(status_code("5.1"), None);
        assert_eq!(status_code("1.2.3"), None);
        assert_eq!(
            smtp_reply("550-5.1.1 The email account that you tried to reach does not exist."),
            Some((Some("5.1.1".into()), '5'))
        );
        assert_eq!(smtp_reply("452 mailbox full"), Some((None, '4')));
        assert_eq!(smtp_reply("Sent at 12:30 to 10.0.0.1"), None);
    }

    #[test]
    fn dsn_blocks_decide_hard_soft_or_nothing() {
        let dsn = "Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; a@b.org\r\n\
                   Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such\r\n \
                   user here\r\n";
        let r = delivery_status(dsn).unwrap();
        assert_eq!(r.kind, BounceKind::Hard);
        assert_eq!(r.detail.as_deref(), Some("550 5.1.1 no such user here"));
        let delayed = dsn.replace("failed", "delayed").replace("5.1.1", "4.4.1");
        assert_eq!(delivery_status(&delayed).unwrap().kind, BounceKind::Soft);
        let ok = dsn.replace("failed", "delivered").replace("5.1.1", "2.0.0");
        assert_eq!(delivery_status(&ok), None);
        assert_eq!(complaint("Feedback-Type: not-spam\r\n"), None);
        assert_eq!(
            complaint("Feedback-Type: abuse\r\nVersion: 1\r\n")
                .unwrap()
                .kind,
            BounceKind::Complaint
        );
    }
}
