//! OpenID Connect sign-in: the authorization code flow with PKCE (S256),
//! `state` and `nonce` kept server-side as single-use one-time links (ten
//! minutes), the code exchanged with the project's own HTTP client, and
//! the ID token verified (`jwt.rs`). Hand-written on reqwest rather than
//! the `openidconnect` crate, whose HTTP client is reqwest 0.12 beside
//! ours (0.13): a second TLS stack for three requests.

mod jwt;

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::TimeDelta;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tracing::{info, warn};

use super::pages::{oidc_session, see_other_to};
use super::{secrets, Authenticator};
use crate::config::Oidc;
use crate::render::page::page;
use crate::store::people::{digest, LinkPurpose, NewLink};

/// How long a sign-in may take at the provider.
const STATE_VALID: TimeDelta = TimeDelta::minutes(10);

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    end_session_endpoint: Option<String>,
}

/// The provider as configured, with what it said about itself (fetched
/// on first use, and again when a token names a key we do not have).
pub struct Provider {
    pub config: Oidc,
    redirect_uri: String,
    after_signout: String,
    http: reqwest::Client,
    known: Mutex<Option<(Discovery, jwt::Jwks)>>,
}

/// What a sign-in in progress keeps server-side under its `state`.
#[derive(serde::Serialize, Deserialize)]
struct Pending {
    nonce: String,
    verifier: String,
    next: String,
}

impl Provider {
    pub fn new(config: Oidc, public_url: &str) -> Provider {
        Provider {
            redirect_uri: format!("{public_url}{}", config.redirect_path),
            after_signout: format!("{public_url}/signin"),
            config,
            http: crate::channels::http::client(),
            known: Mutex::new(None),
        }
    }

    async fn fetch<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        if !crate::channels::http::https_or_loopback(url) {
            return Err(format!("{url} is not https"));
        }
        let answer = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        let answer = answer.error_for_status().map_err(|e| e.to_string())?;
        answer.json().await.map_err(|e| e.to_string())
    }

    /// Discovery and keys; `refresh` fetches them again.
    async fn known(&self, refresh: bool) -> Result<(Discovery, jwt::Jwks), String> {
        let mut known = self.known.lock().await;
        if let (Some(k), false) = (known.as_ref(), refresh) {
            return Ok(k.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.config.issuer);
        let discovery: Discovery = self.fetch(&url).await?;
        if discovery.issuer.trim_end_matches('/') != self.config.issuer {
            return Err(format!(
                "the provider says its issuer is {}",
                discovery.issuer
            ));
        }
        let jwks: jwt::Jwks = self.fetch(&discovery.jwks_uri).await?;
        *known = Some((discovery.clone(), jwks.clone()));
        Ok((discovery, jwks))
    }

    /// Where to send someone signing out, if the provider has an end-session endpoint.
    pub async fn end_session_url(&self, id_token_hint: &str) -> Option<String> {
        let (discovery, _) = self.known(false).await.ok()?;
        let endpoint = discovery.end_session_endpoint?;
        let mut url = reqwest::Url::parse(&endpoint).ok()?;
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token_hint)
            .append_pair("client_id", &self.config.client_id)
            .append_pair("post_logout_redirect_uri", &self.after_signout);
        Some(url.to_string())
    }

    fn authorize_url(&self, discovery: &Discovery, state: &str, p: &Pending) -> Option<String> {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(p.verifier.as_bytes()));
        let mut url = reqwest::Url::parse(&discovery.authorization_endpoint).ok()?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.config.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("nonce", &p.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Some(url.to_string())
    }

    /// Exchanges the code for the ID token (client_secret_basic).
    async fn exchange(
        &self,
        discovery: &Discovery,
        code: &str,
        verifier: &str,
    ) -> Result<String, String> {
        let secret = self
            .config
            .client_secret_env
            .resolve()
            .map_err(|e| e.to_string())?;
        if !crate::channels::http::https_or_loopback(&discovery.token_endpoint) {
            return Err("the token endpoint is not https".into());
        }
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            enc(&self.config.client_id),
            enc(secret.expose())
        ));
        let answer = self
            .http
            .post(&discovery.token_endpoint)
            .header("authorization", format!("Basic {basic}"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| format!("token request: {e}"))?;
        let status = answer.status();
        let body: serde_json::Value = answer
            .json()
            .await
            .map_err(|e| format!("token answer: {e}"))?;
        if !status.is_success() {
            let error = body["error"].as_str().unwrap_or("unknown");
            return Err(format!("the provider refused the code ({status}, {error})"));
        }
        body["id_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "the token answer has no id_token".into())
    }

    /// The ID token's claims once every check passes.
    async fn verify(
        &self,
        token: &str,
        nonce: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        for refresh in [false, true] {
            let (discovery, jwks) = self.known(refresh).await?;
            let expected = jwt::Expected {
                issuer: &discovery.issuer,
                client_id: &self.config.client_id,
                nonce,
                now,
            };
            if let Some(claims) = jwt::verify(token, &jwks, &expected)? {
                return Ok(claims);
            }
        }
        Err("no key of the provider's signed the ID token".into())
    }
}

