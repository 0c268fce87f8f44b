//! X: 280 weighted characters (twitter-text v3), threads as reply chains,
//! images with alt text; OAuth 1.0a user context or OAuth 2.0 user tokens.
//!
//! X has no idempotency key, so nothing here is ever sent twice on a guess:
//! an answer that does not come back makes the delivery uncertain (held for
//! a person), and a thread that fails half-way is held with what went out.

mod oauth1;
mod oauth2;
mod publish;

use async_trait::async_trait;
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Response, Url};
use serde::Deserialize;

use super::registry::Kind;
use super::shape::{shape_post, PostRules};
use super::{
    http, options, Channel, Family, Findings, Job, PublishError, Publisher, Rendered, Services,
};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::delivery::Receipt;
use crate::secret::{Secret, SecretRef};
use crate::variant::Variant;

pub const KIND: Kind = Kind {
    name: "x",
    family: Family::Social,
    build,
    hooks: &super::registry::NoHooks,
    example: Some(example),
};

/// `crier init`'s table (see [`Kind::example`]).
fn example(name: &str) -> String {
    let env = |what| super::registry::env_var(name, what);
    format!(
        r#"# An X account, with the four OAuth 1.0a credentials of its app.
[channels.{name}]
kind = "x"
consumer_key_env = "{}"
consumer_secret_env = "{}"
access_token_env = "{}"
access_token_secret_env = "{}"
"#,
        env("consumer_key"),
        env("consumer_secret"),
        env("access_token"),
        env("access_token_secret"),
    )
}

/// OAuth 1.0a user context (four secrets) or an OAuth 2.0 user token
/// (client id, optional client secret, and a refresh token to seed from).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    consumer_key_env: Option<SecretRef>,
    consumer_secret_env: Option<SecretRef>,
    access_token_env: Option<SecretRef>,
    access_token_secret_env: Option<SecretRef>,
    client_id_env: Option<SecretRef>,
    /// Only for confidential OAuth 2.0 clients; public (PKCE) apps have none.
    client_secret_env: Option<SecretRef>,
    /// The first refresh token (or a new one after re-authorising); the
    /// rotated ones are kept under `<data_dir>/credentials/`.
    refresh_token_env: Option<SecretRef>,
    #[serde(default = "default_api")]
    api: String,
}

fn default_api() -> String {
    "https://api.x.com".into()
}

enum Auth {
    OAuth1 {
        consumer_key: SecretRef,
        consumer_secret: SecretRef,
        token: SecretRef,
        token_secret: SecretRef,
    },
    OAuth2(oauth2::Tokens),
}

struct X {
    name: String,
    options: Options,
    auth: Auth,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    let o: Options = options(spec)?;
    super::https_option(spec, "api", &o.api)?;
    let api = o.api.trim_end_matches('/').to_string();
    let oauth1 = (
        o.consumer_key_env.clone(),
        o.consumer_secret_env.clone(),
        o.access_token_env.clone(),
        o.access_token_secret_env.clone(),
    );
    let auth = match (oauth1, &o.client_id_env) {
        ((Some(ck), Some(cs), Some(t), Some(ts)), None) => Auth::OAuth1 {
            consumer_key: ck,
            consumer_secret: cs,
            token: t,
            token_secret: ts,
        },
        ((None, None, None, None), Some(client_id)) => {
            if o.refresh_token_env.is_none() {
                return Err(format!(
                    "channels.{}: OAuth 2.0 needs refresh_token_env (the refresh token from X's authorisation flow, scopes tweet.write users.read offline.access)",
                    spec.name
                ));
            }
            Auth::OAuth2(oauth2::Tokens::new(
                &spec.name,
                client_id.clone(),
                o.client_secret_env.clone(),
                o.refresh_token_env.clone(),
                &api,
            ))
        }
        ((None, None, None, None), None) => {
            return Err(format!(
                "channels.{}: give OAuth 1.0a secrets (consumer_key_env, ...) or an OAuth 2.0 client_id_env",
                spec.name
            ))
        }
        (_, Some(_)) => {
            return Err(format!(
                "channels.{}: choose OAuth 1.0a (consumer_key_env, ...) or OAuth 2.0 (client_id_env), not both",
                spec.name
            ))
        }
        _ => {
            return Err(format!(
                "channels.{}: OAuth 1.0a needs all four of consumer_key_env, consumer_secret_env, access_token_env and access_token_secret_env",
                spec.name
            ))
        }
    };
    if o.client_id_env.is_none() && (o.refresh_token_env.is_some() || o.client_secret_env.is_some())
    {
        return Err(format!(
            "channels.{}: refresh_token_env and client_secret_env are OAuth 2.0 options and need client_id_env",
            spec.name
        ));
    }
    Ok(Box::new(X {
        name: spec.name.clone(),
        options: Options { api, ..o },
        auth,
    }))
}

impl Channel for X {
    /// What must be set for a send to be tried. The refresh-token variable is
    /// left out on purpose: after the first rotation the stored token is the
    /// live one and the variable may (should) be removed.
    fn secrets(&self) -> Vec<&SecretRef> {
        let o = &self.options;
        [
            &o.consumer_key_env,
            &o.consumer_secret_env,
            &o.access_token_env,
            &o.access_token_secret_env,
            &o.client_id_env,
            &o.client_secret_env,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
    fn publisher(&self) -> &dyn Publisher {
        self
    }
    fn shape(&self, item: &Item, rendered: Rendered, findings: &mut Findings) -> Variant {
        let counter = crier_text::x::XCounter;
        let rules = PostRules {
            counter: &counter,
            threads: true,
            max_images: 4,
        };
        shape_post(
            item,
            &self.name,
            KIND.name,
            rendered.text.unwrap_or_default(),
            rules,
            findings,
        )
    }
}

/// Whether a request creates something visible (a post), which decides what
/// an answer that never came means.
#[derive(Clone, Copy, PartialEq)]
enum Effect {
    /// Creates a post: without an answer we cannot know, and X has no
    /// idempotency key, so a gateway error or a lost answer is uncertain.
    Posts,
    /// Reads, or creates nothing anyone sees (media uploads): safe to repeat.
    Harmless,
}

impl X {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.options.api)
    }

