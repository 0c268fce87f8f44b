//! Passwords: argon2id with the crate's defaults (OWASP's minimum: 19 MiB,
//! 2 passes), hashed and verified on a blocking thread so a sign-in never
//! stalls the server. An unknown account is verified against a dummy hash,
//! so the answer takes as long as for a wrong password.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Fewer characters than this is refused (NCSC: length over complexity).
pub const MIN_LENGTH: usize = 12;
/// More than this is refused: hashing a megabyte is a denial of service.
pub const MAX_LENGTH: usize = 256;

/// Why a new password is refused, in words for the form.
pub fn problem(password: &str, confirm: &str) -> Option<&'static str> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        Some("Enter a password of at least 12 characters")
    } else if n > MAX_LENGTH {
        Some("Enter a password of at most 256 characters")
    } else if password != confirm {
        Some("Enter the same password twice")
    } else {
        None
    }
}

/// The PHC string to store.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let salt =
        SaltString::encode_b64(&bytes).map_err(|e| anyhow::anyhow!("cannot make a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether `password` matches `stored`; with `None` (no such account, or
/// one without a password) the work is done against a dummy hash and the
/// answer is false.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let dummy = stored.is_none();
        let stored = stored.unwrap_or_else(|| dummy_hash().to_string());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && !dummy
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_now(&crate::auth::secrets::random()).expect("hashing a random password")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify("correct horse batterY".into(), Some(h)).await);
        assert!(!verify("anything".into(), None).await);
        assert!(!verify("anything".into(), Some("not a hash".into())).await);
    }

    #[test]
    fn new_passwords_are_long_enough_and_confirmed() {
        assert!(problem("short", "short").is_some());
        assert!(problem("long enough pw", "long enough pX").is_some());
        assert_eq!(problem("long enough pw", "long enough pw"), None);
    }
}
