//! A test send: the real rendered email of one item, to a few people on
//! the comms team, before the real one goes to the list.
//!
//! The same message a subscriber gets (same MIME, headers, DKIM, relay),
//! except: the subject starts with `[TEST]`, nobody's signed links are in
//! it (the preferences and unsubscribe links go to the list's public page,
//! so a click in a test changes no one's subscription), and nothing is
//! written to the store — no recipient record, no delivery, no count.

use lettre::address::Envelope;

use super::config::valid_address;
use super::message::{self, Content, Personal};
use super::sender::{Answer, Smtp};
use super::Email;
use crate::channels::{PublishError, Services, TestSent};
use crate::variant::Variant;

/// At most this many addresses per test send: it is a check, not a list.
pub const MAX_TEST_ADDRESSES: usize = 10;

/// The subject of a test message.
pub fn test_subject(subject: &str) -> String {
    format!("[TEST] {subject}")
}

/// The addresses, normalised, or why they will not do (none, too many,
/// one that is not an address).
pub fn check_addresses(to: &[String]) -> Result<Vec<String>, String> {
    if to.is_empty() {
        return Err("give at least one address to send the test to".into());
    }
    if to.len() > MAX_TEST_ADDRESSES {
        return Err(format!(
            "a test send goes to at most {MAX_TEST_ADDRESSES} addresses, not {}",
            to.len()
        ));
    }
    to.iter()
        .map(|a| {
            let a = a.trim().to_lowercase();
            if valid_address(&a) {
                Ok(a)
            } else {
                Err(format!("`{}` is not an email address", a.escape_debug()))
            }
        })
        .collect()
}

/// Sends `variant` (this channel's, rendered as for the real send) to each
/// address in `to`, one message each over one connection, through the
/// channel's own SMTP settings. Touches no subscriber and no delivery.
pub async fn send_test(
    email: &Email,
    variant: &Variant,
    to: &[String],
    services: &Services,
) -> Result<TestSent, PublishError> {
    let to = check_addresses(to).map_err(PublishError::permanent)?;
    let subject = test_subject(variant.subject.as_deref().unwrap_or_default());
    let content = Content {
        subject: &subject,
        text: &variant.text,
        html: variant.html.as_deref().unwrap_or_default(),
    };
    let prepared =
        message::prepare(&email.options, &email.org, &content).map_err(PublishError::permanent)?;
    let dkim = message::dkim_config(&email.options).map_err(PublishError::permanent)?;
    let auth = email
        .options
        .smtp_auth()
        .map_err(|e| PublishError::credentials(e.to_string()))?;
    let smtp = Smtp::new(&email.options, auth);
    let mut conn = smtp.connect().await.map_err(|e| {
        if e.credentials_refused {
            PublishError::credentials(e.message)
        } else {
            PublishError::retry(e.message, None)
        }
    })?;
    // The list's own page: a working link that names no subscriber.
    let page = format!("{}/lists/{}/", services.public_url, email.name);
    let run = random_key();
    let mut sent = TestSent {
        accepted: Vec::new(),
        refused: Vec::new(),
    };
    for (n, address) in to.iter().enumerate() {
        let personal = Personal {
            email: address,
            name: None,
            unsubscribe_url: &page,
            preferences_url: &page,
            message_key: format!("crier.test.{run}.{n}"),
            reference: None,
            relay_header: None,
        };
        let msg = message::build_prepared(&prepared, &personal, dkim.as_ref())
            .map_err(PublishError::permanent)?;
        let envelope: &Envelope = msg.envelope();
        match smtp.send(&mut conn, envelope, &msg.formatted()).await {
            Answer::Accepted => sent.accepted.push(address.clone()),
            Answer::Refused(why) | Answer::Deferred(why) => {
                sent.refused.push((address.clone(), why))
            }
            Answer::Broken(why) => {
                return Err(PublishError::retry(
                    format!("{}; then the connection broke: {why}", sent.summary()),
                    None,
                ))
            }
        }
    }
    conn.quit().await;
    Ok(sent)
}

/// A fresh Message-ID part per test send, so two tests are two messages.
fn random_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_one_to_ten_real_ones() {
        assert!(check_addresses(&[]).is_err());
        let eleven: Vec<String> = (0..11).map(|i| format!("a{i}@example.org")).collect();
        assert!(check_addresses(&eleven).unwrap_err().contains("at most 10"));
        assert_eq!(
            check_addresses(&[" Ann@Example.org ".into()]).unwrap(),
            vec!["ann@example.org".to_string()]
        );
        assert!(check_addresses(&["ann@example.org\r\nBcc: x@y.z".into()]).is_err());
        assert_eq!(test_subject("Hello"), "[TEST] Hello");
    }
}
