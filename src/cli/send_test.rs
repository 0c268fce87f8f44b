//! `crier send-test ITEM --channel NAME --to ADDRESS…`: the real rendered
//! message of one item, marked as a test, to a few addresses, before the
//! real send. Which kinds can (email lists) is the channel's business
//! (`Publisher::send_test`); nothing is recorded in the queue or the lists.

use std::path::Path;
use std::process::ExitCode;

use crate::diagnostics::Severity;

pub fn run(config: &Path, item: &str, channel: &str, to: &[String]) -> ExitCode {
    let (ws, _) = match super::load(config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let Some(c) = ws.channel(channel) else {
        eprintln!("error: no channel `{channel}` in {}", config.display());
        return ExitCode::from(1);
    };
    let Some(it) = ws.item(item) else {
        eprintln!("error: no item `{item}` in the campaigns folder");
        return ExitCode::from(1);
    };
    if !it.channels.iter().any(|n| n == channel) {
        eprintln!("error: item `{item}` is not sent to channel `{channel}`");
        return ExitCode::from(1);
    }
    // The message the real send would carry: the same render, shape and
    // lint, refused on the same errors.
    let mut report = crate::diagnostics::Report::default();
    let variant = ws.render(it, c, &mut report);
    let errors: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let Some(variant) = variant.filter(|_| errors.is_empty()) else {
        for d in &report.diagnostics {
            eprintln!("{d}");
        }
        eprintln!("error: `{item}` does not render for `{channel}`; nothing was sent");
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
        let services = crate::channels::Services::new(
            &ws.config,
            store,
            crate::channels::stopping::Stopping::never(),
        );
        match c.publisher().send_test(&variant, to, &services).await {
            Ok(sent) => {
                println!("{channel}: {}", sent.summary());
                if sent.refused.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("error: {channel}: {e}; nothing was recorded");
                ExitCode::from(1)
            }
        }
    })
}
