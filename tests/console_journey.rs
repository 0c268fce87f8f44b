//! Issue #11's journey, end to end in Chromium against the real daemon: an
//! author signs in through the loopback OpenID provider (its own login and
//! consent pages), writes a training course with a reminder 7 days before
//! its booking deadline, sees the X thread and the Bluesky count in the
//! preview (each count checked against crier-text on the text shown), and
//! saves it; the author has no approve or pause controls and the server
//! refuses those requests; an approver signs in and approves; the reminder
//! reaches a local webhook receiver at its time, once; the calendar shows
//! it sent, linked to the post the receiver named; and of two people
//! editing the item at once, the second is shown the first one's change
//! and overwrites nothing. The author's browser audits every crier page it
//! reaches with axe (the OpenID sign-in's way back, the event composer);
//! the approver's has JavaScript off.

mod support;

use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};
use chrono_tz::Europe::London;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::browser::{Browser, Element};
use support::daemon::{parse_time, Workspace};
use support::receiver::{Receiver, Reply};

const OIDC_SECRET_VAR: &str = "CRIER_TEST_OIDC_SECRET";
const HOOK_SECRET: (&str, &str) = ("CRIER_TEST_PARTNERS_SECRET", "journey-hook-signing-secret");
const ITEM: &str = "safeguarding-basics";
const TITLE: &str = "Safeguarding basics for new practitioners";
/// Where the partner's system says the notice now is.
const REMOTE_URL: &str = "https://partners.example.org/notices/4711";
/// How far ahead of the author's typing the reminder falls: time to
/// preview, save and approve first, so it is sent at its time.
const MARGIN: TimeDelta = TimeDelta::seconds(30);

/// The webhook to the receiver, X and Bluesky (no credentials: they
/// preview and plan, and their sends are held for credentials), every
/// channel needing approval, by someone other than the item's last writer.
fn channels(hook: &str) -> String {
    format!(
        "[channels.partners]\nkind = \"webhook\"\nurl = \"{hook}\"\n\
         signing_secret_env = \"{}\"\nrequire_approval = true\n\n\
         [channels.x]\nkind = \"x\"\nconsumer_key_env = \"CRIER_TEST_X_KEY\"\n\
         consumer_secret_env = \"CRIER_TEST_X_SECRET\"\naccess_token_env = \"CRIER_TEST_X_TOKEN\"\n\
         access_token_secret_env = \"CRIER_TEST_X_TOKEN_SECRET\"\nrequire_approval = true\n\n\
         [channels.bluesky]\nkind = \"bluesky\"\nservice = \"https://bsky.social\"\n\
         identifier = \"journey.example\"\napp_password_env = \"CRIER_TEST_BLUESKY_PASSWORD\"\n\
         require_approval = true\n\n[auth]\nseparate_approver = true\n",
        HOOK_SECRET.0
    )
}

