//! Who is asking: people signed in with a session cookie (a password,
//! optionally with a TOTP code, or the organisation's OpenID provider) and
//! systems holding an API token. [`Authenticator`] is the
//! [`Authenticate`] the API asks once per request; [`routes`] are the
//! sign-in pages the daemon serves.
//!
//! Layout: `secrets.rs` (random values and their formats), `password.rs`
//! (argon2id), `totp.rs` (RFC 6238 codes), `links.rs` (one-time setup and
//! set-password links, the first-run link), `csrf.rs` (cross-site checks),
//! `pages/` (the HTML pages), `oidc/` (OpenID Connect).

mod csrf;
pub mod links;
mod oidc;
mod pages;
pub mod password;
pub mod secrets;
#[cfg(test)]
mod tests;
pub mod totp;

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use chrono::{DateTime, TimeDelta, Utc};
use crier_schedule::{Clock, SystemClock};
use tracing::warn;

use crate::access::{Authenticate, Principal, Refusal};
use crate::config::Config;
use crate::delivery::Actor;
use crate::store::people::{digest, People, Session};

pub use pages::routes;

/// The session cookie's name.
pub const COOKIE: &str = "crier_session";

/// How sessions are kept, from `[auth]` and `[daemon] public_url`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub idle: TimeDelta,
    pub absolute: TimeDelta,
    /// `Secure` on the cookie: everywhere but plain http on loopback.
    pub secure_cookie: bool,
    /// This server's origin (`scheme://host[:port]`), for cross-site checks.
    pub origin: String,
    /// Where links point: the public URL without a trailing slash.
    pub public_url: String,
}

impl Policy {
    pub fn from_config(config: &Config) -> Policy {
        let public_url = config.daemon.public_url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&public_url).ok();
        let origin = parsed
            .as_ref()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|| public_url.clone());
        let loopback_http = parsed.as_ref().is_some_and(|u| {
            let host = u.host_str().unwrap_or_default();
            let ip = host.trim_start_matches('[').trim_end_matches(']');
            u.scheme() == "http"
                && (host == "localhost"
                    || ip
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback()))
        });
        Policy {
            idle: TimeDelta::minutes(config.auth.session_idle_minutes as i64),
            absolute: TimeDelta::hours(config.auth.session_absolute_hours as i64),
            secure_cookie: !loopback_http,
            origin,
            public_url,
        }
    }
}

/// Turns a request's bearer token or session cookie into a [`Principal`].
/// Build one per daemon with [`Authenticator::new`] and hand it to the API
/// as `Arc<dyn Authenticate>`; [`routes`] takes the same `Arc`.
pub struct Authenticator {
    pub(crate) people: Arc<dyn People>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: Policy,
    pub(crate) org: String,
    pub(crate) oidc: Option<oidc::Provider>,
}

impl Authenticator {
    /// The daemon's: the system clock, settings from the configuration.
    pub fn new(people: Arc<dyn People>, config: &Config) -> Authenticator {
        Self::with_clock(people, config, Arc::new(SystemClock))
    }

    pub fn with_clock(
        people: Arc<dyn People>,
        config: &Config,
        clock: Arc<dyn Clock>,
    ) -> Authenticator {
        let policy = Policy::from_config(config);
        let oidc = config
            .auth
            .oidc
            .clone()
            .map(|c| oidc::Provider::new(c, &policy.public_url));
        Authenticator {
            people,
            clock,
            policy,
            org: config.organisation.name.clone(),
            oidc,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The live session a request's cookie names, renewing its idle
    /// expiry; `None` without a cookie or once it ran out.
    pub async fn session(&self, headers: &HeaderMap) -> Result<Option<Session>, Refusal> {
        let Some(id) = cookie(headers, COOKIE) else {
            return Ok(None);
        };
        let hash = digest(id);
        let now = self.now();
        let Some(session) = self.people.session(&hash, now).await.map_err(unavailable)? else {
            return Ok(None);
        };
        // A write at most once a minute per session, not once a request.
        if now - session.last_seen_at >= TimeDelta::minutes(1) {
            if let Err(e) = self
                .people
                .touch_session(&hash, now + self.policy.idle, now)
                .await
            {
                warn!("could not renew a session: {e}");
            }
        }
        Ok(Some(session))
    }

    async fn bearer(&self, value: &str) -> Result<Principal, Refusal> {
        let token = value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Refusal::Unauthenticated)?;
        let hash = digest(token);
        let now = self.now();
        let found = self.people.token(&hash, now).await.map_err(unavailable)?;
        let found = found.ok_or(Refusal::Unauthenticated)?;
        if let Err(e) = self.people.touch_token(&hash, now).await {
            warn!(token = %found.name, "could not record a token's use: {e}");
        }
        Ok(Principal {
            actor: Actor::Token(found.name),
            role: found.role,
            token: Some(found.kind),
        })
    }

    /// The `Set-Cookie` value that opens a session with `id`.
    pub fn session_cookie(&self, id: &str) -> String {
        let secure = if self.policy.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
            self.policy.absolute.num_seconds()
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn cleared_cookie(&self) -> String {
        let secure = if self.policy.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        format!("{COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}")
    }
}

#[async_trait::async_trait]
impl Authenticate for Authenticator {
    async fn principal(&self, request: &Parts) -> Result<Principal, Refusal> {
        // A bearer token is sent on purpose by its holder, never by a
        // browser on another site's behalf: no cross-site check.
        if let Some(value) = request.headers.get(header::AUTHORIZATION) {
            let value = value.to_str().map_err(|_| Refusal::Unauthenticated)?;
            return self.bearer(value).await;
        }
        if cookie(&request.headers, COOKIE).is_some() {
            csrf::check(&request.method, &request.headers, &self.policy.origin)?;
        }
        let session = self.session(&request.headers).await?;
        let session = session.ok_or(Refusal::Unauthenticated)?;
        Ok(Principal {
            actor: Actor::Person(session.account.email),
            role: session.account.role,
            token: None,
        })
    }
}

fn unavailable(e: crate::store::StoreError) -> Refusal {
    warn!("sign-in store unavailable: {e}");
    Refusal::Unavailable("the account store is unavailable; try again shortly".into())
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v)
}
