//! Per-channel rate limits: sends to one channel are spaced evenly.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Default)]
pub struct RateGates {
    next_free: Mutex<HashMap<String, Instant>>,
}

impl RateGates {
    /// Waits for this channel's turn; returns at once without a limit.
    pub async fn wait(&self, channel: &str, per_minute: Option<u32>) {
        let Some(per_minute) = per_minute.filter(|n| *n > 0) else {
            return;
        };
        let spacing = Duration::from_secs(60) / per_minute;
        let turn = {
            let mut map = self.next_free.lock().expect("gate lock");
            let now = Instant::now();
            let slot = map
                .get(channel)
                .copied()
                .filter(|t| *t > now)
                .unwrap_or(now);
            map.insert(channel.to_string(), slot + spacing);
            slot
        };
        tokio::time::sleep_until(turn).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sends_to_one_channel_are_spaced() {
        let gates = RateGates::default();
        let start = Instant::now();
        for _ in 0..3 {
            gates.wait("a", Some(60)).await;
        }
        // 60/min: the third send goes at +2 s (paused clock: exact).
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        gates.wait("b", Some(60)).await;
        assert_eq!(
            Instant::now() - start,
            Duration::from_secs(2),
            "another channel does not wait"
        );
        gates.wait("c", None).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
    }
}
