//! Record keys derived from the delivery, so every attempt writes the same
//! key and the server (putRecord with `swapRecord: null`) refuses a repeat.
//!
//! A TID is 64 bits — a zero bit, 53 bits of microseconds since the Unix
//! epoch, 10 bits of "clock id" — written as 13 characters of base32
//! "sortable" (`234567abcdefghijklmnopqrstuvwxyz`), so keys sort by time.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The key of part `part` of a delivery due at `due`.
///
/// Time: the due second, plus a sub-second offset from the key's hash (so
/// deliveries due at the same second spread over 10,000 slots), plus the
/// part index (so a thread's parts sort in order). Clock id: 10 more bits
/// of the hash. Two deliveries collide only if both the offset and the
/// clock id match; the publisher reads a refused key back and checks the
/// text, so even then nothing is recorded as sent that was not.
pub fn derive(due: DateTime<Utc>, idempotency_key: &str, part: usize) -> String {
    let hash = Sha256::digest(idempotency_key.as_bytes());
    let h = u64::from_be_bytes(hash[..8].try_into().expect("8 bytes"));
    let seconds = due.timestamp().max(0) as u64;
    let micros = seconds * 1_000_000 + (h % 10_000) * 100 + (part as u64).min(99);
    let clock_id = (h >> 40) & 0x3ff;
    encode(((micros & ((1 << 53) - 1)) << 10) | clock_id)
}

fn encode(mut value: u64) -> String {
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    String::from_utf8(out.to_vec()).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn due() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap()
    }

    /// The syntax the PDS checks: 13 characters of the alphabet, the first
    /// from its lower half (the top bit is zero).
    fn valid(tid: &str) -> bool {
        tid.len() == 13
            && tid.bytes().all(|c| ALPHABET.contains(&c))
            && b"234567abcdefghij".contains(&tid.as_bytes()[0])
    }

    #[test]
    fn encodes_like_the_reference_examples() {
        assert_eq!(encode(0), "2222222222222");
        assert_eq!(encode(31), "222222222222z");
        assert_eq!(encode(32), "2222222222232");
        // The first character holds the top 4 bits; the top bit is zero.
        assert_eq!(encode(u64::MAX >> 1), "bzzzzzzzzzzzz");
    }

    #[test]
    fn the_same_delivery_always_gets_the_same_keys() {
        let a = derive(due(), "crier-abc", 0);
        assert_eq!(a, derive(due(), "crier-abc", 0));
        assert!(valid(&a), "{a}");
        assert_ne!(a, derive(due(), "crier-abd", 0));
    }

    #[test]
    fn thread_parts_get_distinct_keys_in_order() {
        let keys: Vec<String> = (0..5).map(|i| derive(due(), "crier-abc", i)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        sorted.dedup();
        assert_eq!(sorted.len(), 5);
    }

    #[test]
    fn keys_sort_by_due_time_and_stay_in_the_due_second() {
        let later = derive(due() + chrono::TimeDelta::seconds(1), "crier-zzz", 0);
        assert!(derive(due(), "crier-abc", 3) < later);
    }

    #[test]
    fn many_deliveries_due_at_once_do_not_collide() {
        let keys: std::collections::HashSet<String> = (0..500)
            .map(|i| derive(due(), &format!("crier-{i}"), 0))
            .collect();
        assert_eq!(keys.len(), 500);
    }
}
