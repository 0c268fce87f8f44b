//! When to try again after a retryable failure.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with ±20 % jitter (so channels that failed
/// together do not retry together). When the network said how long to
/// wait (Retry-After), that is what we wait.
pub fn delay(attempt: u32, base: Duration, max: Duration, asked: Option<Duration>) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(max);
    let jitter = rand::rng().random_range(0.8..1.2);
    let backoff = exp.mul_f64(jitter).min(max);
    // A far-future Retry-After must not park a post for days.
    asked.map_or(backoff, |a| a.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_within_jitter_and_caps() {
        let base = Duration::from_secs(30);
        let max = Duration::from_secs(3600);
        for attempt in 1..=3u32 {
            let d = delay(attempt, base, max, None).as_secs_f64();
            let expected = 30.0 * f64::from(1u32 << (attempt - 1));
            assert!(
                d >= expected * 0.8 && d <= expected * 1.2,
                "attempt {attempt}: {d}"
            );
        }
        assert!(delay(30, base, max, None) <= max);
    }

    #[test]
    fn the_network_s_wait_is_honoured_exactly() {
        let d = delay(
            5,
            Duration::from_secs(30),
            Duration::from_secs(3600),
            Some(Duration::from_secs(2)),
        );
        assert_eq!(d, Duration::from_secs(2));
    }
}
