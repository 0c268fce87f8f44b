//! The `crier` command line. Each subcommand lives in its own file and
//! returns the process exit status.

mod backup;
mod channels;
mod check;
mod control;
mod count;
mod init;
mod preview;
mod queue;
mod send_test;
mod serve;
mod store;
mod tokens;
mod users;
mod when;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

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
    /// Run the daemon: plan, schedule and publish; serve feeds, /healthz, /metrics.
    Serve {
        #[arg(long, value_enum, default_value_t)]
        log_format: serve::LogFormat,
    },
    /// List channels, or `channels test NAME` to check credentials without posting.
    Channels {
        #[command(subcommand)]
        test: Option<ChannelsTest>,
    },
    /// List deliveries, or `queue show ID` for one delivery's history.
    Queue {
        #[command(subcommand)]
        show: Option<QueueShow>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        item: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Cancel deliveries that have not been sent.
    Cancel {
        ids: Vec<i64>,
        #[arg(long, conflicts_with = "ids")]
        item: Option<String>,
    },
    /// Send failed or held deliveries again, now.
    Retry {
        ids: Vec<i64>,
        #[arg(long, conflicts_with = "ids")]
        item: Option<String>,
    },
    /// Approve deliveries that need approval.
    Approve {
        ids: Vec<i64>,
        #[arg(long, conflicts_with = "ids")]
        item: Option<String>,
    },
    /// Hold everything (or one channel) at once: the emergency brake.
    Pause {
        #[arg(long)]
        channel: Option<String>,
    },
    /// Lift a pause; asks what to do with deliveries whose time passed.
    Resume {
        #[arg(long)]
        channel: Option<String>,
        /// Decide for every overdue delivery at once instead of asking.
        #[arg(long, value_enum)]
        all: Option<control::Overdue>,
    },
    /// People who may sign in: add, list, remove, reset (a set-password link).
    Users {
        #[command(subcommand)]
        command: users::Command,
    },
    /// The store: copy the SQLite queue into PostgreSQL.
    Store {
        #[command(subcommand)]
        command: store::Command,
    },
    /// API tokens for systems: create (shown once), list, revoke.
    Tokens {
        #[command(subcommand)]
        command: tokens::Command,
    },
    /// Make a new organisation's workspace in DIR: config, templates, examples.
    Init(init::Args),
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
    /// Send one item's real message, subject marked [TEST], to a few
    /// addresses through the channel's real settings; records nothing.
    SendTest {
        item: String,
        #[arg(long)]
        channel: String,
        /// Up to 10 addresses (repeat --to, or separate with commas).
        #[arg(long, required = true, value_delimiter = ',')]
        to: Vec<String>,
    },
    /// Count a text the way a network counts it.
    Count {
        #[arg(long, value_parser = count::networks())]
        network: String,
        /// Override the network's limit (Mastodon instances differ).
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long)]
        json: bool,
        text: String,
    },
    /// Copy the store, consistent as of one moment, to a new FILE; works
    /// while the daemon runs.
    Backup { file: PathBuf },
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

#[derive(Subcommand)]
enum ChannelsTest {
    /// Check one channel's credentials and limits; posts nothing.
    Test { name: String },
}

