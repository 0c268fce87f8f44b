//! `crier channels`: list the configured channels, or test one's
//! credentials and limits without posting anything.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::channels::{PublishError, Services};

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
    let publisher = channel.publisher();
    if let Some(missing) = channel.secrets().into_iter().find(|s| !s.is_set()) {
        eprintln!(
            "`{}` is not set: the channel has no credentials here",
            missing.0
        );
        return ExitCode::from(1);
    }
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
        let data_dir = ws.config.data_dir();
        let services = services(&ws.config, store);
        // What the network says about itself (limits) is saved for `check`
        // and `preview`; a network that cannot be asked changes nothing.
        let learned = match publisher.learn(&services).await {
            Ok(Some(facts)) => {
                let now = services.clock.now();
                match crate::channels::learned::record(&data_dir, channel, facts, now) {
                    Ok((path, _)) => Some(format!(
                        "{name}: saved its limits to {}; `crier check` and `preview` count with them",
                        path.display()
                    )),
                    Err(e) => Some(format!("{name}: cannot save its limits: {e}")),
                }
            }
            Ok(None) => None,
            Err(e) => Some(format!("{name}: could not read its limits: {e}")),
        };
        let code = match publisher.check(&services).await {
            Ok(found) => {
                println!("{name}: ok — {found}");
                ExitCode::SUCCESS
            }
            Err(PublishError::Credentials { message: m, .. }) => {
                eprintln!("{name}: credentials refused: {m}");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                ExitCode::from(1)
            }
        };
        if let Some(line) = learned {
            println!("{line}");
        }
        code
    })
}

/// What a channel gets to talk to its network from the command line: the
/// daemon's services, with a stop signal that never fires.
pub(super) fn services(
    config: &crate::config::Config,
    store: Arc<dyn crate::store::ChannelStore>,
) -> Services {
    let data_dir = config.data_dir();
    Services {
        http: crate::channels::http::client(),
        publish_dir: data_dir.join("public"),
        public_url: config.daemon.public_url.trim_end_matches('/').to_string(),
        store,
        clock: Arc::new(crier_schedule::SystemClock),
        credentials: crate::credentials::Credentials::new(&data_dir),
        campaigns_dir: config.campaigns_dir(),
        stopping: crate::channels::stopping::Stopping::never(),
    }
}
