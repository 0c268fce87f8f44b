//! Time-based one-time codes (RFC 6238: HMAC-SHA1, 30-second steps, six
//! digits), the second factor authenticator apps give. The secret is
//! shown once at enrolment as base32 and an `otpauth://` URI.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;

const STEP: i64 = 30;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new secret (160 bits, RFC 4226's recommendation), base32.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    base32(&bytes)
}

/// The URI an authenticator app takes for `email`'s account at `issuer`.
pub fn uri(secret: &str, issuer: &str, email: &str) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}",
        enc(issuer),
        enc(email),
        enc(issuer)
    )
}

/// Whether `code` is the code for `now`'s step or one either side (clocks
/// drift; a person types slowly).
pub fn verify(secret: &str, code: &str, now: DateTime<Utc>) -> bool {
    let code = code.trim().replace(' ', "");
    let Some(key) = unbase32(secret).filter(|k| k.len() >= 10) else {
        return false;
    };
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let step = now.timestamp().div_euclid(STEP);
    (step - 1..=step + 1).any(|s| at_step(&key, s as u64) == code)
}

/// The code for one step.
fn at_step(key: &[u8], step: u64) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[19] & 0x0f) as usize;
    let n = u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ]);
    format!("{:06}", n % 1_000_000)
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for c in text.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, with the last six digits.
    #[test]
    fn rfc_6238_test_vectors() {
        let key = b"12345678901234567890";
        for (t, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (2000000000, "279037"),
        ] {
            assert_eq!(at_step(key, (t / 30) as u64), code, "T={t}");
        }
        let secret = base32(key);
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let now = DateTime::from_timestamp(1111111109, 0).unwrap();
        assert!(verify(&secret, "081804", now));
        assert!(
            verify(&secret, " 081 804", now + chrono::TimeDelta::seconds(30)),
            "a step late"
        );
        assert!(!verify(
            &secret,
            "081804",
            now + chrono::TimeDelta::seconds(90)
        ));
        assert!(!verify(&secret, "81804", now));
        assert_eq!(unbase32(&new_secret()).unwrap().len(), 20);
    }
}
