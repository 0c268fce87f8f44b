//! `crier users add|list|remove|reset`: the people who may sign in. A new
//! account and a reset each print a one-time link to set a password; the
//! administrator passes it on (crier sends no email about accounts).

use std::process::ExitCode;

use clap::Subcommand;

use super::Format;
use crate::access::Role;
use crate::auth::links;
use crate::store::people::{fold_email, People};
use crate::store::StoreError;

#[derive(Subcommand)]
pub enum Command {
    /// Add a person; prints a one-time link (7 days) to set their password.
    Add {
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List people and their roles.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Remove a person; their sessions end at once.
    Remove { email: String },
    /// Print a one-time link (1 day) to set a new password.
    Reset { email: String },
}

pub fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        let all: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role `{s}` (one of: {})", all.join(", "))
    })
}

fn valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None)
        if !l.is_empty() && d.contains('.') && !email.contains(char::is_whitespace))
}

pub fn run(config: &std::path::Path, command: Command) -> ExitCode {
    super::with_opened(config, |cfg, opened| async move {
        let people = opened.people.as_ref();
        let public_url = cfg.daemon.public_url.clone();
        let now = chrono::Utc::now();
        match command {
            Command::Add { email, role } => {
                let email = fold_email(&email);
                if !valid_email(&email) {
                    anyhow::bail!("`{email}` is not an email address");
                }
                people.add_account(&email, role, now).await?;
                let link =
                    links::set_password(people, &email, &public_url, links::NEW_ACCOUNT_VALID, now)
                        .await?;
                eprintln!("Added {email} ({role}). Send them this link to set a password; it works once, for 7 days:");
                println!("{link}");
            }
            Command::List { format } => list(people, format).await?,
            Command::Remove { email } => {
                if !people.remove_account(&email).await? {
                    anyhow::bail!("no account for {}", fold_email(&email));
                }
                eprintln!("Removed {}; their sessions have ended.", fold_email(&email));
            }
            Command::Reset { email } => {
                let Some(account) = people.account(&email).await? else {
                    anyhow::bail!("no account for {}", fold_email(&email));
                };
                let link = links::set_password(
                    people,
                    &account.email,
                    &public_url,
                    links::RESET_VALID,
                    now,
                )
                .await?;
                eprintln!(
                    "Send {} this link to set a new password; it works once, for a day:",
                    account.email
                );
                println!("{link}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn list(people: &dyn People, format: Format) -> Result<(), StoreError> {
    let accounts = people.accounts().await?;
    if format == Format::Json {
        let rows: Vec<_> = accounts
            .iter()
            .map(|a| {
                serde_json::json!({
                    "email": a.email, "role": a.role, "password": a.password_hash.is_some(),
                    "totp": a.totp_secret.is_some(), "disabled": a.disabled,
                    "created_at": a.created_at,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if accounts.is_empty() {
        eprintln!("No accounts yet: `crier users add EMAIL --role admin`, or the setup link `crier serve` prints.");
        return Ok(());
    }
    println!(
        "{:<40} {:<10} {:<9} {:<5} CREATED",
        "EMAIL", "ROLE", "PASSWORD", "TOTP"
    );
    for a in &accounts {
        let yes = |b: bool| if b { "yes" } else { "no" };
        println!(
            "{:<40} {:<10} {:<9} {:<5} {}",
            a.email,
            a.role.as_str(),
            yes(a.password_hash.is_some()),
            yes(a.totp_secret.is_some()),
            a.created_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    Ok(())
}
