//! `crier serve`: run the daemon in the foreground (systemd runs it so).

use std::path::Path;
use std::process::ExitCode;

use clap::ValueEnum;

#[derive(Clone, Copy, Default, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn run(config: &Path, log_format: LogFormat) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CRIER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(crate::daemon::serve(config));
    // Dropping a runtime waits for its blocking tasks (file writes, DNS
    // lookups) without limit; the stop must stay under systemd's timeout.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
