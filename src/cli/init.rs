//! `crier init [DIR]`: a new organisation's workspace that `crier check`
//! passes at once. Each channel kind writes its own example table
//! (`registry::Kind::example`); this file names none of them.

mod skeleton;

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::channels::registry;

const DEFAULT_WEBSITE: &str = "https://www.example.org";
const DEFAULT_TIMEZONE: &str = "Europe/London";
const DEFAULT_LANGUAGE: &str = "en-GB";
const DEFAULT_CHANNELS: &str = "feed";

#[derive(clap::Args)]
pub struct Args {
    /// The folder to make the workspace in (created if missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The organisation's name (asked for on a terminal).
    #[arg(long)]
    name: Option<String>,
    /// The organisation's website, https.
    #[arg(long)]
    website: Option<String>,
    /// IANA timezone the schedule is written in [default: Europe/London].
    #[arg(long)]
    timezone: Option<String>,
    /// BCP 47 language of the content [default: en-GB].
    #[arg(long)]
    language: Option<String>,
    /// Channel kinds, comma-separated; one channel of each [default: feed].
    #[arg(long)]
    channels: Option<String>,
}

/// The answers, complete and checked.
struct Settings {
    name: String,
    website: String,
    timezone: String,
    language: String,
    kinds: Vec<&'static registry::Kind>,
}

pub fn run(args: Args) -> ExitCode {
    let interactive = std::io::stdin().is_terminal();
    match settings(&args, interactive).and_then(|s| write(&args.dir, &s)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Flags first; on a terminal, a missing value is asked for.
fn settings(args: &Args, interactive: bool) -> anyhow::Result<Settings> {
    let ask = |given: &Option<String>, question: &str, default: Option<&str>| match given {
        Some(v) => Ok(v.trim().to_string()),
        None if interactive => prompt(question, default),
        None => Ok(default.unwrap_or_default().to_string()),
    };
    let name = ask(&args.name, "Organisation name", None)?;
    if name.is_empty() {
        bail!("give the organisation's name with --name");
    }
    let website = ask(&args.website, "Website", Some(DEFAULT_WEBSITE))?;
    if !website.starts_with("https://") {
        bail!("--website must be an https:// address, not `{website}`");
    }
    let timezone = ask(&args.timezone, "Timezone", Some(DEFAULT_TIMEZONE))?;
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        bail!("unknown timezone `{timezone}` (an IANA name such as Europe/London)");
    }
    let language = ask(&args.language, "Language", Some(DEFAULT_LANGUAGE))?;
    let channels = ask(
        &args.channels,
        &format!("Channel kinds ({})", registry::names().join(", ")),
        Some(DEFAULT_CHANNELS),
    )?;
    Ok(Settings {
        name,
        website: website.trim_end_matches('/').to_string(),
        timezone,
        language,
        kinds: kinds(&channels)?,
    })
}

/// One line prompt on stderr, the default shown; an empty answer takes it.
fn prompt(question: &str, default: Option<&str>) -> anyhow::Result<String> {
    match default {
        Some(d) => eprint!("{question} [{d}]: "),
        None => eprint!("{question}: "),
    }
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim();
    Ok(match (line.is_empty(), default) {
        (true, Some(d)) => d.to_string(),
        _ => line.to_string(),
    })
}

/// The kinds named in `--channels`, each once, in the order given.
fn kinds(list: &str) -> anyhow::Result<Vec<&'static registry::Kind>> {
    let mut kinds: Vec<&'static registry::Kind> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some(kind) = registry::find(name) else {
            bail!(
                "unknown channel kind `{name}` in --channels (one of: {})",
                registry::names().join(", ")
            );
        };
        if !kinds.iter().any(|k| k.name == kind.name) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        bail!("--channels names no channel kind");
    }
    Ok(kinds)
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn config(s: &Settings) -> String {
    let mut out = format!(
        r#"# crier's configuration for {name}.
#
# Secrets are never written here: each channel names the environment
# variables that hold its credentials. `crier check` notes the ones not set.
# Values marked CHANGE are placeholders that pass `crier check`.

[organisation]
name = {quoted_name}
website = {website}{website_note}
timezone = {timezone}
language = {language}

[daemon]
listen = "127.0.0.1:8080"
data_dir = "data"
# CHANGE to the https address people reach this daemon at (email links,
# subscription pages, feeds).
public_url = "http://127.0.0.1:8080"

[lint]
# Lower-case tags that are a single word, so need no CamelCase.
single_word_hashtags = []
"#,
        name = s.name.replace('\n', " "),
        quoted_name = quoted(&s.name),
        website = quoted(&s.website),
        website_note = if s.website == DEFAULT_WEBSITE {
            " # CHANGE to your website"
        } else {
            ""
        },
        timezone = quoted(&s.timezone),
        language = quoted(&s.language),
    );
    for kind in &s.kinds {
        out.push('\n');
        out += &match kind.example {
            Some(example) => example(kind.name),
            None => format!("[channels.{0}]\nkind = {1}\n", kind.name, quoted(kind.name)),
        };
    }
    out
}

/// Every file of the workspace, relative to its folder.
fn files(s: &Settings) -> Vec<(PathBuf, String)> {
    let names: Vec<String> = s.kinds.iter().map(|k| quoted(k.name)).collect();
    let channels = format!("[{}]", names.join(", "));
    let mut files = vec![
        (PathBuf::from(crate::config::DEFAULT_PATH), config(s)),
        (PathBuf::from(".gitignore"), skeleton::GITIGNORE.to_string()),
    ];
    for (path, text) in skeleton::TEMPLATES {
        files.push((Path::new("templates").join(path), text.to_string()));
    }
    for (path, text) in skeleton::items(&channels, &s.website) {
        files.push((Path::new("campaigns").join(path), text));
    }
    files
}

/// The environment variables the channel tables name (`*_env` keys).
fn env_vars(config: &str) -> anyhow::Result<Vec<(String, String)>> {
    let table: toml::Table = config.parse().context("the generated channels.toml")?;
    let mut vars = Vec::new();
    let channels = table.get("channels").and_then(|c| c.as_table());
    for (channel, options) in channels.into_iter().flatten() {
        for (key, value) in options.as_table().into_iter().flatten() {
            if let (true, Some(var)) = (key.ends_with("_env"), value.as_str()) {
                vars.push((channel.clone(), var.to_string()));
            }
        }
    }
    Ok(vars)
}

/// Renders everything, refuses to overwrite, then writes.
fn write(dir: &Path, s: &Settings) -> anyhow::Result<()> {
    let files = files(s);
    let vars = env_vars(&files[0].1)?;
    if let Some((path, _)) = files.iter().find(|(p, _)| dir.join(p).exists()) {
        bail!(
            "{} already exists; crier init writes only into an empty or new folder",
            dir.join(path).display()
        );
    }
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    report(dir, &vars);
    Ok(())
}

fn report(dir: &Path, vars: &[(String, String)]) {
    let config = dir.join(crate::config::DEFAULT_PATH);
    println!("Wrote a crier workspace in {}.", dir.display());
    if !vars.is_empty() {
        println!("\nSet these environment variables (secrets are never written to files):");
        for (channel, var) in vars {
            println!("  {var}  (channel {channel})");
        }
    }
    println!(
        "\nNext: edit the values marked CHANGE in {}, then run",
        config.display()
    );
    println!("  crier --config {} check", config.display());
}