    /// The `Authorization` header for one request, and the OAuth 2.0 access
    /// token it used (to forget it after a 401).
    async fn authorize(
        &self,
        services: &Services,
        method: &Method,
        url: &str,
    ) -> Result<(String, Option<Secret>), PublishError> {
        let missing = |e: crate::secret::MissingSecret| PublishError::credentials(e.to_string());
        match &self.auth {
            Auth::OAuth1 {
                consumer_key,
                consumer_secret,
                token,
                token_secret,
            } => {
                let keys = oauth1::Keys {
                    consumer_key: consumer_key.resolve().map_err(missing)?,
                    consumer_secret: consumer_secret.resolve().map_err(missing)?,
                    token: token.resolve().map_err(missing)?,
                    token_secret: token_secret.resolve().map_err(missing)?,
                };
                let url = Url::parse(url)
                    .map_err(|e| PublishError::permanent(format!("bad X API URL: {e}")))?;
                let nonce = {
                    use rand::distr::{Alphanumeric, SampleString};
                    Alphanumeric.sample_string(&mut rand::rng(), 32)
                };
                let once = oauth1::Once {
                    nonce: &nonce,
                    timestamp: services.clock.now().timestamp(),
                };
                Ok((
                    oauth1::authorization(&keys, method.as_str(), &url, &[], &once),
                    None,
                ))
            }
            Auth::OAuth2(tokens) => {
                let access = tokens.access(services).await?;
                Ok((format!("Bearer {}", access.expose()), Some(access)))
            }
        }
    }

    /// One call to the API with a JSON body (or none). With OAuth 2.0, a 401
    /// refreshes the token and tries once more: a 401 means X did nothing
    /// with the request, so repeating it cannot post twice.
    async fn call(
        &self,
        services: &Services,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        effect: Effect,
    ) -> Result<Response, PublishError> {
        let url = self.url(path);
        let mut refreshed = false;
        loop {
            let (authorization, used) = self.authorize(services, &method, &url).await?;
            let mut request = services
                .http
                .request(method.clone(), &url)
                .header(AUTHORIZATION, authorization);
            if let Some(body) = body {
                request = request.json(body);
            }
            let sent = match request.send().await {
                Ok(response) => answer(response, effect, services.clock.now()).await,
                Err(e) => Err(http::transport_error(&e)),
            };
            match (sent, &self.auth, used) {
                (Err(PublishError::Credentials { .. }), Auth::OAuth2(tokens), Some(used))
                    if !refreshed =>
                {
                    tokens.reject(&used).await;
                    refreshed = true;
                }
                (sent, _, _) => return sent,
            }
        }
    }
}

/// Passes a 2xx answer through; otherwise classifies it as every network
/// is classified ([`http::classify`]), after reading X's problem format
/// (`{"title", "detail", "errors": [{"message"}]}`), whose `detail` is
/// often generic ("One or more parameters to your request was invalid.")
/// while `errors` says what was wrong. For a post, a gateway error is
/// uncertain ([`http::gateway_uncertain`]).
async fn answer(
    response: Response,
    effect: Effect,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Response, PublishError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body = http::read_text(response).await.unwrap_or_default();
    let err =
        http::classify(status, &headers, &problem(&body), now).expect_err("2xx was returned above");
    Err(match effect {
        Effect::Posts => http::gateway_uncertain(err, "the post"),
        Effect::Harmless => err,
    })
}

/// X's problem document reduced to `{"message": ...}`: the specific
/// `errors[].message`s if any, else `detail`. Other bodies pass unchanged.
fn problem(body: &str) -> String {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.to_string();
    };
    let mut messages: Vec<&str> = json["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect();
    messages.dedup();
    let message = if messages.is_empty() {
        match json["detail"].as_str() {
            Some(d) => d.to_string(),
            None => return body.to_string(),
        }
    } else {
        messages.join("; ")
    };
    serde_json::json!({ "message": message }).to_string()
}

/// Where a post can be seen; `i/web/status` works without the handle.
fn status_url(id: &str) -> String {
    format!("https://x.com/i/web/status/{id}")
}

#[async_trait]
impl Publisher for X {
    async fn publish(&self, job: &Job<'_>, services: &Services) -> Result<Receipt, PublishError> {
        publish::thread(self, job, services).await
    }

    async fn check(&self, services: &Services) -> Result<String, PublishError> {
        let response = self
            .call(services, Method::GET, "/2/users/me", None, Effect::Harmless)
            .await?;
        let text = http::read_text(response)
            .await
            .map_err(|e| http::transport_error(&e))?;
        let me: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let username = me["data"]["username"].as_str().unwrap_or("?");
        let how = match self.auth {
            Auth::OAuth1 { .. } => "OAuth 1.0a",
            Auth::OAuth2(_) => "OAuth 2.0",
        };
        Ok(format!(
            "credentials work ({how}): posting as @{username}; posts are limited to 280 weighted characters, 4 images"
        ))
    }
}
