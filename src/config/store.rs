//! `[store]`: where the queue lives. Absent, it is the embedded SQLite file
//! in `data_dir`; `url = "postgres://…"` (or the `CRIER_STORE_URL`
//! environment variable, which wins) puts it in PostgreSQL, where several
//! `crier serve` processes can share it.

use serde::Deserialize;

use crate::secret::Secret;

/// The environment variable that names the store, over `[store] url`: it
/// may carry a password, which the file must not.
pub const STORE_URL_ENV: &str = "CRIER_STORE_URL";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreOptions {
    /// A PostgreSQL URL without a password (put it in `PGPASSWORD`, or the
    /// whole URL in `CRIER_STORE_URL`).
    #[serde(default, deserialize_with = "de_url")]
    pub url: Option<String>,
}

impl StoreOptions {
    /// The PostgreSQL store to use, if any: `CRIER_STORE_URL` when set,
    /// else `[store] url`. `None` is the SQLite file in `data_dir`.
    pub fn url(&self) -> Result<Option<Secret>, String> {
        match std::env::var(STORE_URL_ENV) {
            Ok(v) if !v.trim().is_empty() => {
                check_url(&v).map_err(|e| format!("{STORE_URL_ENV}: {e}"))?;
                Ok(Some(Secret::new(v)))
            }
            _ => Ok(self.url.clone().map(Secret::new)),
        }
    }
}

/// Why `url` is no store crier can use, in words.
fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    match parsed.scheme() {
        "postgres" | "postgresql" => Ok(()),
        other => Err(format!(
            "crier stores its queue in PostgreSQL (postgres://…) or, with no url, in SQLite \
             in data_dir; {other:?} is neither"
        )),
    }
}

fn de_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(d)?;
    check_url(&url).map_err(serde::de::Error::custom)?;
    let parsed = url::Url::parse(&url).map_err(serde::de::Error::custom)?;
    if parsed.password().is_some() {
        // Never echo the value: it holds the password.
        return Err(serde::de::Error::custom(
            "the url holds a password, and channels.toml must not hold secrets: leave it out \
             and set PGPASSWORD, or put the whole url in CRIER_STORE_URL",
        ));
    }
    Ok(Some(url))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::diagnostics::{Report, SourceFile};

    const HEAD: &str =
        "[organisation]\nname = \"Org\"\nwebsite = \"https://example.org\"\n\n[store]\n";

    fn parse(store: &str) -> (Option<Config>, String) {
        let mut r = Report::default();
        let text = format!("{HEAD}{store}\n");
        let c = Config::parse(SourceFile::new("channels.toml", text), &mut r);
        let msg = r.diagnostics.iter().map(|d| d.to_string()).collect();
        (c, msg)
    }

    #[test]
    fn a_postgres_url_is_taken_and_the_default_is_sqlite() {
        let (c, msg) = parse("url = \"postgres://crier@db.internal/crier\"");
        assert_eq!(msg, "");
        let url = c.unwrap().store.url;
        assert_eq!(url.as_deref(), Some("postgres://crier@db.internal/crier"));
        let (c, _) = parse("");
        assert_eq!(c.unwrap().store.url, None);
    }

    #[test]
    fn a_password_in_the_file_is_refused_without_echoing_it() {
        let (c, msg) = parse("url = \"postgres://crier:hunter22@db.internal/crier\"");
        assert!(c.is_none());
        assert!(msg.contains("channels.toml:6:"), "{msg}");
        assert!(msg.contains("PGPASSWORD"), "{msg}");
        assert!(!msg.contains("hunter22"), "{msg}");
    }

    #[test]
    fn another_kind_of_url_is_refused_naming_the_line() {
        let (c, msg) = parse("url = \"mysql://db.internal/crier\"");
        assert!(c.is_none());
        assert!(
            msg.contains("channels.toml:6:") && msg.contains("PostgreSQL"),
            "{msg}"
        );
        let (c, msg) = parse("uri = \"postgres://db/crier\"");
        assert!(c.is_none());
        assert!(msg.contains("uri"), "{msg}");
    }
}
