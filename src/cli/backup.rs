//! `crier backup FILE`: a consistent copy of the store while the daemon
//! runs (restore: docs/deploy.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::with_store;

pub fn run(config: &Path, to: PathBuf) -> ExitCode {
    with_store(config, |_cfg, store| async move {
        let bytes = store.backup(&to).await?;
        println!(
            "wrote {} ({bytes} bytes): the store as it was a moment ago",
            to.display()
        );
        Ok(ExitCode::SUCCESS)
    })
}