#[derive(Subcommand)]
enum QueueShow {
    /// One delivery: its state, variant and full history; with --follow,
    /// its progress until it is done (a bar on a terminal, lines otherwise).
    Show {
        id: i64,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Watch the delivery (an email send's recipients) until it is sent,
        /// failed, held or cancelled; exits 0 only if it was sent.
        #[arg(long, conflicts_with = "format")]
        follow: bool,
        /// Seconds between looks at the queue while following.
        #[arg(long, default_value_t = 1.0, requires = "follow")]
        every: f64,
    },
}

fn target(ids: Vec<i64>, item: Option<String>) -> Option<control::Target> {
    match (ids.is_empty(), item) {
        (_, Some(i)) => Some(control::Target::Item(i)),
        (false, None) => Some(control::Target::Ids(ids)),
        (true, None) => {
            eprintln!("error: give delivery ids or --item ITEM");
            None
        }
    }
}

/// `crier`'s parser: its own subcommands, then those channel kinds add.
fn parser() -> clap::Command {
    crate::channels::registry::commands()
        .into_iter()
        .fold(Cli::command(), clap::Command::subcommand)
}

pub fn main() -> ExitCode {
    let matches = parser().get_matches();
    if let Some((name, sub)) = matches.subcommand() {
        if let Some(kind) = crate::channels::registry::command_of(name) {
            quiet_on_closed_pipe();
            let config: &PathBuf = matches.get_one("config").expect("--config has a default");
            return with_channel_store(config, |cfg, store| kind.hooks.run(sub, cfg, store));
        }
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if !matches!(cli.command, Command::Serve { .. }) {
        quiet_on_closed_pipe();
    }
    let config = cli.config.as_path();
    match cli.command {
        Command::Serve { log_format } => serve::run(config, log_format),
        Command::Channels { test: None } => channels::list(config),
        Command::Channels {
            test: Some(ChannelsTest::Test { name }),
        } => channels::test(config, &name),
        Command::Queue {
            show:
                Some(QueueShow::Show {
                    id,
                    follow: true,
                    every,
                    ..
                }),
            ..
        } => {
            if !(0.05..=3600.0).contains(&every) {
                eprintln!("error: --every takes seconds between 0.05 and 3600");
                return ExitCode::from(2);
            }
            queue::follow(config, id, std::time::Duration::from_secs_f64(every))
        }
        Command::Queue {
            show: Some(QueueShow::Show { id, format, .. }),
            ..
        } => queue::show(config, id, format),
        Command::Queue {
            show: None,
            state,
            channel,
            item,
            format,
        } => {
            let state = match state
                .as_deref()
                .map(|s| (s, crate::delivery::State::parse(s)))
            {
                None => None,
                Some((_, Some(s))) => Some(s),
                Some((s, None)) => {
                    let all: Vec<_> = crate::delivery::State::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect();
                    eprintln!("error: unknown state `{s}` (one of: {})", all.join(", "));
                    return ExitCode::from(2);
                }
            };
            let filter = crate::store::QueueFilter {
                state,
                channel,
                item,
                ..Default::default()
            };
            queue::list(config, filter, format)
        }
        Command::Cancel { ids, item } => {
            target(ids, item).map_or(ExitCode::from(2), |t| control::cancel(config, t))
        }
        Command::Retry { ids, item } => {
            target(ids, item).map_or(ExitCode::from(2), |t| control::retry(config, t))
        }
        Command::Approve { ids, item } => {
            target(ids, item).map_or(ExitCode::from(2), |t| control::approve(config, t))
        }
        Command::Pause { channel } => control::pause(config, channel),
        Command::Resume { channel, all } => control::resume(config, channel, all),
        Command::Users { command } => users::run(config, command),
        Command::Tokens { command } => tokens::run(config, command),
        Command::Store { command } => store::run(config, command),
        Command::Init(args) => init::run(args),
        Command::Backup { file } => backup::run(config, file),
        Command::Check { strict, format } => check::run(&cli.config, strict, format),
        Command::Preview {
            item,
            channel,
            format,
        } => preview::run(&cli.config, &item, channel.as_deref(), format),
        Command::SendTest { item, channel, to } => {
            send_test::run(&cli.config, &item, &channel, &to)
        }
        Command::Count {
            network,
            limit,
            json,
            text,
        } => count::run(&network, limit, json, &text),
        Command::When {
            schedule,
            from,
            count,
            format,
        } => when::run(&cli.config, &schedule, from.as_deref(), count, format),
    }
}

/// A short command whose reader went away (`crier … | head -1`) ends
/// quietly, killed by SIGPIPE as Unix tools are, instead of panicking in
/// `println!`. Rust ignores SIGPIPE; the daemon keeps it ignored, so a
/// peer closing a socket is an error it handles, never its end.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called once at start, before any thread is spawned; restores
    // the default disposition, which every process starts with.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Runs a store command: reads only the configuration (content may be
/// mid-edit), opens the store, and wakes a running daemon afterwards.
fn with_store<F, Fut>(config: &std::path::Path, f: F) -> ExitCode
where
    F: FnOnce(crate::config::Config, std::sync::Arc<dyn crate::store::Store>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    with_opened(config, |cfg, opened| f(cfg, opened.queue))
}

/// [`with_store`] for a command a channel kind adds: it sees the store as
/// channels do.
fn with_channel_store<F, Fut>(config: &std::path::Path, f: F) -> ExitCode
where
    F: FnOnce(crate::config::Config, std::sync::Arc<dyn crate::store::ChannelStore>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    with_opened(config, |cfg, opened| f(cfg, opened.channels))
}

fn with_opened<F, Fut>(config: &std::path::Path, f: F) -> ExitCode
where
    F: FnOnce(crate::config::Config, crate::store::Opened) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let mut report = Report::default();
    let Some(cfg) = crate::config::Config::load(config, &mut report) else {
        for d in &report.diagnostics {
            eprintln!("{d}");
        }
        return ExitCode::from(1);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(async move {
        let listen = cfg.daemon.listen;
        let store = match crate::store::open(&cfg).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        let code = match f(cfg, store).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        };
        wake_daemon(listen).await;
        code
    })
}

/// Tells a running daemon the queue changed; quietly nothing if none runs.
/// The answer is read before hanging up: a server may drop a request whose
/// client closes its side first.
async fn wake_daemon(listen: std::net::SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(listen).await?;
        s.write_all(
            b"POST /wake HTTP/1.1\r\nHost: crier\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), attempt).await;
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

#[cfg(test)]
mod tests {
    use super::parser;
    use crate::channels::registry;

    /// The subcommands kinds add are in `crier`'s parser and help, parse
    /// with their own syntax, and are found again to run.
    #[test]
    fn kinds_add_their_subcommands() {
        parser().debug_assert();
        let help = parser().render_help().to_string();
        assert!(help.contains("subscribers"), "{help}");
        let matches = parser()
            .try_get_matches_from(["crier", "subscribers", "import", "a.csv", "--topics", "x,y"])
            .unwrap();
        let (name, sub) = matches.subcommand().unwrap();
        assert!(registry::command_of(name).is_some());
        assert_eq!(sub.subcommand_name(), Some("import"));
        assert!(parser()
            .try_get_matches_from(["crier", "subscribers", "unknown"])
            .is_err());
        // No kind's command shadows one of crier's own.
        let own = <super::Cli as clap::CommandFactory>::command();
        for added in registry::commands() {
            assert!(own.find_subcommand(added.get_name()).is_none());
        }
    }
}
