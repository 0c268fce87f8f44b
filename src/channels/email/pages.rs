//! The self-service pages under `/lists/<channel>/`: plain HTML forms with
//! labels, no JavaScript. Subscribe always answers the same way, so the
//! page reveals nothing about whether an address is known. The links in
//! emails only ever show a page: confirming and one-click unsubscribe
//! (RFC 8058) act on POST, because mail scanners open every link.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use chrono::{DateTime, TimeDelta, Utc};
use handlebars::html_escape as esc;
use tracing::{info, warn};

use super::config::{valid_address, Options};
use super::confirm::{self, Confirmer};
use super::digest::{choices, Times};
use super::links::{self, Purpose};
use super::message::clean_name;
use super::Email;
use crate::channels::Services;
use crate::render::page::page;
use crate::secret::Secret;
use crate::store::lists::{Added, NewSubscriber, Status};

struct Pages {
    channel: String,
    options: Options,
    digests: Times,
    /// The organisation's timezone, named on the page with the digest times.
    timezone: String,
    org: String,
    services: Services,
    /// `None` if the key could not be loaded: pages then answer 503.
    key: Option<Secret>,
    confirmer: Option<Arc<Confirmer>>,
    limiter: Limiter,
}

type S = State<Arc<Pages>>;
type Fields = Form<Vec<(String, String)>>;

pub fn router(email: &Email, services: &Services) -> Router {
    let key = match email.keyring.key(&services.credentials, &email.name) {
        Ok(k) => Some(k),
        Err(e) => {
            warn!(channel = %email.name, "no link key, subscription pages disabled: {e}");
            None
        }
    };
    let confirmer = key.clone().map(|key| {
        Arc::new(Confirmer {
            channel: email.name.clone(),
            options: email.options.clone(),
            org: email.org.clone(),
            key,
            public_url: services.public_url.clone(),
        })
    });
    let pages = Arc::new(Pages {
        channel: email.name.clone(),
        options: email.options.clone(),
        digests: email.digests,
        timezone: email.timezone.name().to_string(),
        org: email.org.clone(),
        services: services.clone(),
        key,
        confirmer,
        limiter: Limiter::new(email.options.page_requests_per_minute),
    });
    let base = format!("/lists/{}", email.name);
    Router::new()
        .route(
            &format!("{base}/subscribe"),
            get(subscribe_form).post(subscribe),
        )
        .route(&format!("{base}/confirm"), get(confirm_form).post(confirm))
        .route(
            &format!("{base}/preferences"),
            get(preferences_form).post(preferences),
        )
        .route(
            &format!("{base}/unsubscribe"),
            get(unsubscribe_form).post(unsubscribe),
        )
        .with_state(pages)
}

/// Fixed-window request counts per client address.
struct Limiter {
    per_minute: u32,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Limiter {
    fn new(per_minute: u32) -> Limiter {
        Limiter {
            per_minute: per_minute.max(1),
            seen: Mutex::default(),
        }
    }

    fn allow(&self, ip: IpAddr) -> bool {
        let mut seen = self.seen.lock().expect("limiter lock");
        let now = Instant::now();
        if seen.len() > 10_000 {
            seen.retain(|_, (t, _)| now.duration_since(*t) < Duration::from_secs(60));
        }
        let e = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= Duration::from_secs(60) {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= self.per_minute
    }
}

fn too_many() -> Response {
    page(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests",
        "<p>Please wait a minute and try again.</p>",
    )
}

fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "<p>Please try again later.</p>",
    )
}

fn bad_link() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "This link does not work",
        "<p>The link is not valid or has expired. You can subscribe again from the subscription page.</p>",
    )
}

impl Pages {
    fn topic_boxes(&self, checked: &[String]) -> String {
        let mut out = String::from("<fieldset>\n<legend>Topics</legend>\n");
        for t in &self.options.topics {
            let on = if checked.contains(&t.id) {
                " checked"
            } else {
                ""
            };
            out += &format!(
                "<p><input type=\"checkbox\" name=\"topics\" id=\"topic-{id}\" value=\"{id}\"{on}> \
                 <label for=\"topic-{id}\">{name}</label> {desc}</p>\n",
                id = esc(&t.id),
                name = esc(&t.name),
                desc = esc(&t.description)
            );
        }
        out + "</fieldset>\n"
    }

