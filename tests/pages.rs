//! The subscription pages as a person meets them: headless Chromium with
//! JavaScript off, against the real daemon, with the confirmation email
//! caught by a real SMTP server (aiosmtpd). Every field must have an
//! accessible name, checkboxes toggle by their labels, and subscribe →
//! confirm → change topics → unsubscribe works by clicking alone (opening
//! an emailed link never acts by itself).

mod support;

use std::time::Duration;

use support::browser::Browser;
use support::daemon::Workspace;
use support::smtp::Sink;

fn workspace(smtp_port: u16) -> Workspace {
    let ws = Workspace::new(
        &format!(
            "[channels.news]\nkind = \"email\"\nfrom = \"Test Partnership <news@example.org>\"\n\
             list_id = \"news.example.org\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp_port}\n\
             tls = \"none\"\n\n\
             [channels.news.digests]\ndaily = \"07:00\"\nweekly = \"Mon 07:00\"\n\n\
             [[channels.news.topics]]\nid = \"news\"\nname = \"News updates\"\n\n\
             [[channels.news.topics]]\nid = \"training\"\nname = \"Training courses\"\n"
        ),
        "",
    );
    ws.write("templates/email/default.subject.hbs", "{{item.title}}");
    ws.write("templates/email/default.txt.hbs", "{{item.body_text}}\n");
    ws.write("templates/email/default.html.hbs", "{{{item.body_html}}}\n");
    ws.write(
        "templates/email/digest.subject.hbs",
        "{{digest.topic.name}}",
    );
    ws.write(
        "templates/email/digest.txt.hbs",
        "{{#each items}}{{title}}\n{{/each}}",
    );
    ws.write(
        "templates/email/digest.html.hbs",
        "{{#each items}}<p>{{title}}</p>{{/each}}",
    );
    ws.write("campaigns/none.toml", "");
    ws
}

/// The subscriber's row in `crier subscribers list --format json`.
fn subscriber(ws: &Workspace, email: &str) -> serde_json::Value {
    let out = ws.crier(&["subscribers", "list", "--format", "json"]);
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    all.into_iter()
        .find(|s| s["email"] == email)
        .unwrap_or_else(|| panic!("{email} is not on the list"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_subscribes_confirms_changes_topics_and_leaves_by_clicking() {
    if let Some(browser) = Browser::start().await {
        subscribe_confirm_change_and_leave(browser).await;
    }
}

/// The same walk with axe-core auditing every page it reaches: the blank
/// form, the form with its error summary, "check your inbox", the
/// confirmation button, "subscribed", topics, "saved", the unsubscribe
/// button and "you have left" — each with no WCAG 2.2 A/AA violation.
#[tokio::test(flavor = "multi_thread")]
async fn every_page_of_the_walk_has_no_axe_violations() {
    if let Some(browser) = Browser::start_audited().await {
        subscribe_confirm_change_and_leave(browser).await;
    }
}

async fn subscribe_confirm_change_and_leave(browser: Browser) {
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port);
    let daemon = ws.start(&[]);

    browser.goto(&ws.url("/lists/news/subscribe")).await;
    browser.wait_title("Subscribe").await;
    let lang = browser.one("html").await.attribute("lang").await;
    assert!(
        lang.is_some_and(|l| !l.is_empty()),
        "the page has a language"
    );
    // Every control a person can reach is announced with a name.
    for control in browser.all("input:not([type=hidden]), button").await {
        let name = control.label().await;
        assert!(
            !name.trim().is_empty(),
            "a control without an accessible name"
        );
    }
    let email = browser.one("#email").await;
    assert_eq!(email.label().await, "Email address");

    // A mistake is explained on the page, and what was typed is kept.
    browser
        .one("#email")
        .await
        .type_text("ann@example.org")
        .await;
    browser.one("#name").await.type_text("Ann Example").await;
    browser.one("button[type=submit]").await.click().await;
    browser.wait_text("choose at least one topic").await;
    assert_eq!(
        browser
            .one("#name")
            .await
            .attribute("value")
            .await
            .as_deref(),
        Some("Ann Example")
    );

    // Clicking the label ticks the box: the label belongs to it.
    browser.one("label[for=topic-news]").await.click().await;
    assert!(browser.one("#topic-news").await.selected().await);
    browser.one("button[type=submit]").await.click().await;
    browser.wait_title("Check your inbox").await;
    assert_eq!(subscriber(&ws, "ann@example.org")["status"], "pending");

    // The link in the confirmation email shows a button; opening it (as a
    // mail scanner would) confirms nothing, pressing the button does.
    sink.wait_for(1, Duration::from_secs(30));
    let message = &sink.messages()[0];
    let text = message["parts"][0]["text"].as_str().unwrap();
    let confirm = text
        .split_whitespace()
        .find(|w| w.contains("/confirm?t="))
        .expect("a confirmation link");
    browser.goto(confirm).await;
    browser.wait_title("Confirm your subscription").await;
    assert_eq!(browser.all("h1").await.len(), 1);
    assert_eq!(subscriber(&ws, "ann@example.org")["status"], "pending");
    let button = browser.one("button[type=submit]").await;
    assert_eq!(button.label().await, "Confirm my subscription");
    button.click().await;
    browser.wait_title("You are subscribed").await;
    assert_eq!(subscriber(&ws, "ann@example.org")["status"], "confirmed");

    // The page's own link leads to the topics, already ticked as chosen.
    browser.one("a[href*=preferences]").await.click().await;
    browser.wait_title("Your email topics").await;
    assert!(browser.one("#topic-news").await.selected().await);
    assert!(!browser.one("#topic-training").await.selected().await);
    browser.one("label[for=topic-training]").await.click().await;
    // How often: every item until a digest is chosen, per topic.
    assert!(browser.one("#cadence-news-item").await.selected().await);
    browser
        .one("label[for=cadence-news-weekly]")
        .await
        .click()
        .await;
    browser
        .one("form:not([action]) button[type=submit]")
        .await
        .click()
        .await;
    browser.wait_title("Saved").await;
    let topics = subscriber(&ws, "ann@example.org")["topics"].clone();
    assert_eq!(topics, serde_json::json!(["news", "training"]));
    let export = ws.crier(&["subscribers", "export", "ann@example.org"]);
    let export: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    let digests = &export["subscriptions"][0]["digests"];
    assert_eq!(digests, &serde_json::json!([["news", "weekly"]]));
    // The page shows the choice held.
    let preferences = browser.url().await;
    browser.goto(&preferences).await;
    browser.wait_title("Your email topics").await;
    assert!(browser.one("#cadence-news-weekly").await.selected().await);

    // Opening the unsubscribe link (as a mail scanner would) changes
    // nothing; pressing its button does, with no redirect.
    let manage = browser
        .url()
        .await
        .replace("/preferences?", "/unsubscribe?");
    browser.goto(&manage).await;
    browser.wait_title("Unsubscribe").await;
    assert_eq!(subscriber(&ws, "ann@example.org")["status"], "confirmed");
    browser.one("button[type=submit]").await.click().await;
    browser.wait_title("You have left").await;
    assert!(browser.url().await.contains("/lists/news/unsubscribe?t="));
    assert_eq!(subscriber(&ws, "ann@example.org")["status"], "unsubscribed");

    browser.quit().await;
    daemon.terminate();
}
