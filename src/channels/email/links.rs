//! Signed links: confirm (expiring) and manage (unsubscribe, preferences).
//!
//! A token is `<purpose><subscriber id>.<expiry unix seconds or 0>.<mac>`,
//! the MAC being HMAC-SHA256 over the channel, purpose, id and expiry with a
//! key generated once into `<data_dir>/credentials/` (0600). No login, no
//! cookie: the link is the proof, as RFC 8058 one-click requires.

use std::sync::Mutex;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::credentials::Credentials;
use crate::secret::Secret;

const KEY_NAME: &str = "link_key";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    Manage,
}

impl Purpose {
    fn tag(self) -> char {
        match self {
            Purpose::Confirm => 'c',
            Purpose::Manage => 'm',
        }
    }
}

/// The link key, loaded or generated on first use and then kept.
#[derive(Default)]
pub struct Keyring {
    key: Mutex<Option<Secret>>,
}

impl Keyring {
    pub fn key(&self, credentials: &Credentials, channel: &str) -> Result<Secret, String> {
        let mut slot = self.key.lock().expect("key lock");
        if let Some(k) = slot.as_ref() {
            return Ok(k.clone());
        }
        let key = match credentials
            .get(channel, KEY_NAME)
            .map_err(|e| e.to_string())?
        {
            Some(k) => k,
            None => {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                let k = Secret::new(hex::encode(bytes));
                credentials
                    .put(channel, KEY_NAME, &k)
                    .map_err(|e| e.to_string())?;
                k
            }
        };
        *slot = Some(key.clone());
        Ok(key)
    }
}

fn mac(key: &Secret, channel: &str, purpose: Purpose, id: i64, expiry: i64) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("any key length");
    m.update(format!("{channel}\n{}\n{id}\n{expiry}", purpose.tag()).as_bytes());
    // 128 bits is plenty for a link and keeps URLs short.
    hex::encode(&m.finalize().into_bytes()[..16])
}

/// A token for `id`; `expiry` 0 means it never expires.
pub fn sign(key: &Secret, channel: &str, purpose: Purpose, id: i64, expiry: i64) -> String {
    format!(
        "{}{id}.{expiry}.{}",
        purpose.tag(),
        mac(key, channel, purpose, id, expiry)
    )
}

/// The subscriber id if the token is genuine, of this purpose, and not
/// expired at `now` (unix seconds).
pub fn verify(key: &Secret, channel: &str, purpose: Purpose, token: &str, now: i64) -> Option<i64> {
    let rest = token.strip_prefix(purpose.tag())?;
    let mut parts = rest.splitn(3, '.');
    let id: i64 = parts.next()?.parse().ok()?;
    let expiry: i64 = parts.next()?.parse().ok()?;
    let given = parts.next()?;
    let want = mac(key, channel, purpose, id, expiry);
    // Constant-time comparison: the MAC must not leak byte by byte.
    let same = given.len() == want.len()
        && given
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    (same && (expiry == 0 || now <= expiry)).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_channel_purpose_and_time() {
        let key = Secret::new("k".repeat(64));
        let t = sign(&key, "news", Purpose::Confirm, 42, 1000);
        assert_eq!(verify(&key, "news", Purpose::Confirm, &t, 999), Some(42));
        assert_eq!(verify(&key, "news", Purpose::Confirm, &t, 1001), None);
        assert_eq!(verify(&key, "other", Purpose::Confirm, &t, 999), None);
        assert_eq!(verify(&key, "news", Purpose::Manage, &t, 999), None);
        let forged = t.replacen("c42", "c43", 1);
        assert_eq!(verify(&key, "news", Purpose::Confirm, &forged, 999), None);
        let m = sign(&key, "news", Purpose::Manage, 7, 0);
        assert_eq!(verify(&key, "news", Purpose::Manage, &m, i64::MAX), Some(7));
    }
}
