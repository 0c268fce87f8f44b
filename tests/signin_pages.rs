//! The sign-in pages as a person meets them: headless Chromium with
//! JavaScript off and axe-core auditing every page reached (WCAG 2.2 A/AA):
//! the first-run setup link creates the first admin, who turns on a second
//! factor, signs out, fails to sign in, and signs in.

mod support;

use support::browser::Browser;
use support::daemon::Workspace;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread")]
async fn the_setup_link_journey_has_no_axe_violations() {
    let Some(browser) = Browser::start_audited().await else {
        return;
    };
    let ws = Workspace::new("[channels.out]\nkind = \"discard\"\n", "");
    ws.write("campaigns/none.toml", "");
    let daemon = ws.start(&[]);
    let line = daemon.wait_log("setup_link", 1).remove(0);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let link = v["fields"]["setup_link"].as_str().unwrap().to_string();

    browser.goto(&link).await;
    browser.wait_title("Set up crier").await;
    for control in browser.all("input:not([type=hidden]), button").await {
        assert!(
            !control.label().await.trim().is_empty(),
            "a control without a name"
        );
    }
    let type_in = |css: &'static str, text: &'static str| {
        let browser = &browser;
        async move { browser.one(css).await.type_text(text).await }
    };
    type_in("#email", "ada@example.org").await;
    type_in("#password", "too short").await;
    type_in("#confirm", "too short").await;
    browser.one("button[type=submit]").await.click().await;
    browser.wait_text("There is a problem").await;
    type_in("#password", PASSWORD).await;
    type_in("#confirm", PASSWORD).await;
    browser.one("button[type=submit]").await.click().await;
    browser.wait_title("Your account").await;
    browser.wait_text("ada@example.org").await;

    browser.goto(&ws.url("/account/totp")).await;
    browser.wait_title("Set up a second factor").await;
    browser.one("button[type=submit]").await.click().await;
    browser.wait_text("Enter the 6-digit code").await;

    browser.goto(&ws.url("/account")).await;
    browser.wait_title("Your account").await;
    browser.one("button[type=submit]").await.click().await;
    browser.wait_title("Sign in").await;
    type_in("#email", "ada@example.org").await;
    type_in("#password", "not my password").await;
    browser.one("button[type=submit]").await.click().await;
    browser.wait_text("There is a problem").await;
    type_in("#password", PASSWORD).await;
    browser.one("button[type=submit]").await.click().await;
    browser.wait_title("Your account").await;
    // A used or unknown link is a page of its own too.
    browser.goto(&link).await;
    browser.wait_title("This link does not work").await;
    browser.quit().await;
}
