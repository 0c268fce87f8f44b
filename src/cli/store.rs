//! `crier store copy --to URL`: moves the queue from the SQLite file in
//! `data_dir` into a new PostgreSQL database (docs/deploy.md says when and
//! how). The daemon should be stopped first: what it does after the copy's
//! moment stays in the file.

use std::path::Path;
use std::process::ExitCode;

use crate::diagnostics::Report;
use crate::store::postgres::{redact, PgStore};
use crate::store::sqlite::SqliteStore;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Copy the queue (deliveries, history, subscribers, consent,
    /// recipients, posted parts, people, sessions) from the SQLite file to a
    /// new, empty PostgreSQL database, checked by counts and SHA-256.
    Copy {
        /// postgres://user@host/database (a password here is seen by anyone
        /// who can list processes: use PGPASSWORD).
        #[arg(long)]
        to: String,
    },
}

pub fn run(config: &Path, command: Command) -> ExitCode {
    let Command::Copy { to } = command;
    let mut report = Report::default();
    let Some(cfg) = crate::config::Config::load(config, &mut report) else {
        report.diagnostics.iter().for_each(|d| eprintln!("{d}"));
        return ExitCode::from(1);
    };
    let file = cfg.data_dir().join("crier.db");
    if !file.exists() {
        eprintln!(
            "error: there is no queue to copy: {} does not exist",
            file.display()
        );
        return ExitCode::from(1);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(async move {
        match copy(&file, &to).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

async fn copy(file: &Path, to: &str) -> Result<(), crate::store::StoreError> {
    let from = SqliteStore::open(file).await?;
    let target = PgStore::connect(to).await?;
    let copied = crate::store::copy::copy(&from, &target).await?;
    println!(
        "{:<16} {:>10}  SHA-256 (the same on both sides)",
        "table", "rows"
    );
    for c in &copied {
        println!("{:<16} {:>10}  {}", c.table, c.rows, c.checksum);
    }
    println!(
        "copied {} into {}; set [store] url (or CRIER_STORE_URL) to it and start crier",
        file.display(),
        redact(to)
    );
    Ok(())
}
