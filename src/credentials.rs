//! Credentials the daemon must keep across restarts (an OAuth refresh token
//! that rotates on every use), stored apart from the queue: one file per
//! channel under `<data_dir>/credentials/`, readable by the service user
//! only (folder 0700, files 0600), replaced atomically.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct Credentials {
    dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("cannot use the credentials folder {path}: {reason}")]
    Io { path: String, reason: String },
}

impl Credentials {
    pub fn new(data_dir: &std::path::Path) -> Credentials {
        Credentials {
            dir: data_dir.join("credentials"),
        }
    }

    fn path(&self, channel: &str, name: &str) -> PathBuf {
        self.dir.join(format!("{channel}.{name}"))
    }

    fn io(&self, e: std::io::Error) -> CredentialError {
        CredentialError::Io {
            path: self.dir.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// The stored value, if any.
    pub fn get(&self, channel: &str, name: &str) -> Result<Option<Secret>, CredentialError> {
        match std::fs::read_to_string(self.path(channel, name)) {
            Ok(s) => Ok(Some(Secret::new(s.trim_end().to_string()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Stores a value so that a crash leaves either the old or the new one.
    pub fn put(&self, channel: &str, name: &str, value: &Secret) -> Result<(), CredentialError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.io(e))?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| self.io(e))?;
        let target = self.path(channel, name);
        let tmp = self.dir.join(format!(".{channel}.{name}.tmp"));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.io(e))?;
        f.write_all(value.expose().as_bytes())
            .map_err(|e| self.io(e))?;
        f.sync_all().map_err(|e| self.io(e))?;
        std::fs::rename(&tmp, &target).map_err(|e| self.io(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_in_files_only_the_owner_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let c = Credentials::new(dir.path());
        assert!(c.get("social", "refresh_token").unwrap().is_none());
        c.put("social", "refresh_token", &Secret::new("r1".into()))
            .unwrap();
        c.put("social", "refresh_token", &Secret::new("r2".into()))
            .unwrap();
        assert_eq!(
            c.get("social", "refresh_token").unwrap().unwrap().expose(),
            "r2"
        );
        let meta = std::fs::metadata(dir.path().join("credentials/social.refresh_token")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let folder = std::fs::metadata(dir.path().join("credentials")).unwrap();
        assert_eq!(folder.permissions().mode() & 0o777, 0o700);
    }
}
