//! The `crier` command line. Each subcommand lives in its own file and
//! returns the process exit status.

mod check;
mod count;
mod preview;
mod when;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostics::Report;
use crate::workspace::Workspace;

#[derive(Parser)]
#[command(
    name = "crier",
    version,
    about = "Schedules and publishes an organisation's communications to every channel"
)]
struct Cli {
    /// The configuration file; content and templates are found beside it.
    #[arg(long, global = true, env = "CRIER_CONFIG", default_value = crate::config::DEFAULT_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Validate configuration, templates and content; render every variant.
    Check {
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show what each channel would send for one item.
    Preview {
        item: String,
        #[arg(long)]
        channel: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Count a text the way a network counts it.
    Count {
        #[arg(long, value_enum)]
        network: count::Network,
        /// Override the network's limit (Mastodon instances differ).
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long)]
        json: bool,
        text: String,
    },
    /// List the next times a schedule fires, in local time and UTC.
    When {
        /// e.g. "0 10 * * MON from 2026-12-07 until 2027-02-01" or "2026-12-03 10:00"
        schedule: String,
        /// Start after this time (local unless it has an offset); default now.
        #[arg(long)]
        from: Option<String>,
        #[arg(long, default_value_t = 10)]
        count: usize,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { strict, format } => check::run(&cli.config, strict, format),
        Command::Preview {
            item,
            channel,
            format,
        } => preview::run(&cli.config, &item, channel.as_deref(), format),
        Command::Count {
            network,
            limit,
            json,
            text,
        } => count::run(network, limit, json, &text),
        Command::When {
            schedule,
            from,
            count,
            format,
        } => when::run(&cli.config, &schedule, from.as_deref(), count, format),
    }
}

/// Loads the workspace; on a fatal problem prints it and gives the exit code.
fn load(config: &std::path::Path) -> Result<(Workspace, Report), ExitCode> {
    let mut report = Report::default();
    match Workspace::load(config, &mut report) {
        Some(ws) => Ok((ws, report)),
        None => {
            for d in &report.diagnostics {
                eprintln!("{d}");
            }
            Err(ExitCode::from(1))
        }
    }
}
