//! Counters the dispatcher keeps in memory, exposed at `/metrics` in the
//! Prometheus text format with the store's per-state counts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::delivery::State;

/// Upper bounds (seconds) of the lateness histogram's buckets.
const LATENESS_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0, 3600.0];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// (channel, outcome) → count
    outcomes: BTreeMap<(String, &'static str), u64>,
    retries: BTreeMap<String, u64>,
    lateness_counts: [u64; LATENESS_BUCKETS.len()],
    lateness_sum: f64,
    lateness_total: u64,
}

impl Metrics {
    pub fn outcome(&self, channel: &str, outcome: &'static str) {
        let mut m = self.inner.lock().expect("metrics lock");
        *m.outcomes
            .entry((channel.to_string(), outcome))
            .or_default() += 1;
        if outcome == "retry" {
            *m.retries.entry(channel.to_string()).or_default() += 1;
        }
    }

    /// How late a delivery was sent, measured from its due time.
    pub fn lateness(&self, seconds: f64) {
        let seconds = seconds.max(0.0);
        let mut m = self.inner.lock().expect("metrics lock");
        for (i, bound) in LATENESS_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                m.lateness_counts[i] += 1;
            }
        }
        m.lateness_sum += seconds;
        m.lateness_total += 1;
    }

    /// Per-recipient outcomes of fan-out deliveries (email) by channel
    /// and state: a long send's progress.
    pub fn render_recipients(counts: &[(String, String, u64)]) -> String {
        let mut out = String::from(
            "# HELP crier_recipients Recipients of fan-out deliveries by channel and outcome.\n\
             # TYPE crier_recipients gauge\n",
        );
        for (channel, state, n) in counts {
            let _ = writeln!(
                out,
                "crier_recipients{{channel=\"{}\",state=\"{}\"}} {n}",
                label(channel),
                label(state)
            );
        }
        out
    }

    /// The exposition text, with the store's counts by (channel, state).
    pub fn render(
        &self,
        counts: &[(String, State, u64)],
        channel_notes: &[(String, String)],
    ) -> String {
        let m = self.inner.lock().expect("metrics lock");
        let mut out = String::new();
        out.push_str("# HELP crier_deliveries Deliveries in the store by channel and state.\n");
        out.push_str("# TYPE crier_deliveries gauge\n");
        for (channel, state, n) in counts {
            let _ = writeln!(
                out,
                "crier_deliveries{{channel=\"{}\",state=\"{}\"}} {n}",
                label(channel),
                state.as_str()
            );
        }
        out.push_str("# HELP crier_send_outcomes_total Send attempts by channel and outcome.\n");
        out.push_str("# TYPE crier_send_outcomes_total counter\n");
        for ((channel, outcome), n) in &m.outcomes {
            let _ = writeln!(
                out,
                "crier_send_outcomes_total{{channel=\"{}\",outcome=\"{outcome}\"}} {n}",
                label(channel)
            );
        }
        out.push_str("# HELP crier_retries_total Retries scheduled by channel.\n");
        out.push_str("# TYPE crier_retries_total counter\n");
        for (channel, n) in &m.retries {
            let _ = writeln!(
                out,
                "crier_retries_total{{channel=\"{}\"}} {n}",
                label(channel)
            );
        }
        out.push_str("# HELP crier_dispatch_lateness_seconds Time from due to sent.\n");
        out.push_str("# TYPE crier_dispatch_lateness_seconds histogram\n");
        for (i, bound) in LATENESS_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "crier_dispatch_lateness_seconds_bucket{{le=\"{bound}\"}} {}",
                m.lateness_counts[i]
            );
        }
        let _ = writeln!(
            out,
            "crier_dispatch_lateness_seconds_bucket{{le=\"+Inf\"}} {}",
            m.lateness_total
        );
        let _ = writeln!(
            out,
            "crier_dispatch_lateness_seconds_sum {}",
            m.lateness_sum
        );
        let _ = writeln!(
            out,
            "crier_dispatch_lateness_seconds_count {}",
            m.lateness_total
        );
        out.push_str("# HELP crier_channel_attention Channels that need a human (1 = yes).\n");
        out.push_str("# TYPE crier_channel_attention gauge\n");
        for (channel, _) in channel_notes {
            let _ = writeln!(
                out,
                "crier_channel_attention{{channel=\"{}\"}} 1",
                label(channel)
            );
        }
        out
    }
}

/// Label values escape backslash, quote and newline.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
