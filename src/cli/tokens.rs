//! `crier tokens create|list|revoke`: API tokens for systems. A token is
//! printed once, at creation; the store keeps only its hash.

use std::process::ExitCode;

use chrono::TimeDelta;
use clap::Subcommand;

use super::users::parse_role;
use super::Format;
use crate::access::{Role, TokenKind};
use crate::auth::secrets;
use crate::store::people::{digest, NewToken, People};
use crate::store::StoreError;

#[derive(Subcommand)]
pub enum Command {
    /// Create a token; it is printed once, never again.
    Create {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// `test` reads, checks and previews everything and changes nothing.
        #[arg(long, value_parser = parse_kind, default_value = "live")]
        kind: TokenKind,
        /// Days until it stops working (default: until revoked).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires: Option<u32>,
    },
    /// List tokens with their last use (never the tokens themselves).
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Revoke a token: it stops working at once.
    Revoke { name: String },
}

fn parse_kind(s: &str) -> Result<TokenKind, String> {
    TokenKind::parse(s).ok_or_else(|| format!("unknown kind `{s}` (test or live)"))
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub fn run(config: &std::path::Path, command: Command) -> ExitCode {
    super::with_opened(config, |_, opened| async move {
        let people = opened.people.as_ref();
        let now = chrono::Utc::now();
        match command {
            Command::Create {
                name,
                role,
                kind,
                expires,
            } => {
                if !valid_name(&name) {
                    anyhow::bail!("token name `{name}` may use only letters, digits, '-', '_' and '.' (at most 64)");
                }
                let token = secrets::api_token(kind);
                let new = NewToken {
                    name: name.clone(),
                    role,
                    kind,
                    hash: digest(&token),
                    expires_at: expires.map(|d| now + TimeDelta::days(i64::from(d))),
                };
                people.create_token(&new, now).await?;
                eprintln!(
                    "Created {kind} token `{name}` ({role}). Copy it now: it is not shown again.",
                    kind = kind.as_str()
                );
                println!("{token}");
            }
            Command::List { format } => list(people, format).await?,
            Command::Revoke { name } => {
                if !people.revoke_token(&name, now).await? {
                    anyhow::bail!("no live token named `{name}`");
                }
                eprintln!("Revoked `{name}`.");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn list(people: &dyn People, format: Format) -> Result<(), StoreError> {
    let tokens = people.tokens().await?;
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string(&tokens).expect("tokens serialise")
        );
        return Ok(());
    }
    if tokens.is_empty() {
        eprintln!("No tokens yet: `crier tokens create NAME --role ROLE`.");
        return Ok(());
    }
    let when = |t: Option<chrono::DateTime<chrono::Utc>>, none: &str| {
        t.map_or(none.to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
    };
    println!(
        "{:<24} {:<10} {:<5} {:<17} {:<17} {:<17} REVOKED",
        "NAME", "ROLE", "KIND", "CREATED", "EXPIRES", "LAST USED"
    );
    for t in &tokens {
        println!(
            "{:<24} {:<10} {:<5} {:<17} {:<17} {:<17} {}",
            t.name,
            t.role.as_str(),
            t.kind.as_str(),
            when(Some(t.created_at), ""),
            when(t.expires_at, "never"),
            when(t.last_used_at, "never"),
            when(t.revoked_at, "-"),
        );
    }
    Ok(())
}
