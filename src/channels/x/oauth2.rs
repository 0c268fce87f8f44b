//! OAuth 2.0 user tokens for X, kept fresh with the refresh-token grant.
//!
//! X rotates the refresh token on every use: the answer to a refresh carries
//! a new one and the old one stops working. So the current refresh token is
//! written to `services.credentials` (a 0600 file apart from the queue)
//! *before* the new access token is used; a crash after that point loses
//! nothing. The environment variable only seeds the first use, or a
//! re-authorisation: its fingerprint is stored beside the token, so a new
//! value in the variable is noticed and wins over the stored token, while the
//! old, already-rotated value is ignored.
//!
//! Access tokens live in memory only; they last about two hours and a
//! restart simply refreshes.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::super::{http, PublishError, Services};
use crate::secret::{Secret, SecretRef};

/// Refresh this long before X says the access token expires, so a request
/// never leaves with a token that dies on the way.
const EARLY: TimeDelta = TimeDelta::seconds(60);
const REFRESH_TOKEN: &str = "refresh_token";
const SEED: &str = "refresh_seed";

pub struct Tokens {
    pub client_id_env: SecretRef,
    pub client_secret_env: Option<SecretRef>,
    pub refresh_token_env: Option<SecretRef>,
    /// The token endpoint: `{api}/2/oauth2/token`.
    pub token_url: String,
    /// The channel's name, which names its credential files.
    pub channel: String,
    current: Mutex<Option<Access>>,
}

#[derive(Clone)]
struct Access {
    token: Secret,
    expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Answer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

impl Tokens {
    pub fn new(
        channel: &str,
        client_id_env: SecretRef,
        client_secret_env: Option<SecretRef>,
        refresh_token_env: Option<SecretRef>,
        api: &str,
    ) -> Tokens {
        Tokens {
            client_id_env,
            client_secret_env,
            refresh_token_env,
            token_url: format!("{api}/2/oauth2/token"),
            channel: channel.to_string(),
            current: Mutex::new(None),
        }
    }

    /// A usable access token, refreshing first if there is none or it is
    /// about to expire.
    pub async fn access(&self, services: &Services) -> Result<Secret, PublishError> {
        let mut current = self.current.lock().await;
        if let Some(a) = current.as_ref() {
            if services.clock.now() + EARLY < a.expires_at {
                return Ok(a.token.clone());
            }
        }
        let fresh = self.refresh(services).await?;
        let token = fresh.token.clone();
        *current = Some(fresh);
        Ok(token)
    }

    /// After a 401 with `used`: forget it, so the next [`access`] refreshes.
    /// Another request may already have replaced it; that one is kept.
    ///
    /// [`access`]: Tokens::access
    pub async fn reject(&self, used: &Secret) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|a| &a.token == used) {
            *current = None;
        }
    }

    /// The refresh token to use: a new seed in the environment wins, else
    /// the stored (rotated) one, else the seed.
    fn refresh_token(&self, services: &Services) -> Result<Secret, PublishError> {
        let store = &services.credentials;
        let stored = store
            .get(&self.channel, REFRESH_TOKEN)
            .map_err(|e| PublishError::credentials(e.to_string()))?;
        let seed = self
            .refresh_token_env
            .as_ref()
            .and_then(|env| env.resolve().ok());
        let seen = store
            .get(&self.channel, SEED)
            .map_err(|e| PublishError::credentials(e.to_string()))?;
        match (stored, seed) {
            (Some(stored), Some(seed))
                if seen.as_ref().map(Secret::expose) == Some(&fingerprint(&seed)) =>
            {
                Ok(stored)
            }
            (Some(stored), None) => Ok(stored),
            (_, Some(seed)) => Ok(seed),
            (None, None) => Err(PublishError::credentials(format!(
                "no OAuth 2.0 refresh token: set `{}` to one from X's authorisation flow",
                self.refresh_token_env
                    .as_ref()
                    .map_or("refresh_token_env", |e| e.0.as_str())
            ))),
        }
    }

    async fn refresh(&self, services: &Services) -> Result<Access, PublishError> {
        let missing = |e: crate::secret::MissingSecret| PublishError::credentials(e.to_string());
        let client_id = self.client_id_env.resolve().map_err(missing)?;
        let refresh_token = self.refresh_token(services)?;
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("client_id", client_id.expose()),
        ];
        let mut request = services.http.post(&self.token_url).form(&form);
        // A confidential client authenticates with Basic; a public one
        // (PKCE apps) is identified by client_id alone.
        if let Some(env) = &self.client_secret_env {
            let secret = env.resolve().map_err(missing)?;
            let pair = format!("{}:{}", client_id.expose(), secret.expose());
            let basic = base64::engine::general_purpose::STANDARD.encode(pair);
            request = request.header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"));
        }
        let response = http::send(request, services.clock.as_ref())
            .await
            .map_err(|e| match e {
                // A refused refresh (400 invalid_grant, 401) means a person
                // must authorise again; waiting will not help.
                PublishError::Permanent { message, status }
                | PublishError::Credentials { message, status } => PublishError::Credentials {
                    message: format!("X refused to refresh the OAuth 2.0 token: {message}"),
                    status,
                },
                other => other,
            })?;
        let text = http::read_text(response)
            .await
            .map_err(|e| http::transport_error(&e))?;
        let answer: Answer = serde_json::from_str(&text).map_err(|_| {
            PublishError::credentials("X's token endpoint answered without an access token".into())
        })?;
        // Stored before anything else: from here the old token is dead.
        if let Some(rotated) = answer.refresh_token {
            let put = |name: &str, value: String| {
                services
                    .credentials
                    .put(&self.channel, name, &Secret::new(value))
                    .map_err(|e| {
                        PublishError::credentials(format!(
                            "X rotated the refresh token but crier could not store it: {e}"
                        ))
                    })
            };
            put(REFRESH_TOKEN, rotated)?;
            if let Some(seed) = self
                .refresh_token_env
                .as_ref()
                .and_then(|e| e.resolve().ok())
            {
                put(SEED, fingerprint(&seed))?;
            }
        }
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(7200).max(0) as u64);
        Ok(Access {
            token: Secret::new(answer.access_token),
            expires_at: services.clock.now()
                + TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::zero()),
        })
    }
}

/// Recognises a seed again without keeping a second copy of it.
fn fingerprint(seed: &Secret) -> String {
    hex::encode(Sha256::digest(seed.expose().as_bytes()))
}
