//! Secrets are never written in `channels.toml`: a channel names the
//! environment variable that holds each one. A [`Secret`] cannot be printed,
//! so it cannot leak into logs, errors or command output by accident.

use std::fmt;

/// The name of an environment variable that holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct SecretRef(pub String);

impl SecretRef {
    /// Reads the secret; the error names the variable, never a value.
    pub fn resolve(&self) -> Result<Secret, MissingSecret> {
        match std::env::var(&self.0) {
            Ok(v) if !v.is_empty() => Ok(Secret(v)),
            _ => Err(MissingSecret(self.0.clone())),
        }
    }

    pub fn is_set(&self) -> bool {
        self.resolve().is_ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable `{0}` is not set (it should hold this channel's secret)")]
pub struct MissingSecret(pub String);

/// A secret value. `Debug` and `Display` print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value obtained at run time (e.g. a refreshed token).
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the one place that must send it (an auth header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret("hunter2-token".into());
        assert!(!format!("{s} {s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-token");
    }
}
