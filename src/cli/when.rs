//! `crier when`: the next firings of a schedule, before anyone saves it.

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use chrono_tz::Tz;
use crier_schedule::{describe_firings, parse_datetime, Schedule};

use super::Format;
use crate::config::Config;
use crate::diagnostics::Report;

pub fn run(
    config: &Path,
    schedule: &str,
    from: Option<&str>,
    count: usize,
    format: Format,
) -> ExitCode {
    let tz = timezone(config);
    let schedule = match Schedule::parse(schedule, tz) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let after = match from.map(|f| parse_datetime(f, tz)) {
        None => Utc::now(),
        Some(Ok(t)) => t.instant,
        Some(Err(e)) => {
            eprintln!("error: --from: {e}");
            return ExitCode::from(1);
        }
    };
    let firings = match describe_firings(&schedule, after, count, tz) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&firings).expect("JSON of plain data")
        ),
        Format::Text => {
            if firings.is_empty() {
                println!(
                    "no firings after {}",
                    after.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
                );
            }
            for f in firings {
                println!("{}  ({} UTC)", f.local, f.utc.format("%Y-%m-%d %H:%M"));
            }
        }
    }
    ExitCode::SUCCESS
}

/// The organisation's timezone when a readable config is present; `when`
/// is useful without one, in the default timezone.
fn timezone(config: &Path) -> Tz {
    if !config.exists() {
        return crier_schedule::DEFAULT_TZ;
    }
    let mut report = Report::default();
    Config::load(config, &mut report)
        .map_or(crier_schedule::DEFAULT_TZ, |c| c.organisation.timezone)
}