/// Registers a client with the provider for this daemon and points
/// `[auth.oidc]` at it; the client secret.
async fn sign_in_with_provider(ws: &Workspace, issuer: &str) -> String {
    crier::channels::http::install_crypto_provider();
    let registration = json!({
        "redirect_uris": [ws.url("/signin/oidc/callback")],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let answer = reqwest::Client::new()
        .post(format!("{issuer}/reg"))
        .json(&registration)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let client: Value = answer.json().await.unwrap();
    let config = std::fs::read_to_string(ws.config()).unwrap();
    ws.write(
        "channels.toml",
        &format!(
            "{config}\n[auth.oidc]\nissuer = \"{issuer}\"\nclient_id = \"{}\"\n\
             client_secret_env = \"{OIDC_SECRET_VAR}\"\n\
             scopes = [\"openid\", \"email\", \"profile\", \"roles\"]\n",
            client["client_id"].as_str().unwrap()
        ),
    );
    client["client_secret"].as_str().unwrap().to_string()
}

/// Opens `path`; crier sends the person to sign in; they choose their
/// organisation account, pass the provider's login (any password for a
/// known account) and consent pages, and come back to `path`, titled
/// `title`.
async fn sign_in(browser: &Browser, ws: &Workspace, login: &str, path: &str, title: &str) {
    browser.goto(&ws.url(path)).await;
    browser.wait_title("Sign in").await;
    browser.one("a[href^=\"/signin/oidc\"]").await.click().await;
    browser.wait_text_elsewhere("Sign-in").await;
    browser
        .one("input[name=login]")
        .await
        .type_text(login)
        .await;
    browser
        .one("input[name=password]")
        .await
        .type_text("any")
        .await;
    browser.one("button[type=submit]").await.click().await;
    browser.wait_text_elsewhere("Authorize").await;
    browser.one("button[type=submit]").await.click().await;
    browser.wait_title(title).await;
}

/// A date input's four fields.
async fn date(browser: &Browser, name: &str, day: NaiveDate, time: &str) {
    for (part, value) in [
        ("day", day.format("%-d").to_string()),
        ("month", day.format("%-m").to_string()),
        ("year", day.format("%Y").to_string()),
        ("time", time.to_string()),
    ] {
        let field = browser.one(&format!("#{name}-{part}")).await;
        field.type_text(&value).await;
    }
}

/// The composer's event form, filled: the reminder `MARGIN` from now, so
/// its booking deadline is 7 days after that; the course a week later.
/// The reminder's due time.
async fn write_course(browser: &Browser) -> DateTime<Utc> {
    let due = (Utc::now() + MARGIN).with_nanosecond(0).unwrap();
    let due = due.with_timezone(&London);
    let day = due.date_naive();
    let body = "A half-day course on recognising and responding to concerns about children, \
        for practitioners in their first year in any partner agency.\n\n\
        It covers the signs of neglect and abuse, how to share information safely, \
        when and how to make a referral to the Children's MARS, and what happens next. \
        Bring a recent case you found hard to think about; there is time to talk it through \
        in small groups with experienced colleagues from health, police and education.";
    for (field, text) in [
        ("#id", ITEM),
        ("#title", TITLE),
        (
            "#summary",
            "A half-day course for practitioners in their first year.",
        ),
        ("#body", body),
        ("#venue", "Scunthorpe Civic Centre"),
        ("#booking_url", "https://example.org/training/book"),
    ] {
        browser.one(field).await.type_text(text).await;
    }
    date(browser, "at", day + TimeDelta::days(1), "09:00").await;
    date(browser, "start", day + TimeDelta::days(14), "09:30").await;
    date(browser, "end", day + TimeDelta::days(14), "13:00").await;
    date(
        browser,
        "booking_deadline",
        day + TimeDelta::days(7),
        "17:00",
    )
    .await;
    let reminder = format!(
        "7 days before booking_deadline at {}",
        due.format("%H:%M:%S")
    );
    browser.one("#reminders").await.type_text(&reminder).await;
    for channel in ["partners", "x", "bluesky"] {
        let css = format!("input[name=channels][value={channel}]");
        browser.one(&css).await.click().await;
    }
    due.with_timezone(&Utc)
}

/// The preview card of `channel`: each part's text exactly as the page
/// holds it, with the length and limit the page shows for it.
async fn previewed(browser: &Browser, channel: &str) -> Vec<(String, usize, usize)> {
    let mut card = None;
    for article in browser.all("article.crier-preview").await {
        let heading = article.all("h3").await;
        if heading[0].text().await.starts_with(&format!("{channel} ")) {
            card = Some(article);
        }
    }
    let card = card.unwrap_or_else(|| panic!("a preview of {channel}"));
    let texts = card.all("pre.crier-text").await;
    let counts = card.all("pre.crier-text + p").await;
    assert_eq!(texts.len(), counts.len());
    let mut parts = Vec::new();
    for (i, (text, count)) in texts.iter().zip(&counts).enumerate() {
        let shown = count.text().await;
        let numbers = match shown.split_once(": ") {
            Some((of, rest)) => {
                assert_eq!(of, format!("Part {} of {}", i + 1, texts.len()));
                rest.to_string()
            }
            None => shown.clone(),
        };
        let words: Vec<&str> = numbers.split(' ').collect();
        assert_eq!(words[1], "of", "{shown}");
        parts.push((
            text.property("textContent").await.unwrap(),
            words[0].parse().unwrap(),
            words[2].parse().unwrap(),
        ));
    }
    parts
}

/// The counts the preview shows are crier-text's count of the text shown,
/// against the network's limit; X's is a thread.
async fn check_preview(browser: &Browser) {
    for (network, limit) in [("x", 280), ("bluesky", 300)] {
        let parts = previewed(browser, network).await;
        let counter = crier_text::counter_for(network, None).unwrap();
        for (text, length, shown_limit) in &parts {
            assert_eq!(*length, counter.count(text), "{network}: {text:?}");
            assert_eq!(*shown_limit, limit);
            assert!(length <= shown_limit, "{network}: {length} of {limit}");
        }
        if network == "x" {
            assert!(parts.len() >= 2, "X splits it into a thread: {parts:?}");
        }
    }
}

/// A request made with the session of the person signed in to `browser`,
/// as from the console's own pages (crier refuses other sites' writes).
fn as_person(
    ws: &Workspace,
    session: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    crier::channels::http::client()
        .request(method, ws.url(path))
        .header("cookie", format!("crier_session={session}"))
        .header("origin", ws.url(""))
}

async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

/// The author sees no approve or pause controls, and the server refuses
/// the author's approval and pause, through the console and the API,
/// with nothing changed.
async fn author_cannot_approve_or_pause(browser: &Browser, ws: &Workspace) {
    browser.goto(&ws.url("/console/approvals")).await;
    browser.wait_title("Approvals").await;
    let page = browser.text().await;
    assert!(page.contains("1 item is waiting for approval"), "{page}");
    assert!(
        !page.contains("Approve item") && !page.contains("Pause all publishing"),
        "{page}"
    );
    assert!(browser.all("a.crier-pause").await.is_empty());

    let session = browser.cookie("crier_session").await.expect("signed in");
    use reqwest::Method;
    let waiting = "/api/v1/deliveries?awaiting_approval=true";
    let before = json_of(as_person(ws, &session, Method::GET, waiting)).await;
    assert_eq!(
        before["deliveries"].as_array().unwrap().len(),
        6,
        "{before}"
    );
    let item = json_of(as_person(
        ws,
        &session,
        Method::GET,
        &format!("/api/v1/items/{ITEM}"),
    ))
    .await;
    let version = item["version"].as_str().unwrap().to_string();
    let refused = [
        as_person(
            ws,
            &session,
            Method::POST,
            &format!("/console/approvals/{ITEM}/approve"),
        )
        .form(&[("version", version.as_str())]),
        as_person(
            ws,
            &session,
            Method::POST,
            &format!("/api/v1/items/{ITEM}/approve"),
        )
        .header("if-match", &version)
        .json(&json!({})),
        as_person(ws, &session, Method::POST, "/console/pause").form(&[("confirm", "yes")]),
        as_person(ws, &session, Method::POST, "/api/v1/pause").json(&json!({})),
    ];
    // Refused for the role (not as a request from another site).
    for request in refused {
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{answer:?}");
        let why = answer.text().await.unwrap();
        assert!(why.contains("role or higher; you are author"), "{why}");
    }
    let after = json_of(as_person(ws, &session, Method::GET, waiting)).await;
    assert_eq!(before, after, "nothing approved");
    let pause = json_of(as_person(ws, &session, Method::GET, "/api/v1/pause")).await;
    assert_eq!(
        pause,
        json!({ "all": false, "channels": [] }),
        "nothing paused"
    );
}

/// Clicks the button whose accessible name is `label`.
async fn press(browser: &Browser, label: &str) {
    for button in browser.all("button[type=submit]").await {
        if button.label().await == label {
            return button.click().await;
        }
    }
    panic!("no button {label:?}: {}", browser.text().await);
}

/// The delivery of the reminder to `channel`, once in `state`.
fn reminder(ws: &Workspace, channel: &str, state: &str) -> Value {
    let rows = ws.wait_queue(&format!("the reminder to {channel} {state}"), |rows| {
        rows.iter()
            .any(|r| r["channel"] == channel && r["occasion"] != "at" && r["state"] == state)
    });
    rows.into_iter()
        .find(|r| r["channel"] == channel && r["occasion"] != "at")
        .unwrap()
}

/// The calendar's list of the reminder's month: the reminder sent to the
/// partners, linked to where the partner's system put it.
async fn calendar_shows_it_sent(browser: &Browser, ws: &Workspace, due: DateTime<Utc>) {
    let day = due.with_timezone(&London).date_naive();
    let path = format!("/console/?date={}&view=list", day.format("%Y-%m-%d"));
    browser.goto(&ws.url(&path)).await;
    browser.wait_title(&day.format("%B %Y").to_string()).await;
    let mut found: Vec<Element> = Vec::new();
    for channel in browser.all("ul.crier-channels li").await {
        if !channel
            .all(&format!("a[href=\"{REMOTE_URL}\"]"))
            .await
            .is_empty()
        {
            found.push(channel);
        }
    }
    assert_eq!(found.len(), 1, "one delivery links to the post");
    let shown = found[0].text().await;
    let words: Vec<&str> = shown.split_whitespace().collect();
    assert_eq!(words, ["partners", "Sent", "post", "on", "partners"]);
    let link = found[0].all("a").await;
    assert_eq!(link[0].attribute("href").await.as_deref(), Some(REMOTE_URL));
}

/// In the form open in `browser`, `field` changed to `value`, the
/// answers checked and saved.
async fn change(browser: &Browser, field: &str, value: &str) {
    let input = browser.one(field).await;
    input.clear().await;
    input.type_text(value).await;
    browser.one("button[value=continue]").await.click().await;
    browser.wait_title("Check your answers before saving").await;
    browser.one("button[value=save]").await.click().await;
}

/// Opens the item's form in each browser; `first` saves a new title, then
/// `second` saves a new venue against the version it opened.
async fn edit_at_once(first: &Browser, second: &Browser, ws: &Workspace) {
    let edit = ws.url(&format!("/console/items/{ITEM}/edit"));
    for browser in [first, second] {
        browser.goto(&edit).await;
        browser.wait_title("Change event").await;
    }
    let renamed = format!("{TITLE} (new date)");
    change(first, "#title", &renamed).await;
    first.wait_title(&renamed).await;
    change(second, "#venue", "Brigg Town Hall").await;
    second
        .wait_text("Someone else changed this item since you started. Nothing was saved.")
        .await;
    let page = second.text().await;
    let theirs = page.split("Their version, saved now").nth(1).unwrap();
    assert!(theirs.contains(&renamed), "{page}");
    let venue = second.one("#venue").await.property("value").await;
    assert_eq!(
        venue.as_deref(),
        Some("Brigg Town Hall"),
        "their answer kept"
    );
    let file = std::fs::read_to_string(ws.path().join(format!("campaigns/{ITEM}.toml"))).unwrap();
    assert!(file.contains(&renamed), "{file}");
    assert!(
        file.contains("Scunthorpe Civic Centre") && !file.contains("Brigg"),
        "{file}"
    );
}

/// The author signs in, writes the course, previews it (the counts
/// checked), checks the answers and saves it; the reminder's due time.
async fn author_writes_course(author: &Browser, ws: &Workspace) -> DateTime<Utc> {
    let composer = "What do you want to write?";
    sign_in(author, ws, "author", "/console/items/new", composer).await;
    let event = author.one("input[name=kind][value=event]").await;
    event.click().await;
    author.one("main button[type=submit]").await.click().await;
    author.wait_title("New event").await;
    let due = write_course(author).await;
    author.one("button[value=preview]").await.click().await;
    author
        .wait_text("Nothing is saved until you continue and save.")
        .await;
    check_preview(author).await;
    author.one("button[value=continue]").await.click().await;
    author.wait_title("Check your answers before saving").await;
    author.one("button[value=save]").await.click().await;
    author.wait_title(TITLE).await;
    due
}

/// The approver signs in and approves the item on every channel.
async fn approver_approves(approver: &Browser, ws: &Workspace) {
    sign_in(approver, ws, "approver", "/console/approvals", "Approvals").await;
    press(approver, &format!("Approve item {TITLE}")).await;
    approver.wait_text("was approved on every channel").await;
}

/// The reminder reaches the partner's system once, not before `due`, and
/// its answer's address is kept; the networks' reminders are held, as
/// they have no credentials here, and nothing is posted to them.
fn reminder_arrives_once(ws: &Workspace, rx: &Receiver, due: DateTime<Utc>) {
    let sent = reminder(ws, "partners", "sent");
    let due_at = parse_time(sent["due_at"].as_str().unwrap());
    assert_eq!(due_at, due, "the reminder is due when the author said");
    let requests = rx.requests();
    assert_eq!(requests.len(), 1, "sent once");
    assert_eq!(requests[0].json()["id"], ITEM);
    let stamp = requests[0].header("x-crier-timestamp").unwrap();
    assert!(
        stamp.parse::<i64>().unwrap() >= due.timestamp(),
        "not early"
    );
    let sent_at = parse_time(sent["sent_at"].as_str().unwrap());
    assert!(sent_at >= due, "{sent_at} is before {due}");
    assert_eq!(sent["remote_url"], REMOTE_URL);
    for network in ["x", "bluesky"] {
        reminder(ws, network, "held:credentials");
    }
    let late = (sent_at - due).num_milliseconds() as f64 / 1000.0;
    eprintln!("the reminder was sent {late:.1} s after it fell due");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_goes_from_author_to_approver_to_partner_at_its_time() {
    let Some(issuer) = std::env::var("CRIER_OIDC_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: CRIER_OIDC_URL is not set (scripts/test.sh starts the provider)");
        return;
    };
    let (Some(author), Some(approver)) = (Browser::start_audited().await, Browser::start().await)
    else {
        return;
    };
    let rx = Receiver::start([Reply::json(200, json!({ "id": "4711", "url": REMOTE_URL }))]).await;
    let ws = Workspace::new(&channels(&rx.url("/hook")), "");
    ws.write("campaigns/none.toml", "");
    let secret = sign_in_with_provider(&ws, &issuer).await;
    let _daemon = ws.start(&[(OIDC_SECRET_VAR, &secret), HOOK_SECRET]);

    let due = author_writes_course(&author, &ws).await;
    author_cannot_approve_or_pause(&author, &ws).await;
    approver_approves(&approver, &ws).await;
    reminder_arrives_once(&ws, &rx, due);
    calendar_shows_it_sent(&approver, &ws, due).await;
    edit_at_once(&approver, &author, &ws).await;
    assert_eq!(rx.requests().len(), 1, "nothing sent twice");
    author.quit().await;
    approver.quit().await;
}
