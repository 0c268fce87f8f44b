//! `crier count`: a text's length as one network counts it.

use std::process::ExitCode;

use clap::ValueEnum;

#[derive(Clone, Copy, ValueEnum)]
pub enum Network {
    X,
    Mastodon,
    Bluesky,
    Linkedin,
}

impl Network {
    fn name(self) -> &'static str {
        match self {
            Network::X => "x",
            Network::Mastodon => "mastodon",
            Network::Bluesky => "bluesky",
            Network::Linkedin => "linkedin",
        }
    }
}

pub fn run(network: Network, limit: Option<usize>, json: bool, text: &str) -> ExitCode {
    let counter =
        crier_text::counter_for(network.name(), limit).expect("every Network value has a counter");
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
