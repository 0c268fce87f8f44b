//! Amazon SNS HTTP(S) notifications, for SES events: the message signature
//! checked as AWS documents it (SignatureVersion 1, SHA1withRSA; 2,
//! SHA256withRSA; over the canonical string of the message's fields), with
//! the signing certificate fetched from `SigningCertURL` only over https
//! from `sns.<region>.amazonaws.com`, and kept (by URL) once fetched.
//!
//! Anyone with an AWS account can have SNS sign a message, so the topic is
//! checked against `ses_topic_arns` first, and nothing in a message is
//! acted on (a SubscribeURL fetched, an event recorded) before its
//! signature verifies.
//!
//! Tests cannot serve a certificate from amazonaws.com. `sns_test_ca_file`
//! lets certificates and SubscribeURLs come from https on a loopback
//! address too, with that connection trusting the test CA alone (never the
//! public roots): to abuse it in production one would have to run a server
//! on the daemon's own machine with a certificate from that CA. The
//! amazonaws.com path is the same code either way.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine;
use rustls::pki_types::{alg_id, AlgorithmIdentifier, CertificateDer, InvalidSignature};
use rustls::pki_types::{pem::PemObject, SignatureVerificationAlgorithm};
use serde_json::{Map, Value};

/// What a message is, once its signature verified.
#[derive(Debug, Clone, PartialEq)]
pub enum Verified {
    /// A subscription to be confirmed by fetching this URL.
    Subscribe(String),
    /// Our endpoint was unsubscribed: nothing to do.
    Unsubscribed,
    /// A notification: its id and its `Message` text.
    Notification { id: String, message: String },
}

/// Why a message was not acted on.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// Not an SNS message, or one missing a signed field (400).
    Malformed(String),
    /// From a topic not in `ses_topic_arns` (403).
    Topic(String),
    /// The signature, or where its certificate would come from, is wrong (401).
    Signature(String),
    /// The certificate could not be fetched now; SNS retries (503).
    Unavailable(String),
}

/// The SNS side of one channel's `ses` webhook.
pub struct Sns {
    topics: Vec<String>,
    public: reqwest::Client,
    /// Tests only: a client trusting the test CA alone, for loopback URLs.
    loopback: Option<reqwest::Client>,
    certs: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

/// At most this many certificates are kept (AWS rotates them rarely).
const CACHED_CERTS: usize = 16;

impl Sns {
    pub fn new(topics: Vec<String>, test_ca: Option<&Path>) -> Result<Sns, String> {
        let loopback = match test_ca {
            None => None,
            Some(path) => {
                let pem = super::super::config::read_ca_file(path)?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let client = crate::channels::http::builder()
                    .tls_certs_only(certs)
                    .build()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Some(client)
            }
        };
        Ok(Sns {
            topics,
            public: crate::channels::http::client(),
            loopback,
            certs: Mutex::new(HashMap::new()),
        })
    }

    /// Checks `body` as an SNS message: topic, then signature.
    pub async fn verify(&self, body: &[u8]) -> Result<Verified, Refused> {
        let fields: Map<String, Value> = serde_json::from_slice(body)
            .map_err(|e| Refused::Malformed(format!("not an SNS message: {e}")))?;
        let field = |k: &str| fields.get(k).and_then(Value::as_str);
        let topic = field("TopicArn").unwrap_or_default();
        if !self.topics.iter().any(|t| t == topic) {
            return Err(Refused::Topic(format!("topic `{topic}` is not accepted")));
        }
        let canonical = canonical(&fields)?;
        let algorithm: &dyn SignatureVerificationAlgorithm = match field("SignatureVersion") {
            Some("1") => &RSA_SHA1,
            Some("2") => &RSA_SHA256,
            other => {
                return Err(Refused::Signature(format!(
                    "SignatureVersion {other:?} is not 1 or 2"
                )))
            }
        };
        let signature = base64::engine::general_purpose::STANDARD
            .decode(field("Signature").unwrap_or_default())
            .map_err(|_| Refused::Signature("Signature is not base64".into()))?;
        let url = field("SigningCertURL").unwrap_or_default();
        let der = self.certificate(url).await?;
        let der = CertificateDer::from(der.as_slice());
        let cert = webpki::EndEntityCert::try_from(&der)
            .map_err(|e| Refused::Signature(format!("the signing certificate: {e}")))?;
        cert.verify_signature(algorithm, canonical.as_bytes(), &signature)
            .map_err(|_| Refused::Signature("the signature does not verify".into()))?;
        match field("Type") {
            Some("SubscriptionConfirmation") => Ok(Verified::Subscribe(
                field("SubscribeURL").unwrap_or_default().into(),
            )),
            Some("UnsubscribeConfirmation") => Ok(Verified::Unsubscribed),
            _ => Ok(Verified::Notification {
                id: field("MessageId").unwrap_or_default().into(),
                message: field("Message").unwrap_or_default().into(),
            }),
        }
    }