    fn form(
        &self,
        error: Option<&str>,
        fields: &HashMap<&str, String>,
        topics: &[String],
    ) -> String {
        let v = |k: &str| esc(fields.get(k).map_or("", |s| s.as_str()));
        let error = error.map_or(String::new(), |e| {
            format!("<p role=\"alert\"><strong>{}</strong></p>\n", esc(e))
        });
        format!(
            "{error}<form method=\"post\">\n\
             <p><label for=\"email\">Email address</label><br>\
             <input type=\"email\" id=\"email\" name=\"email\" required autocomplete=\"email\" value=\"{}\"></p>\n\
             <p><label for=\"name\">Name (optional)</label><br>\
             <input type=\"text\" id=\"name\" name=\"name\" autocomplete=\"name\" value=\"{}\"></p>\n\
             <p><label for=\"organisation\">Organisation (optional)</label><br>\
             <input type=\"text\" id=\"organisation\" name=\"organisation\" autocomplete=\"organization\" value=\"{}\"></p>\n\
             {}<p>{}</p>\n<p><button type=\"submit\">Subscribe</button></p>\n</form>",
            v("email"),
            v("name"),
            v("organisation"),
            self.topic_boxes(topics),
            esc(&self.options.consent_wording),
        )
    }

    fn chosen(&self, fields: &[(String, String)]) -> Vec<String> {
        let known = self.options.topic_ids();
        let mut out: Vec<String> = fields
            .iter()
            .filter(|(k, v)| k == "topics" && known.contains(&v.as_str()))
            .map(|(_, v)| v.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn manage_id(&self, params: &HashMap<String, String>) -> Option<i64> {
        let key = self.key.as_ref()?;
        let t = params.get("t")?;
        links::verify(key, &self.channel, Purpose::Manage, t, 0)
    }
}

async fn subscribe_form(State(p): S, ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Response {
    if !p.limiter.allow(peer.ip()) {
        return too_many();
    }
    let title = format!("Subscribe to {} emails", p.org);
    page(StatusCode::OK, &title, &p.form(None, &HashMap::new(), &[]))
}

async fn subscribe(
    State(p): S,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(fields): Fields,
) -> Response {
    if !p.limiter.allow(peer.ip()) {
        return too_many();
    }
    let Some(confirmer) = p.confirmer.clone() else {
        return unavailable();
    };
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let email = get("email").to_lowercase();
    let name = clean_name(&get("name"));
    let organisation = clean_name(&get("organisation"));
    let topics = p.chosen(&fields);
    let echo: HashMap<&str, String> = [
        ("email", get("email")),
        ("name", name.clone()),
        ("organisation", organisation.clone()),
    ]
    .into();
    let error = if !valid_address(&email) || email.len() > 254 {
        Some("Please enter a valid email address, like name@example.org.")
    } else if name.chars().count() > 100 || organisation.chars().count() > 200 {
        Some("Please shorten the name or organisation.")
    } else if topics.is_empty() {
        Some("Please choose at least one topic.")
    } else {
        None
    };
    let title = format!("Subscribe to {} emails", p.org);
    if let Some(e) = error {
        return page(
            StatusCode::BAD_REQUEST,
            &title,
            &p.form(Some(e), &echo, &topics),
        );
    }
    let now = p.services.clock.now();
    let new = NewSubscriber {
        channel: p.channel.clone(),
        email,
        name: (!name.is_empty()).then_some(name),
        organisation: (!organisation.is_empty()).then_some(organisation),
        topics,
        method: "form".into(),
        wording: p.options.consent_wording.clone(),
        client_addr: Some(peer.ip().to_string()),
        confirmed_at: None,
        override_suppression: true,
    };
    match p.services.store.lists().add_subscriber(&new, now).await {
        Ok(Added::Pending(sub)) => {
            info!(channel = %p.channel, subscriber = sub.id, "subscription requested; confirmation on its way");
            // In the background: the answer takes as long whether or not
            // the address was known.
            confirm::spawn(confirmer, sub, now);
        }
        // A lost or expired link: a fresh one, within the rate limit.
        Ok(Added::Known(sub)) if sub.status == Status::Pending => {
            let minutes = i64::try_from(p.options.confirm_resend_minutes).unwrap_or(i64::MAX);
            let not_since = TimeDelta::try_minutes(minutes)
                .and_then(|d| now.checked_sub_signed(d))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            match p
                .services
                .store
                .lists()
                .claim_resend(sub.id, not_since, now)
                .await
            {
                Ok(true) => {
                    info!(channel = %p.channel, subscriber = sub.id, "asked again while pending; a fresh confirmation on its way");
                    confirm::spawn(confirmer, sub, now);
                }
                Ok(false) => {
                    info!(channel = %p.channel, subscriber = sub.id, "asked again while pending; a confirmation was resent recently, none sent");
                }
                Err(e) => {
                    warn!(channel = %p.channel, "subscription not stored: {e}");
                    return unavailable();
                }
            }
        }
        Ok(_) => {}
        Err(e) => {
            warn!(channel = %p.channel, "subscription not stored: {e}");
            return unavailable();
        }
    }
    page(
        StatusCode::OK,
        "Check your inbox",
        "<p>If this address can be subscribed, we have sent it an email with a link to confirm. \
         Nothing is sent to you until you click it.</p>",
    )
}

impl Pages {
    /// The subscriber a confirmation link is for, if genuine and in time;
    /// `Err` makes the page to answer with.
    fn confirm_id(&self, q: &HashMap<String, String>, now: i64) -> Result<i64, fn() -> Response> {
        let Some(key) = self.key.as_ref() else {
            return Err(unavailable);
        };
        q.get("t")
            .and_then(|t| links::verify(key, &self.channel, Purpose::Confirm, t, now))
            .ok_or(bad_link)
    }
}

/// The link in the confirmation email: a page with a button, never the
/// confirmation itself, because mail security scanners open every link.
async fn confirm_form(
    State(p): S,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !p.limiter.allow(peer.ip()) {
        return too_many();
    }
    let id = match p.confirm_id(&q, p.services.clock.now().timestamp()) {
        Ok(id) => id,
        Err(page) => return page(),
    };
    let sub = match p.services.store.lists().subscriber_by_id(id).await {
        Ok(Some(s)) if s.status != Status::Unsubscribed => s,
        Ok(_) => return bad_link(),
        Err(_) => return unavailable(),
    };
    let topics: String = p
        .options
        .topics
        .iter()
        .filter(|t| sub.topics.contains(&t.id))
        .map(|t| format!("<li>{}</li>\n", esc(&t.name)))
        .collect();
    let t = esc(q.get("t").map_or("", String::as_str));
    page(
        StatusCode::OK,
        "Confirm your subscription",
        &format!(
            "<p>You (or someone using your address) asked to receive emails from {org} about:</p>\n\
             <ul>\n{topics}</ul>\n\
             <form method=\"post\" action=\"confirm?t={t}\">\n\
             <p><button type=\"submit\">Confirm my subscription</button></p>\n</form>\n\
             <p>If this was not you, close this page: you will not hear from us again.</p>",
            org = esc(&p.org)
        ),
    )
}

/// The button on the confirmation page: the double opt-in itself.
async fn confirm(
    State(p): S,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !p.limiter.allow(peer.ip()) {
        return too_many();
    }
    let now = p.services.clock.now();
    let id = match p.confirm_id(&q, now.timestamp()) {
        Ok(id) => id,
        Err(page) => return page(),
    };
    let Some(key) = p.key.as_ref() else {
        return unavailable();
    };
    match p.services.store.lists().confirm(id, now).await {
        // Someone who left since is not subscribed by an old link.
        Ok(Some(sub)) if sub.status == Status::Confirmed => {
            info!(channel = %p.channel, subscriber = id, "subscription confirmed");
            let manage = links::sign(key, &p.channel, Purpose::Manage, id, 0);
            page(
                StatusCode::OK,
                "You are subscribed",
                &format!(
                    "<p>Thank you. You can <a href=\"preferences?t={}\">change your topics or leave</a> at any time; every email has the link too.</p>",
                    esc(&manage)
                ),
            )
        }
        Ok(_) => bad_link(),
        Err(_) => unavailable(),
    }
}

async fn preferences_form(
    State(p): S,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !p.limiter.allow(peer.ip()) {
        return too_many();
    }
    let Some(id) = p.manage_id(&q) else {
        return bad_link();
    };
    let lists = p.services.store.lists();
    let (sub, cadences) = match (lists.subscriber_by_id(id).await, lists.cadences(id).await) {
        (Ok(Some(s)), Ok(c)) => (s, c),
        (Ok(None), _) => return bad_link(),
        _ => return unavailable(),
    };
    let t = esc(q.get("t").map_or("", String::as_str));
    let how_often = choices::radios(&p.digests, &p.options.topics, &cadences, &p.timezone);
    let body = format!(
        "<form method=\"post\">\n<input type=\"hidden\" name=\"t\" value=\"{t}\">\n{}{how_often}<p><button type=\"submit\">Save my topics</button></p>\n</form>\n\
         <form method=\"post\" action=\"unsubscribe?t={t}\">\n<p><button type=\"submit\">Leave all {} emails</button></p>\n</form>",
        p.topic_boxes(&sub.topics),
        esc(&p.org)
    );
    page(StatusCode::OK, "Your email topics", &body)
}

async fn preferences(
    State(p): S,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(fields): Fields,
) -> Response {
    if !p.limiter.allow(peer.ip()) {
        return too_many();
    }
    let params: HashMap<String, String> =
        fields.iter().filter(|(k, _)| k == "t").cloned().collect();
    let Some(id) = p.manage_id(&params) else {
        return bad_link();
    };
    let topics = p.chosen(&fields);
    let now = p.services.clock.now();
    let addr = peer.ip().to_string();
    let lists = p.services.store.lists();
    let cadences: Vec<(i64, String, String)> =
        choices::chosen(&p.digests, &p.options.topics, &fields)
            .into_iter()
            .map(|(topic, cadence)| (id, topic, cadence))
            .collect();
    let saved = match lists
        .set_topics(id, &topics, &p.options.consent_wording, Some(&addr), now)
        .await
    {
        Ok(()) => lists.set_cadences(&cadences, now).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) if topics.is_empty() => page(
            StatusCode::OK,
            "You have left",
            "<p>You will receive no more emails from us.</p>",
        ),
        Ok(()) => page(StatusCode::OK, "Saved", "<p>Your topics are saved.</p>"),
        Err(_) => bad_link(),
    }
}

async fn unsubscribe_form(State(p): S, Query(q): Query<HashMap<String, String>>) -> Response {
    // Never unsubscribes: mail scanners follow links with GET.
    if p.manage_id(&q).is_none() {
        return bad_link();
    }
    let t = esc(q.get("t").map_or("", String::as_str));
    page(
        StatusCode::OK,
        "Unsubscribe",
        &format!(
            "<form method=\"post\" action=\"unsubscribe?t={t}\">\n<p><button type=\"submit\">Unsubscribe me from all {} emails</button></p>\n</form>",
            esc(&p.org)
        ),
    )
}

/// RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click` to the URL
/// from the header; a person posts the button's form. Both unsubscribe,
/// with no login, cookie or redirect. Not rate-limited when the link is
/// genuine: providers' servers post for many people from few addresses.
async fn unsubscribe(
    State(p): S,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(id) = p.manage_id(&q) else {
        if !p.limiter.allow(peer.ip()) {
            return too_many();
        }
        return bad_link();
    };
    match p
        .services
        .store
        .lists()
        .unsubscribe(id, p.services.clock.now())
        .await
    {
        Ok(()) => {
            info!(channel = %p.channel, subscriber = id, "unsubscribed");
            page(
                StatusCode::OK,
                "You have left",
                "<p>You will receive no more emails from us. Sorry to see you go.</p>",
            )
        }
        Err(_) => unavailable(),
    }
}
