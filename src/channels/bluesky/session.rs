//! One session per channel, reused and refreshed.
//!
//! Bluesky rate-limits `createSession` hard (about 30 per 5 minutes and a
//! few hundred a day per account), so creating one per post gets an account
//! locked out. The session lives in memory; its refresh token is also kept
//! in the credentials folder, so a restart or a content reload refreshes it
//! (`refreshSession`) instead of signing in again. `createSession` with the
//! app password is the fallback when there is no usable refresh token.

use serde::Deserialize;
use serde_json::json;
use tracing::info;

use super::xrpc::{self, Failure};
use super::Bluesky;
use crate::channels::{PublishError, Services};
use crate::secret::Secret;

/// The name of the stored refresh token in the credentials folder.
const REFRESH_TOKEN: &str = "refresh_jwt";

#[derive(Clone)]
pub struct Session {
    pub access: Secret,
    refresh: Secret,
    pub did: String,
    pub handle: String,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "accessJwt")]
    access: String,
    #[serde(rename = "refreshJwt")]
    refresh: String,
    did: String,
    #[serde(default)]
    handle: String,
}

impl Bluesky {
    /// The current session, signing in (or refreshing a stored one) first
    /// if there is none.
    pub async fn session(&self, services: &Services) -> Result<Session, Failure> {
        let mut current = self.session.lock().await;
        if let Some(s) = current.as_ref() {
            return Ok(s.clone());
        }
        let stored = services
            .credentials
            .get(&self.name, REFRESH_TOKEN)
            .map_err(|e| PublishError::permanent(e.to_string()))?;
        let fresh = match stored {
            Some(refresh) => match self.refresh(&refresh, services).await {
                Ok(s) => s,
                Err(f) if f.is_expired_token() || f.status() == Some(400) => {
                    self.create(services).await?
                }
                Err(f) => return Err(f),
            },
            None => self.create(services).await?,
        };
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    /// Called when `stale`'s access token was refused as expired. Another
    /// task may already have renewed it; otherwise refresh, and sign in
    /// again only if the refresh token is no good either.
    pub async fn renew(&self, stale: &Session, services: &Services) -> Result<Session, Failure> {
        let mut current = self.session.lock().await;
        if let Some(s) = current.as_ref() {
            if s.access != stale.access {
                return Ok(s.clone());
            }
        }
        let fresh = match self.refresh(&stale.refresh, services).await {
            Ok(s) => s,
            Err(f) if f.is_expired_token() || f.status() == Some(400) => {
                self.create(services).await?
            }
            Err(f) => return Err(f),
        };
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    async fn create(&self, services: &Services) -> Result<Session, Failure> {
        let password = self
            .options
            .app_password_env
            .resolve()
            .map_err(|e| PublishError::credentials(e.to_string()))?;
        let request = services
            .http
            .post(self.xrpc("com.atproto.server.createSession"))
            .json(&json!({
                "identifier": self.options.identifier,
                "password": password.expose(),
            }));
        let answer = match xrpc::send(request, services.clock.as_ref()).await {
            Ok(r) => xrpc::json::<Answer>(r).await?,
            // A wrong password is 401 AuthenticationRequired: the channel
            // needs new credentials, whatever the shared reading says.
            Err(f) if f.status() == Some(401) => {
                return Err(PublishError::credentials(format!(
                    "the app password in `{}` was refused for {}: {}",
                    self.options.app_password_env.0, self.options.identifier, f.error
                ))
                .into())
            }
            // Nothing is posted by signing in: a lost answer is retried.
            Err(f) => return Err(f.before_posting().into()),
        };
        info!(channel = %self.name, did = %answer.did, "bluesky: signed in (createSession)");
        self.keep(answer, services)
    }

    async fn refresh(&self, refresh: &Secret, services: &Services) -> Result<Session, Failure> {
        let request = services
            .http
            .post(self.xrpc("com.atproto.server.refreshSession"))
            .header(
                reqwest::header::AUTHORIZATION,
                xrpc::bearer(refresh.expose()),
            );
        let response = xrpc::send(request, services.clock.as_ref()).await?;
        let answer: Answer = xrpc::json(response).await?;
        // A token stored for another account (the identifier was changed
        // in channels.toml) must not be used: sign in as the configured one.
        let id = self.options.identifier.trim_start_matches('@');
        if id != answer.did && !id.eq_ignore_ascii_case(&answer.handle) {
            return Err(Failure {
                error: PublishError::credentials("stored session is for another account".into()),
                name: Some("InvalidToken".into()),
            });
        }
        info!(channel = %self.name, did = %answer.did, "bluesky: session refreshed");
        self.keep(answer, services)
    }

    /// Remembers a new session; the refresh token rotates on every refresh,
    /// so the stored one is replaced each time.
    fn keep(&self, answer: Answer, services: &Services) -> Result<Session, Failure> {
        let refresh = Secret::new(answer.refresh);
        services
            .credentials
            .put(&self.name, REFRESH_TOKEN, &refresh)
            .map_err(|e| PublishError::permanent(e.to_string()))?;
        Ok(Session {
            access: Secret::new(answer.access),
            refresh,
            did: answer.did,
            handle: answer.handle,
        })
    }

    /// Runs an authenticated call, renewing the session once if the server
    /// says the access token has expired (the call was refused, so making
    /// it again cannot duplicate anything).
    pub async fn authed<F>(
        &self,
        services: &Services,
        make: F,
    ) -> Result<reqwest::Response, Failure>
    where
        F: Fn(&Session) -> reqwest::RequestBuilder,
    {
        let session = self.session(services).await?;
        let with = |s: &Session| {
            make(s).header(
                reqwest::header::AUTHORIZATION,
                xrpc::bearer(s.access.expose()),
            )
        };
        match xrpc::send(with(&session), services.clock.as_ref()).await {
            Err(f) if f.is_expired_token() => {
                let renewed = self.renew(&session, services).await?;
                xrpc::send(with(&renewed), services.clock.as_ref()).await
            }
            other => other,
        }
    }
}
