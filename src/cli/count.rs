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
        println!(
            "{} {} of {} ({})",
            count.length,
            counter.unit(),
            count.limit,
            if count.valid { "fits" } else { "too long" }
        );
    }
    ExitCode::SUCCESS
}