    /// Confirms a subscription by fetching its SubscribeURL (from SNS's
    /// own host only, as the certificate).
    pub async fn confirm(&self, url: &str) -> Result<(), String> {
        let client = self
            .client_for(url)
            .ok_or_else(|| format!("SubscribeURL `{url}` is not an SNS https URL"))?;
        let answer = client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("confirming the subscription: {e}"))?;
        match answer.status() {
            s if s.is_success() => Ok(()),
            s => Err(format!("confirming the subscription: SNS answered {s}")),
        }
    }

    /// The client allowed to fetch `url`, if any: https only, to
    /// `sns.<region>.amazonaws.com[.cn]` with the public roots, or (tests)
    /// to a loopback address with the test CA alone.
    fn client_for(&self, url: &str) -> Option<&reqwest::Client> {
        let parsed = reqwest::Url::parse(url).ok()?;
        if parsed.scheme() != "https" || !parsed.username().is_empty() {
            return None;
        }
        let host = parsed.host_str()?;
        let ip = host.trim_start_matches('[').trim_end_matches(']');
        match ip.parse::<std::net::IpAddr>() {
            Ok(ip) if ip.is_loopback() => self.loopback.as_ref(),
            Ok(_) => None,
            Err(_) => amazon_sns_host(host).then_some(&self.public),
        }
    }

    async fn certificate(&self, url: &str) -> Result<Arc<Vec<u8>>, Refused> {
        if let Some(der) = self.certs.lock().expect("cert cache").get(url) {
            return Ok(der.clone());
        }
        let client = self.client_for(url).ok_or_else(|| {
            Refused::Signature(format!("SigningCertURL `{url}` is not an SNS https URL"))
        })?;
        let unavailable = |e: &dyn std::fmt::Display| {
            Refused::Unavailable(format!("fetching the signing certificate: {e}"))
        };
        let answer = client.get(url).send().await.map_err(|e| unavailable(&e))?;
        if !answer.status().is_success() {
            return Err(unavailable(&answer.status()));
        }
        let pem = answer.bytes().await.map_err(|e| unavailable(&e))?;
        let der = CertificateDer::from_pem_slice(&pem)
            .map_err(|e| Refused::Signature(format!("the signing certificate is not PEM: {e}")))?;
        let der = Arc::new(der.as_ref().to_vec());
        let mut cache = self.certs.lock().expect("cert cache");
        if cache.len() >= CACHED_CERTS {
            cache.clear();
        }
        cache.insert(url.to_string(), der.clone());
        Ok(der)
    }
}

/// `sns.<region>.amazonaws.com` (or `.amazonaws.com.cn`), region being
/// letters, digits and dashes: never a host that merely ends so.
pub fn amazon_sns_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"));
    region
        .is_some_and(|r| r.len() >= 3 && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// The string SNS signs: each field's name and value on lines of their
/// own, in this order, for the fields of the message's type (`Subject`
/// only when the notification has one).
pub fn canonical(fields: &Map<String, Value>) -> Result<String, Refused> {
    let names: &[&str] = match fields.get("Type").and_then(Value::as_str) {
        Some("Notification") => &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ],
        Some("SubscriptionConfirmation" | "UnsubscribeConfirmation") => &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ],
        other => return Err(Refused::Malformed(format!("unknown SNS Type {other:?}"))),
    };
    let mut out = String::new();
    for name in names {
        match fields.get(*name).and_then(Value::as_str) {
            Some(value) => {
                out.push_str(name);
                out.push('\n');
                out.push_str(value);
                out.push('\n');
            }
            None if *name == "Subject" => {}
            None => return Err(Refused::Malformed(format!("the message has no {name}"))),
        }
    }
    Ok(out)
}

