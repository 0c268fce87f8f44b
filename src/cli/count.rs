//! `crier count`: a text's length as one network counts it.

use std::process::ExitCode;

/// The networks `--network` takes: those `crier-text` counts for.
pub fn networks() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(crier_text::NETWORKS)
}

pub fn run(network: &str, limit: Option<usize>, json: bool, text: &str) -> ExitCode {
    let counter =
        crier_text::counter_for(network, limit).expect("every value --network takes has a counter");
    let count = counter.measure(text);
    if json {
        println!(
            "{}",
            serde_json::to_string(&count).expect("JSON of plain data")
        );
    } else {
        // a network's other limits (Bluesky's bytes), named when they are the problem
        let over: Vec<String> = counter
            .measures(text)
            .iter()
            .skip(1)
            .filter(|m| !m.fits())
            .map(|m| format!("{} {} of {}", m.length, m.unit, m.limit))
            .collect();
        let verdict = match (count.valid, over.is_empty()) {
            (true, _) => "fits".to_string(),
            (false, true) => "too long".to_string(),
            (false, false) => format!("too long: {}", over.join(", ")),
        };
        println!(
            "{} {} of {} ({verdict})",
            count.length,
            counter.unit(),
            count.limit,
        );
    }
    ExitCode::SUCCESS
}
