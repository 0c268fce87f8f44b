//! OAuth 1.0a request signing (RFC 5849, HMAC-SHA1), as X's user-context
//! authentication wants it.
//!
//! Written here rather than taken from a crate: it is forty lines, and a
//! signature that is almost right fails in ways that are hard to see, so the
//! unit test checks it against the vector X publishes ("Creating a
//! signature"), and the contract server in the tests recomputes every
//! signature independently.

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Url;
use sha1::Sha1;

use crate::secret::Secret;

/// RFC 5849 §3.6: everything but the unreserved characters is encoded, with
/// upper-case hex. (`application/x-www-form-urlencoded` differs: it leaves
/// `*` alone and writes spaces as `+`, and X rejects signatures built so.)
const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, RESERVED).to_string()
}

/// The four secrets of a user-context request.
pub struct Keys {
    pub consumer_key: Secret,
    pub consumer_secret: Secret,
    pub token: Secret,
    pub token_secret: Secret,
}

/// What varies per request besides the request itself; a parameter so the
/// published vector can be reproduced.
pub struct Once<'a> {
    pub nonce: &'a str,
    pub timestamp: i64,
}

/// The `Authorization` header value for `method url`. `form` holds the
/// parameters of an `application/x-www-form-urlencoded` body (empty for
/// JSON bodies, which are not signed); query parameters are read from `url`.
pub fn authorization(
    keys: &Keys,
    method: &str,
    url: &Url,
    form: &[(&str, &str)],
    once: &Once,
) -> String {
    let timestamp = once.timestamp.to_string();
    let oauth = [
        ("oauth_consumer_key", keys.consumer_key.expose()),
        ("oauth_nonce", once.nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", timestamp.as_str()),
        ("oauth_token", keys.token.expose()),
        ("oauth_version", "1.0"),
    ];
    let signature = signature(keys, method, url, form, &oauth);
    let mut header = String::from("OAuth ");
    let fields = oauth
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .chain([("oauth_signature", signature)])
        .map(|(k, v)| format!("{k}=\"{}\"", encode(&v)))
        .collect::<Vec<_>>();
    header.push_str(&fields.join(", "));
    header
}

fn signature(
    keys: &Keys,
    method: &str,
    url: &Url,
    form: &[(&str, &str)],
    oauth: &[(&str, &str)],
) -> String {
    // §3.4.1.3: every parameter, encoded, then sorted by name and value.
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let mut params: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(form.iter().copied())
        .chain(oauth.iter().copied())
        .map(|(k, v)| (encode(k), encode(v)))
        .collect();
    params.sort();
    let normalized = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(&base_url(url)),
        encode(&normalized)
    );
    let key = format!(
        "{}&{}",
        encode(keys.consumer_secret.expose()),
        encode(keys.token_secret.expose())
    );
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// §3.4.1.2: scheme and host in lower case, the port only when it is not
/// the scheme's default, the path, and no query or fragment.
fn base_url(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{host}{port}{}", url.scheme(), url.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret::new(s.into())
    }

    /// X's worked example ("Creating a signature", developer.x.com).
    #[test]
    fn reproduces_the_published_vector() {
        let keys = Keys {
            consumer_key: secret("xvz1evFS4wEEPTGEFPHBog"),
            consumer_secret: secret("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
            token: secret("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
            token_secret: secret("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"),
        };
        let url =
            Url::parse("https://api.twitter.com/1.1/statuses/update.json?include_entities=true")
                .unwrap();
        let once = Once {
            nonce: "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
            timestamp: 1_318_622_958,
        };
        let form = [(
            "status",
            "Hello Ladies + Gentlemen, a signed OAuth request!",
        )];
        let header = authorization(&keys, "post", &url, &form, &once);
        assert!(header.starts_with("OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\""));
        assert!(
            header.contains("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\""),
            "{header}"
        );
    }

    #[test]
    fn encodes_as_rfc_5849_says() {
        assert_eq!(encode("Ladies + Gentlemen"), "Ladies%20%2B%20Gentlemen");
        assert_eq!(encode("a-b.c_d~e*f!"), "a-b.c_d~e%2Af%21");
        assert_eq!(encode("☃"), "%E2%98%83");
    }

    #[test]
    fn default_ports_are_left_out_and_others_kept() {
        let u = Url::parse("HTTPS://API.X.com:443/2/tweets?x=1#f").unwrap();
        assert_eq!(base_url(&u), "https://api.x.com/2/tweets");
        let u = Url::parse("http://127.0.0.1:8123/2/tweets").unwrap();
        assert_eq!(base_url(&u), "http://127.0.0.1:8123/2/tweets");
    }
}
