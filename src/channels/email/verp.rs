//! VERP: each list message's envelope sender names its (delivery,
//! subscriber), signed, so a bounce that comes back later is attributed
//! without guessing from addresses: `bounces+<token>@<bounce domain>`.
//!
//! The token is lowercase base32 (mail systems may fold the case of a
//! local part) of the delivery id and subscriber id as LEB128 varints,
//! then 80 bits of HMAC-SHA256 over the channel and both ids, with the
//! channel's link key (`links.rs`) and a label of its own, so a link token
//! can never pass as a bounce token or the other way round. The same token
//! goes in the message's `X-Crier-Ref` header: a bounce that lost the
//! envelope (some relays rewrite it) still quotes the original headers.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// The local part before `+`.
pub const LOCAL: &str = "bounces";
/// The header the token is repeated in.
pub const REF_HEADER: &str = "X-Crier-Ref";
const MAC_BYTES: usize = 10;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Who a message was sent to, as its bounce names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub delivery: i64,
    pub subscriber: i64,
}

fn mac(key: &Secret, channel: &str, sent: Sent) -> [u8; MAC_BYTES] {
    let mut m = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("any key length");
    m.update(format!("verp\n{channel}\n{}\n{}", sent.delivery, sent.subscriber).as_bytes());
    let full = m.finalize().into_bytes();
    let mut out = [0u8; MAC_BYTES];
    out.copy_from_slice(&full[..MAC_BYTES]);
    out
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c.to_ascii_lowercase())? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // Only the canonical spelling: unused trailing bits must be zero, or
    // two tokens would decode alike.
    (bits < 5 && acc & ((1 << bits) - 1) == 0).then_some(out)
}

/// The signed token for one message.
pub fn token(key: &Secret, channel: &str, sent: Sent) -> String {
    let mut bytes = Vec::with_capacity(20);
    varint(sent.delivery as u64, &mut bytes);
    varint(sent.subscriber as u64, &mut bytes);
    bytes.extend_from_slice(&mac(key, channel, sent));
    base32(&bytes)
}

/// The envelope sender for one message.
pub fn address(key: &Secret, channel: &str, domain: &str, sent: Sent) -> String {
    format!("{LOCAL}+{}@{domain}", token(key, channel, sent))
}

/// What a genuine token names; `None` for anything forged or damaged.
pub fn decode(key: &Secret, channel: &str, token: &str) -> Option<Sent> {
    let bytes = unbase32(token)?;
    let mut rest = bytes.as_slice();
    let delivery = i64::try_from(read_varint(&mut rest)?).ok()?;
    let subscriber = i64::try_from(read_varint(&mut rest)?).ok()?;
    if rest.len() != MAC_BYTES {
        return None;
    }
    let sent = Sent {
        delivery,
        subscriber,
    };
    let want = mac(key, channel, sent);
    // Constant time: the MAC must not leak byte by byte.
    let diff = rest.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    (diff == 0).then_some(sent)
}

/// The first genuine token in `text` (a header value or a whole bounce):
/// after `bounces+` in an address, or alone as an `X-Crier-Ref` value.
pub fn find(key: &Secret, channel: &str, text: &str) -> Option<Sent> {
    let lower = text.to_ascii_lowercase();
    let plus = format!("{LOCAL}+");
    let after_plus = lower
        .match_indices(&plus)
        .map(|(i, m)| &lower[i + m.len()..]);
    let header = REF_HEADER.to_ascii_lowercase() + ":";
    let after_header = lower
        .match_indices(&header)
        .map(|(i, m)| lower[i + m.len()..].trim_start());
    after_plus.chain(after_header).find_map(|rest| {
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        decode(key, channel, &rest[..end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_message_and_refuse_tampering() {
        let key = Secret::new("k".repeat(64));
        for (d, s) in [(1, 1), (7, 123_456), (i64::MAX, 0), (300, 16_384)] {
            let sent = Sent {
                delivery: d,
                subscriber: s,
            };
            let t = token(&key, "news", sent);
            assert!(t.bytes().all(|b| ALPHABET.contains(&b)), "{t}");
            assert_eq!(decode(&key, "news", &t), Some(sent));
            assert_eq!(decode(&key, "news", &t.to_uppercase()), Some(sent));
            assert_eq!(decode(&key, "other", &t), None);
            assert_eq!(decode(&Secret::new("x".repeat(64)), "news", &t), None);
            // Every single-character change is refused.
            for i in 0..t.len() {
                let mut b = t.clone().into_bytes();
                b[i] = if b[i] == b'a' { b'b' } else { b'a' };
                assert_eq!(decode(&key, "news", std::str::from_utf8(&b).unwrap()), None);
            }
        }
        let sent = Sent {
            delivery: 42,
            subscriber: 9,
        };
        let a = address(&key, "news", "example.org", sent);
        assert!(
            a.starts_with("bounces+") && a.ends_with("@example.org"),
            "{a}"
        );
        assert!(a.len() < 64 + 12, "{a}");
        let bounce = format!("Original-Recipient: x\r\nTo: <{}>\r\n", a.to_uppercase());
        assert_eq!(find(&key, "news", &bounce), Some(sent));
        let header = format!("X-Crier-Ref: {}\r\n", token(&key, "news", sent));
        assert_eq!(find(&key, "news", &header), Some(sent));
        assert_eq!(find(&key, "news", "To: bounces+aaaa@example.org"), None);
    }
}
