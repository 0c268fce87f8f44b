//! Punycode (RFC 3492) encoding, needed only to measure host labels the way
//! twitter-text does: a label whose encoded form exceeds 63 bytes is not a URL.

const BASE: u32 = 36;
const T_MIN: u32 = 1;
const T_MAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;

fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

fn digit(d: u32) -> char {
    // 0..26 -> a..z, 26..36 -> 0..9
    if d < 26 {
        char::from(b'a' + d as u8)
    } else {
        char::from(b'0' + (d - 26) as u8)
    }
}

/// Encodes `input` as Punycode, without the `xn--` prefix.
/// Returns `None` only on arithmetic overflow (absurdly long input).
pub(crate) fn encode(input: &str) -> Option<String> {
    let cps: Vec<u32> = input.chars().map(u32::from).collect();
    let mut out: String = input.chars().filter(char::is_ascii).collect();
    let basic = out.len() as u32;
    if basic > 0 {
        out.push('-');
    }
    let (mut n, mut delta, mut bias, mut handled) = (128u32, 0u32, 72u32, basic);
    while (handled as usize) < cps.len() {
        let m = cps.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in &cps {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(out)
}

/// Length of a DNS label after IDNA's ToASCII step as twitter-text applies it:
/// ASCII labels are kept as they are, others become `xn--` + Punycode.
pub(crate) fn ascii_label_len(label: &str) -> Option<usize> {
    if label.is_ascii() {
        Some(label.len())
    } else {
        encode(label).map(|e| e.len() + 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_rfc_examples() {
        assert_eq!(encode("bücher").as_deref(), Some("bcher-kva"));
        assert_eq!(encode("München").as_deref(), Some("Mnchen-3ya"));
        // RFC 3492 sample (L): Japanese with Latin
        assert_eq!(
            encode("3年B組金八先生").as_deref(),
            Some("3B-ww4c5e180e575a65lsy2b")
        );
    }

    #[test]
    fn label_lengths() {
        assert_eq!(ascii_label_len("example"), Some(7));
        assert_eq!(ascii_label_len("bücher"), Some(13));
    }
}
