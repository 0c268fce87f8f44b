//! `crier check`: every problem in configuration, templates and content.

use std::path::Path;
use std::process::ExitCode;

use super::Format;
use crate::diagnostics::Location;

pub fn run(config: &Path, strict: bool, format: Format) -> ExitCode {
    let (ws, mut report) = match super::load(config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let variants = ws.check(&mut report).len();
    for channel in &ws.channels {
        let here = || Location::Channel {
            channel: channel.name().to_string(),
        };
        // Which limits the variants above were counted against, and from
        // where: an instance's own (learned) or the configured fallback.
        if let Some(limits) = channel.limits() {
            report.push(
                crate::diagnostics::Severity::Note,
                here(),
                format!("counted against {limits}"),
            );
        }
        if let Some(what) = channel.uses_public_url() {
            if !ws.config.daemon.public_url_given {
                report.push(
                    crate::diagnostics::Severity::Warning,
                    here(),
                    format!(
                        "`[daemon] public_url` is not set, so {what} point to `{}` (from \
                         `listen`); set it to where people reach this daemon",
                        ws.config.daemon.public_url
                    ),
                );
            }
        }
        let mut findings = crate::channels::Findings::default();
        channel.check_setup(&ws.config, &mut findings);
        for (severity, message) in findings.0 {
            report.push(severity, here(), message);
        }
        for secret in channel.secrets() {
            if !secret.is_set() {
                report.push(
                    crate::diagnostics::Severity::Note,
                    here(),
                    format!(
                        "`{}` is not set here; this channel cannot publish until it is",
                        secret.0
                    ),
                );
            }
        }
    }
    if let Some(oidc) = ws.config.auth.oidc.as_ref() {
        if !oidc.client_secret_env.is_set() {
            report.push(
                crate::diagnostics::Severity::Note,
                crate::diagnostics::Location::Path {
                    path: ws.config.path.clone(),
                },
                format!(
                    "`{}` is not set here; signing in with the OpenID provider fails until it is",
                    oidc.client_secret_env.0
                ),
            );
        }
    }
    // A warning, not an error: the daemon would refuse to start (or to
    // reload) on an error, and publishing matters more than the record —
    // each save still lands in its file and the audit log, and its item's
    // page says git did not record it. `--strict` makes it fail.
    if let Some(why) = crate::daemon::git_commit_problem(&ws.config) {
        report.push(
            crate::diagnostics::Severity::Warning,
            Location::Path {
                path: ws.config.path.clone(),
            },
            why,
        );
    }
    if strict {
        report.promote_warnings();
    }
    let (errors, warnings) = (report.error_count(), report.warning_count());
    match format {
        Format::Json => {
            let out = serde_json::json!({
                "items": ws.items.len(),
                "channels": ws.channels.len(),
                "variants": variants,
                "errors": errors,
                "warnings": warnings,
                "diagnostics": report.diagnostics,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&out).expect("JSON of plain data")
            );
        }
        Format::Text => {
            for d in &report.diagnostics {
                println!("{d}");
            }
            println!(
                "checked {} items, {} channels, {} variants: {} errors, {} warnings",
                ws.items.len(),
                ws.channels.len(),
                variants,
                errors,
                warnings
            );
        }
    }
    if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
