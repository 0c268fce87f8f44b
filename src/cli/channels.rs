//! `crier channels`: list the configured channels, or test one's
//! credentials and limits without posting anything.

use std::path::Path;
use std::process::ExitCode;

use crate::api::ops;
use crate::channels::Services;

pub fn list(config: &Path) -> ExitCode {
    let (ws, _) = match super::load(config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    for c in &ws.channels {
        let secrets: Vec<String> = c
            .secrets()
            .iter()
            .map(|s| format!("{} ({})", s.0, if s.is_set() { "set" } else { "not set" }))
            .collect();
        // Every kind publishes now; the column stays for whoever reads it.
        println!(
            "{:<22} {:<10} {:<20} {}",
            c.name(),
            c.kind(),
            "publishes",
            secrets.join(", ")
        );
    }
    ExitCode::SUCCESS
}

pub fn test(config: &Path, name: &str) -> ExitCode {
    let (ws, _) = match super::load(config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let Some(channel) = ws.channel(name) else {
        eprintln!("no channel `{name}` in {}", config.display());
        return ExitCode::from(1);
    };
    crate::channels::http::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = match crate::store::open(&ws.config).await {
            Ok(s) => s.channels,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        let services = Services::new(
            &ws.config,
            store,
            crate::channels::stopping::Stopping::never(),
        );
        let outcome = ops::test_channel(channel, &services, &ws.config.data_dir()).await;
        let code = if outcome.ok {
            println!("{name}: ok — {}", outcome.message);
            ExitCode::SUCCESS
        } else {
            eprintln!("{name}: {}", outcome.message);
            ExitCode::from(1)
        };
        if let Some(line) = &outcome.learned {
            println!("{name}: {line}");
        }
        code
    })
}