fn provider_problem(why: &str) -> Response {
    warn!("OpenID sign-in failed: {why}");
    page(
        StatusCode::BAD_GATEWAY,
        "Sign-in with your organisation account did not work",
        "<p>Try again. If it keeps happening, tell your administrator the time you tried; \
         crier's log says why. You can also <a href=\"/signin\">sign in with a password</a>.</p>",
    )
}

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    next: String,
}

/// `GET /signin/oidc`: off to the provider.
pub async fn start(
    State(auth): State<Arc<Authenticator>>,
    Query(q): Query<StartQuery>,
) -> Response {
    let Some(provider) = &auth.oidc else {
        return see_other_to("/signin");
    };
    let (discovery, _) = match provider.known(false).await {
        Ok(k) => k,
        Err(e) => return provider_problem(&e),
    };
    let state = secrets::random();
    let pending = Pending {
        nonce: secrets::random(),
        verifier: secrets::random(),
        next: q.next,
    };
    let now = auth.now();
    let link = NewLink {
        hash: digest(&state),
        purpose: LinkPurpose::OidcState,
        email: None,
        payload: serde_json::to_string(&pending).ok(),
        expires_at: now + STATE_VALID,
    };
    if let Err(e) = auth.people.create_link(&link, now).await {
        return provider_problem(&e.to_string());
    }
    match provider.authorize_url(&discovery, &state, &pending) {
        Some(url) => see_other_to(&url),
        None => provider_problem("the authorization endpoint is not a URL"),
    }
}

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: Option<String>,
}

/// The redirect back: the state used up, the code exchanged, the ID token
/// checked, the account made or updated with the role the claims give.
pub async fn callback(
    State(auth): State<Arc<Authenticator>>,
    Query(q): Query<Callback>,
) -> Response {
    let Some(provider) = &auth.oidc else {
        return see_other_to("/signin");
    };
    let now = auth.now();
    let used = if secrets::looks_random(&q.state) {
        auth.people
            .consume_link(&digest(&q.state), LinkPurpose::OidcState, now)
            .await
    } else {
        Ok(None)
    };
    let pending: Option<Pending> = match used {
        Ok(link) => link
            .and_then(|l| l.payload)
            .and_then(|p| serde_json::from_str(&p).ok()),
        Err(e) => return provider_problem(&e.to_string()),
    };
    let Some(pending) = pending else {
        warn!("OpenID callback with an unknown, used or expired state");
        return page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "<p>It was already used or took too long. <a href=\"/signin\">Sign in again</a>.</p>",
        );
    };
    if let Some(error) = q.error {
        return provider_problem(&format!("the provider answered {error}"));
    }
    let (claims, id_token) = match exchange_and_verify(provider, &q.code, &pending, now).await {
        Ok(c) => c,
        Err(e) => return provider_problem(&e),
    };
    let text = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let list = |k: &str| -> Vec<String> {
        match claims.get(k) {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            _ => vec![],
        }
    };
    // Entra ID puts the address in `preferred_username` when `email` is unset.
    let Some(email) = text("email").or_else(|| text("preferred_username")) else {
        return provider_problem("the ID token has no email or preferred_username");
    };
    let roles = list(&provider.config.role_claim);
    let groups = list(&provider.config.groups_claim);
    let Some(role) = provider.config.role_for(&email, &roles, &groups) else {
        info!(account = %email, "OpenID sign-in refused: no role");
        return page(
            StatusCode::FORBIDDEN,
            "You do not have a role in crier",
            "<p>Your organisation account signed in, but it gives you no role here (author, \
             approver, publisher or admin). Ask your administrator to give you one.</p>",
        );
    };
    oidc_session(&auth, &email, role, id_token, &pending.next).await
}

async fn exchange_and_verify(
    provider: &Provider,
    code: &str,
    pending: &Pending,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(serde_json::Map<String, serde_json::Value>, String), String> {
    let (discovery, _) = provider.known(false).await?;
    let token = provider
        .exchange(&discovery, code, &pending.verifier)
        .await?;
    let claims = provider.verify(&token, &pending.nonce, now).await?;
    Ok((claims, token))
}
