//! `crier send-test ITEM --channel NAME --to ADDRESS…`: the real rendered
//! message of one item, marked as a test, to a few addresses, before the
//! real send. Which kinds can (email lists) is the channel's business
//! (`Publisher::send_test`); nothing is recorded in the queue or the lists.

use std::path::Path;
use std::process::ExitCode;

use crate::api::send_test::{send_test, Refused};

pub fn run(config: &Path, item: &str, channel: &str, to: &[String]) -> ExitCode {
    let (ws, _) = match super::load(config) {
        Ok(x) => x,
        Err(code) => return code,
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
        match send_test(&ws, item, channel, to, &services).await {
            Ok(sent) => {
                println!("{channel}: {}", sent.summary());
                if sent.refused.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(Refused::Unknown(why)) => {
                eprintln!("error: {why}");
                ExitCode::from(1)
            }
            Err(Refused::Render(errors)) => {
                for d in &errors {
                    eprintln!("{d}");
                }
                eprintln!("error: `{item}` does not render for `{channel}`; nothing was sent");
                ExitCode::from(1)
            }
            Err(Refused::Send(why)) => {
                eprintln!("error: {channel}: {why}; nothing was recorded");
                ExitCode::from(1)
            }
        }
    })
}