/// RSA PKCS#1 v1.5 on ring, for webpki's check against the certificate's
/// key. webpki has no SHA-1 one; SNS's version 1 needs it.
#[derive(Debug)]
struct RsaPkcs1 {
    ring: &'static ring::signature::RsaParameters,
    signature_alg: AlgorithmIdentifier,
}

impl SignatureVerificationAlgorithm for RsaPkcs1 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        ring::signature::UnparsedPublicKey::new(self.ring, public_key)
            .verify(message, signature)
            .map_err(|_| InvalidSignature)
    }
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }
    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_alg
    }
}

static RSA_SHA1: RsaPkcs1 = RsaPkcs1 {
    ring: &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
    // sha1WithRSAEncryption (1.2.840.113549.1.1.5), NULL parameters.
    signature_alg: AlgorithmIdentifier::from_slice(&[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
    ]),
};

static RSA_SHA256: RsaPkcs1 = RsaPkcs1 {
    ring: &ring::signature::RSA_PKCS1_2048_8192_SHA256,
    signature_alg: alg_id::RSA_PKCS1_SHA256,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_hosts_over_https_may_serve_certificates() {
        for good in [
            "sns.us-east-1.amazonaws.com",
            "SNS.eu-west-2.amazonaws.com",
            "sns.cn-north-1.amazonaws.com.cn",
        ] {
            assert!(amazon_sns_host(good), "{good}");
        }
        for bad in [
            "sns.amazonaws.com",
            "sns.us-east-1.amazonaws.com.evil.example",
            "evil.example/sns.us-east-1.amazonaws.com",
            "snsx.us-east-1.amazonaws.com",
            "sns.us_east.amazonaws.com",
            "sns.a.b.amazonaws.com",
            "x.sns.us-east-1.amazonaws.com",
        ] {
            assert!(!amazon_sns_host(bad), "{bad}");
        }
        let sns = Sns::new(vec![], None).unwrap();
        assert!(sns
            .client_for("https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-1.pem")
            .is_some());
        for bad in [
            "http://sns.eu-west-2.amazonaws.com/cert.pem",
            "https://user@sns.eu-west-2.amazonaws.com/cert.pem",
            "https://sns.eu-west-2.amazonaws.com.evil.example/cert.pem",
            // Loopback only with the test CA, which is not given here.
            "https://127.0.0.1:8443/cert.pem",
            "not a url",
        ] {
            assert!(sns.client_for(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_canonical_string_follows_the_message_type() {
        let n: Map<String, Value> = serde_json::from_str(
            r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"hi",
                "Timestamp":"2026-01-01T00:00:00.000Z","SignatureVersion":"1",
                "Signature":"x","SigningCertURL":"u","UnsubscribeURL":"x"}"#,
        )
        .unwrap();
        assert_eq!(
            canonical(&n).unwrap(),
            "Message\nhi\nMessageId\nm\nTimestamp\n2026-01-01T00:00:00.000Z\nTopicArn\nt\nType\nNotification\n"
        );
        let mut with_subject = n.clone();
        with_subject.insert("Subject".into(), "S".into());
        assert!(canonical(&with_subject)
            .unwrap()
            .contains("MessageId\nm\nSubject\nS\nTimestamp"));
        let mut sub = n.clone();
        sub.insert("Type".into(), "SubscriptionConfirmation".into());
        assert!(matches!(canonical(&sub), Err(Refused::Malformed(_))));
        sub.insert("SubscribeURL".into(), "https://s".into());
        sub.insert("Token".into(), "tok".into());
        assert!(canonical(&sub).unwrap().contains(
            "SubscribeURL\nhttps://s\nTimestamp\n2026-01-01T00:00:00.000Z\nToken\ntok\n"
        ));
    }
}
