//! What a channel learned from its network about itself (an instance's
//! limits, say), kept in the data folder: `<data_dir>/learned/<channel>.json`.
//!
//! The daemon (at start) and `crier channels test` ask each publisher
//! ([`super::Publisher::learn`]) and save the answer here; `check`, `preview`
//! and planning read it back ([`super::Channel::adopt`]) so they count as the
//! network does without asking it on every run. Where nothing was saved
//! (another machine, CI), channels fall back to their configured limits.
//! The facts are the channel's own JSON: core code never reads inside.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Learned {
    /// The channel kind that wrote it: a channel renamed onto another
    /// kind's name must not read a stranger's facts.
    pub kind: String,
    pub fetched_at: DateTime<Utc>,
    pub facts: serde_json::Value,
}

fn path(data_dir: &Path, channel: &str) -> PathBuf {
    data_dir.join("learned").join(format!("{channel}.json"))
}

/// The saved facts, if any. An unreadable file is an error to report (and
/// the channel then uses its configured limits), never a reason to stop.
pub fn load(data_dir: &Path, channel: &str) -> Result<Option<Learned>, String> {
    let path = path(data_dir, channel);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{} is not readable ({e}); ignoring it", path.display()))
}

/// Saves atomically (a reader sees the old file or the new one), and
/// returns where.
pub fn save(data_dir: &Path, channel: &str, learned: &Learned) -> std::io::Result<PathBuf> {
    let target = path(data_dir, channel);
    let dir = target.parent().expect("a file under learned/");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{channel}.json.tmp"));
    let json = serde_json::to_string_pretty(learned).expect("JSON of plain data");
    std::fs::write(&tmp, json + "\n")?;
    std::fs::rename(&tmp, &target)?;
    Ok(target)
}

/// Saves what `channel`'s network just said about itself (from
/// [`super::Publisher::learn`]); returns where, and whether it differs
/// from what was saved before (then shaping must be redone).
pub fn record(
    data_dir: &Path,
    channel: &super::Configured,
    facts: serde_json::Value,
    now: DateTime<Utc>,
) -> std::io::Result<(PathBuf, bool)> {
    let before = load(data_dir, channel.name()).ok().flatten();
    let learned = Learned {
        kind: channel.kind().to_string(),
        fetched_at: now,
        facts,
    };
    let path = save(data_dir, channel.name(), &learned)?;
    let changed = before.is_none_or(|b| b.facts != learned.facts || b.kind != learned.kind);
    Ok((path, changed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn saved_facts_load_back_and_a_broken_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path(), "toots").unwrap(), None);
        let learned = Learned {
            kind: "mastodon".into(),
            fetched_at: Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap(),
            facts: serde_json::json!({"max_characters": 1000}),
        };
        let at = save(dir.path(), "toots", &learned).unwrap();
        assert!(at.ends_with("learned/toots.json"));
        assert_eq!(load(dir.path(), "toots").unwrap(), Some(learned));
        std::fs::write(&at, "{not json").unwrap();
        assert!(load(dir.path(), "toots")
            .unwrap_err()
            .contains("toots.json"));
    }
}
