//! ID token verification: the signature (RS256 or ES256, with a key from
//! the provider's JWKS), then issuer, audience, expiry and nonce. Written
//! on `ring` (already in the tree for TLS) rather than a JWT crate: the
//! checks are few, and each is tested below with real signatures.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};

/// How far a provider's clock may be off from ours.
pub const LEEWAY_SECONDS: i64 = 60;

#[derive(Debug, Clone, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

/// What the token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

fn b64(part: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "the ID token is not base64url".to_string())
}

/// Whether `token`'s signature verifies with a key of `jwks`: `Err` says
/// why not. `Ok(false)` means no key has the token's `kid` (fetch the
/// JWKS again: the provider may have rotated its keys).
pub fn verify(
    token: &str,
    jwks: &Jwks,
    expected: &Expected,
) -> Result<Option<Map<String, Value>>, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [head, body, sig] = parts[..] else {
        return Err("the ID token is not a signed JWT".into());
    };
    let header: Header = serde_json::from_slice(&b64(head)?)
        .map_err(|_| "the ID token's header is not JSON".to_string())?;
    let candidates: Vec<&Jwk> = jwks
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.kid == header.kid)
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let signed = format!("{head}.{body}");
    let sig = b64(sig)?;
    let good = candidates
        .iter()
        .any(|k| check_signature(&header.alg, k, signed.as_bytes(), &sig));
    if !good {
        return Err(format!(
            "the ID token's {} signature does not verify",
            header.alg
        ));
    }
    let claims: Map<String, Value> = serde_json::from_slice(&b64(body)?)
        .map_err(|_| "the ID token's claims are not a JSON object".to_string())?;
    check_claims(&claims, expected)?;
    Ok(Some(claims))
}

fn check_signature(alg: &str, key: &Jwk, message: &[u8], sig: &[u8]) -> bool {
    let decode = |v: &Option<String>| v.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
    match (alg, key.kty.as_str()) {
        ("RS256", "RSA") => {
            let (Some(n), Some(e)) = (decode(&key.n), decode(&key.e)) else {
                return false;
            };
            RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok()
        }
        ("ES256", "EC") if key.crv.as_deref() == Some("P-256") => {
            let (Some(x), Some(y)) = (decode(&key.x), decode(&key.y)) else {
                return false;
            };
            let point = [&[4u8][..], &x, &y].concat();
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .is_ok()
        }
        // `none`, HS256 (a public key used as an HMAC secret) and the rest.
        _ => false,
    }
}

fn check_claims(claims: &Map<String, Value>, expected: &Expected) -> Result<(), String> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    if text("iss") != Some(expected.issuer) {
        return Err(format!("the ID token's issuer is not {}", expected.issuer));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let for_us = audiences.contains(&expected.client_id)
        && (audiences.len() == 1 || text("azp") == Some(expected.client_id));
    if !for_us {
        return Err("the ID token was issued to another client (audience)".into());
    }
    let exp = claims.get("exp").and_then(Value::as_i64);
    if exp.is_none_or(|exp| exp + LEEWAY_SECONDS <= expected.now.timestamp()) {
        return Err("the ID token has expired".into());
    }
    if text("nonce") != Some(expected.nonce) {
        return Err("the ID token's nonce is not this sign-in's".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use serde_json::json;

    use super::*;

    struct Signer {
        pair: EcdsaKeyPair,
        jwks: Jwks,
    }

    fn signer(kid: &str) -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let jwk = Jwk {
            kty: "EC".into(),
            kid: Some(kid.into()),
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
            y: Some(URL_SAFE_NO_PAD.encode(&point[33..])),
        };
        Signer {
            pair,
            jwks: Jwks { keys: vec![jwk] },
        }
    }

    impl Signer {
        fn sign(&self, kid: &str, claims: &Value) -> String {
            let head = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": kid}).to_string());
            let body = URL_SAFE_NO_PAD.encode(claims.to_string());
            let signed = format!("{head}.{body}");
            let sig = self
                .pair
                .sign(&SystemRandom::new(), signed.as_bytes())
                .unwrap();
            format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn claims() -> Value {
        json!({"iss": "https://id.example", "aud": "crier", "exp": 1_800_000_300i64,
               "iat": 1_800_000_000i64, "nonce": "n1", "sub": "s", "email": "a@example.org"})
    }

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "https://id.example",
            client_id: "crier",
            nonce: "n1",
            now: now(),
        }
    }

    fn with(k: &str, v: Value) -> Value {
        let mut c = claims();
        c[k] = v;
        c
    }

    #[test]
    fn a_good_token_verifies() {
        let s = signer("k1");
        let got = verify(&s.sign("k1", &claims()), &s.jwks, &expected())
            .unwrap()
            .unwrap();
        assert_eq!(got["email"], "a@example.org");
        let two = with("aud", json!(["crier", "other"]));
        assert!(
            verify(&s.sign("k1", &two), &s.jwks, &expected()).is_err(),
            "no azp"
        );
        let two = with("azp", json!("crier"));
        let two = Value::Object({
            let mut m = two.as_object().unwrap().clone();
            m.insert("aud".into(), json!(["crier", "other"]));
            m
        });
        assert!(verify(&s.sign("k1", &two), &s.jwks, &expected())
            .unwrap()
            .is_some());
    }

    #[test]
    fn tampered_wrong_audience_expired_or_foreign_tokens_are_refused() {
        let s = signer("k1");
        let good = s.sign("k1", &claims());
        let (head, rest) = good.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let admin = URL_SAFE_NO_PAD.encode(with("email", json!("admin@example.org")).to_string());
        let tampered = format!("{head}.{admin}.{sig}");
        let cases = [
            ("tampered", tampered, "signature"),
            (
                "audience",
                s.sign("k1", &with("aud", json!("other"))),
                "audience",
            ),
            (
                "expired",
                s.sign("k1", &with("exp", json!(1_800_000_000i64 - 61))),
                "expired",
            ),
            (
                "issuer",
                s.sign("k1", &with("iss", json!("https://evil.example"))),
                "issuer",
            ),
            ("nonce", s.sign("k1", &with("nonce", json!("n2"))), "nonce"),
            (
                "another key",
                signer("k1").sign("k1", &claims()),
                "signature",
            ),
            (
                "alg none",
                format!(
                    "{}.{}.",
                    URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#),
                    URL_SAFE_NO_PAD.encode(claims().to_string())
                ),
                "signature",
            ),
        ];
        for (name, token, says) in cases {
            let err = verify(&token, &s.jwks, &expected()).unwrap_err();
            assert!(err.contains(says), "{name}: {err}");
        }
        // Within the leeway is still good.
        let late = s.sign("k1", &with("exp", json!(1_800_000_000i64 - 59)));
        assert!(verify(&late, &s.jwks, &expected()).unwrap().is_some());
        // An unknown kid asks for a fresh JWKS.
        assert!(verify(&s.sign("k2", &claims()), &s.jwks, &expected())
            .unwrap()
            .is_none());
    }
}
