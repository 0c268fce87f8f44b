//! The random values sign-in hands out — session ids, API tokens, one-time
//! links — each 256 bits from the operating system's generator, written
//! base64url. Only their SHA-256 is stored (`store::people::digest`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use crate::access::TokenKind;

/// 32 random bytes, base64url without padding (43 characters).
pub fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API token: `crier_<kind>_<random>`, the kind visible in the prefix
/// (as GOV.UK Notify's keys show theirs) so a live one pasted where a test
/// one belongs is seen at a glance, and secret scanners can match it.
pub fn api_token(kind: TokenKind) -> String {
    format!("crier_{}_{}", kind.as_str(), random())
}

/// Whether `s` could be one of [`random`]'s values: checked before any
/// lookup so junk never reaches the store.
pub fn looks_random(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_show_their_kind_and_are_never_equal() {
        let a = api_token(TokenKind::Live);
        let b = api_token(TokenKind::Live);
        assert!(
            a.starts_with("crier_live_") && a.len() == "crier_live_".len() + 43,
            "{a}"
        );
        assert_ne!(a, b);
        assert!(api_token(TokenKind::Test).starts_with("crier_test_"));
        assert!(looks_random(&random()));
        assert!(!looks_random("../etc/passwd"));
    }
}
