//! The console in headless Chromium on the shipped example: a person signs
//! in with a password, and every console page reached is audited by
//! axe-core (WCAG 2.0–2.2 A and AA); the way from the calendar to an item
//! works by keyboard alone; a review link's signed-out page and its "not
//! valid" page are audited too; and the pictures in docs/console/ (shown
//! in the README) are taken here, so they stay true.

mod support;

use std::path::PathBuf;

use support::browser::Browser;
use support::daemon::Workspace;

const PASSWORD: &str = "a long enough passphrase";
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

fn picture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/console")
        .join(name)
}

/// `crier users add`, then the person sets their password in the browser.
async fn person(browser: &Browser, ws: &Workspace, email: &str, role: &str) {
    let out = ws.crier(&["users", "add", email, "--role", role]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8_lossy(&out.stdout).trim().to_string();
    browser.goto(&link).await;
    browser.wait_title("Set your password").await;
    browser.one("#password").await.type_text(PASSWORD).await;
    browser.one("#confirm").await.type_text(PASSWORD).await;
    browser.one("button[type=submit]").await.click().await;
    browser.wait_text("Your password is set").await;
}

/// Opens `path`, signs in on the way (the console sends people to sign in
/// and back), and waits for a page whose title holds `title`.
async fn sign_in_to(browser: &Browser, ws: &Workspace, email: &str, path: &str, title: &str) {
    browser.goto(&ws.url(path)).await;
    browser.wait_title("Sign in").await;
    browser.one("#email").await.type_text(email).await;
    browser.one("#password").await.type_text(PASSWORD).await;
    browser.one("button[type=submit]").await.click().await;
    browser.wait_title(title).await;
}

/// git in `dir` as a person at a shell runs it; its output.
fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Setup",
            "-c",
            "user.email=setup@example.org",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn sign_out(browser: &Browser) {
    let buttons = browser.all("footer button[type=submit]").await;
    buttons[0].click().await;
    browser.wait_title("Sign in").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn console_pages_pass_axe_and_work_by_keyboard() {
    let Some(browser) = Browser::start_audited().await else {
        return;
    };
    let ws = Workspace::shipped_example();
    // Partners' systems take nothing unapproved, so the approvals page has work.
    let config = std::fs::read_to_string(ws.config()).unwrap();
    let config = config.replace(
        "kind = \"webhook\"",
        "kind = \"webhook\"\nrequire_approval = true",
    );
    // X posts in weekday slots, so the composer's "next free slot" has one.
    let config = config.replace("kind = \"x\"", "kind = \"x\"\nslots = [\"Mon-Fri 09:30\"]");
    // campaigns/ kept in git, and each save committed by whoever saved.
    ws.write(
        "channels.toml",
        &format!("{config}\n[console]\ngit_commit = true\n"),
    );
    let campaigns = ws.path().join("campaigns");
    git(&campaigns, &["init", "--quiet"]);
    git(&campaigns, &["add", "."]);
    git(
        &campaigns,
        &["commit", "--quiet", "-m", "the shipped example"],
    );
    let _daemon = ws.start(&[]);
    person(&browser, &ws, "pat@example.org", "publisher").await;
    person(&browser, &ws, "sam@example.org", "author").await;
    person(&browser, &ws, "ada@example.org", "admin").await;

    sign_in_to(
        &browser,
        &ws,
        "pat@example.org",
        "/console/?date=2026-12-01",
        "December 2026",
    )
    .await;
    assert!(browser.text().await.contains("Pause all publishing"));
    browser.screenshot(&picture("calendar.png"), 1280).await;
    for (view, date, title) in [
        ("week", "2026-12-01", "Week of 30 November 2026"),
        ("list", "2026-12-01", "December 2026"),
        ("day", "2026-12-03", "Thursday 3 December 2026"),
    ] {
        browser
            .goto(&ws.url(&format!("/console/?date={date}&view={view}")))
            .await;
        browser.wait_title(title).await;
    }

    // By keyboard alone: skip to the content, then on to an item.
    browser
        .goto(&ws.url("/console/?date=2026-12-01&view=list"))
        .await;
    browser.wait_title("December 2026").await;
    browser.keys(TAB).await;
    assert_eq!(browser.focused().await.text().await, "Skip to main content");
    browser.keys(ENTER).await;
    let mut reached = false;
    for _ in 0..60 {
        browser.keys(TAB).await;
        if browser.focused().await.text().await == "Children's MARS news update: December 2026" {
            reached = true;
            break;
        }
    }
    assert!(reached, "the item's link is reachable by Tab");
    browser.keys(ENTER).await;
    browser
        .wait_title("Children's MARS news update: December 2026")
        .await;
    browser.wait_text("History").await;
    browser.screenshot(&picture("item.png"), 1280).await;

    // The composer: a notice, previewed on every channel it goes to, the
    // answers checked, saved into campaigns/ through the API.
    browser.goto(&ws.url("/console/items/new")).await;
    browser.wait_title("What do you want to write?").await;
    browser
        .one("input[name=kind][value=notice]")
        .await
        .click()
        .await;
    browser.one("main button[type=submit]").await.click().await;
    browser.wait_title("New notice").await;
    for (field, text) in [
        ("#id", "office-closed-2026-12"),
        ("#title", "MARS office closed on 24 December"),
        ("#body", "The MARS business unit is closed on 24 December. In an emergency, call the police on 999."),
        ("#at-day", "22"),
        ("#at-month", "12"),
        ("#at-year", "2026"),
        ("#at-time", "10:00"),
    ] {
        browser.one(field).await.type_text(text).await;
    }
    for channel in ["website", "x", "bluesky", "partners-email"] {
        browser
            .one(&format!("input[name=channels][value={channel}]"))
            .await
            .click()
            .await;
    }
    // An email list sends by topic.
    browser
        .one("input[name=topics][value=news]")
        .await
        .click()
        .await;
    browser.one("button[value=preview]").await.click().await;
    browser
        .wait_text("Nothing is saved until you continue and save.")
        .await;
    browser.screenshot(&picture("composer.png"), 1280).await;
    // Each way of saying when, previewed with its next firings (the
    // script reveals only the chosen radio's fields).
    browser.one("#schedule-slot").await.click().await;
    for (field, text) in [
        ("#slot-day", "22"),
        ("#slot-month", "12"),
        ("#slot-year", "2026"),
        ("#slot-time", "10:00"),
    ] {
        browser.one(field).await.type_text(text).await;
    }
    browser.one("button[value=preview]").await.click().await;
    // Tuesday's 09:30 has gone by 10:00: X takes Wednesday's.
    browser
        .wait_text("Wednesday 23 December 2026, 9:30am")
        .await;
    browser.one("#schedule-cadence").await.click().await;
    browser
        .one("#campaign option[value='nomoreknives.toml']")
        .await
        .click()
        .await;
    browser.one("button[value=preview]").await.click().await;
    // The campaign's three undated posts have 7, 14 and 21 December.
    browser.wait_text("Monday 28 December 2026, 10am").await;
    browser.one("#schedule").await.click().await;
    browser.one("button[value=continue]").await.click().await;
    browser.wait_title("Check your answers before saving").await;
    browser.one("button[value=save]").await.click().await;
    browser
        .wait_title("MARS office closed on 24 December")
        .await;
    let saved =
        std::fs::read_to_string(ws.path().join("campaigns/office-closed-2026-12.toml")).unwrap();
    assert!(
        saved.contains("title = \"MARS office closed on 24 December\""),
        "{saved}"
    );
    // The save is a commit by the person who saved, and its history says so.
    assert_eq!(
        git(&campaigns, &["log", "-1", "--format=%ae %s"]).trim(),
        "pat@example.org created office-closed-2026-12"
    );
    browser
        .one("a[href='/console/items/office-closed-2026-12/history']")
        .await
        .click()
        .await;
    browser
        .wait_title("History of MARS office closed on 24 December")
        .await;
    browser.screenshot(&picture("history.png"), 1280).await;
    let text = browser.text().await;
    assert!(
        text.contains("pat@example.org")
            && text.contains("+title = \"MARS office closed on 24 December\""),
        "{text}"
    );

    // Approvals: the exact variants, then approve the news update.
    browser.goto(&ws.url("/console/approvals")).await;
    browser.wait_title("Approvals").await;
    browser.screenshot(&picture("approvals.png"), 1280).await;
    let approve = browser.all("button[type=submit]").await;
    let mut clicked = false;
    for b in approve {
        if b.label().await == "Approve item Children's MARS news update: December 2026" {
            b.click().await;
            clicked = true;
            break;
        }
    }
    assert!(clicked, "an Approve item button for the news update");
    browser.wait_text("was approved on every channel").await;

    browser.goto(&ws.url("/console/channels")).await;
    browser.wait_title("Channels").await;

    // The emergency pause: asked first, then a banner on every page.
    browser.goto(&ws.url("/console/?date=2026-12-01")).await;
    browser.wait_title("December 2026").await;
    let pause = browser.one("a.crier-pause").await;
    pause.click().await;
    browser
        .wait_title("Are you sure you want to pause all publishing?")
        .await;
    browser.one("main button[type=submit]").await.click().await;
    browser
        .wait_text("All publishing is paused. Paused since")
        .await;
    browser.goto(&ws.url("/console/resume")).await;
    browser.wait_title("Resume publishing").await;
    browser.one("main button[type=submit]").await.click().await;
    browser.wait_text("Publishing has resumed.").await;
    assert!(!browser.text().await.contains("All publishing is paused"));

    // An admin's pages: the subscribers.
    sign_out(&browser).await;
    sign_in_to(
        &browser,
        &ws,
        "ada@example.org",
        "/console/subscribers",
        "Subscribers",
    )
    .await;

    // A CSV import: refused without a file, then its results with the
    // line it could not take; the counts by topic show the new people.
    browser.goto(&ws.url("/console/subscribers/import")).await;
    browser.wait_title("Import subscribers").await;
    browser.one("main button[type=submit]").await.click().await;
    browser.wait_title("Error: Import subscribers").await;
    browser.wait_text("Select a CSV file").await;
    ws.write(
        "people.csv",
        "email,name,consent_at\nann@school.example,Ann,2026-01-05\nnot an address,Bob,2026-01-05\n",
    );
    let csv = ws.path().join("people.csv");
    browser
        .one("#file")
        .await
        .type_text(csv.to_str().unwrap())
        .await;
    browser
        .one("input[name=topics-partners-email][value=news]")
        .await
        .click()
        .await;
    browser.one("main button[type=submit]").await.click().await;
    browser.wait_title("Import results").await;
    browser
        .wait_text("1 imported into partners-email; 1 not added.")
        .await;
    browser.goto(&ws.url("/console/subscribers")).await;
    browser.wait_text("Subscribers by topic").await;

    // The test send's form, and its error summary (nothing sent).
    browser
        .goto(&ws.url("/console/items/news-update-2026-12/send-test"))
        .await;
    browser.wait_title("Send a test email").await;
    browser.one("main button[type=submit]").await.click().await;
    browser
        .wait_text("Enter between 1 and 10 email addresses")
        .await;
    assert_eq!(
        browser.focused().await.text().await.lines().next(),
        Some("There is a problem")
    );

    // An author sees neither the pause nor approval controls.
    sign_out(&browser).await;
    sign_in_to(
        &browser,
        &ws,
        "sam@example.org",
        "/console/items/news-update-2026-12",
        "news update",
    )
    .await;
    let text = browser.text().await;
    assert!(
        !text.contains("Pause all publishing") && !text.contains("Approve"),
        "{text}"
    );

    // A review link: made by the author, opened signed out as a DRAFT
    // page, counted on the item page, revoked, then refused.
    browser
        .one("a[href$='/review-links/new']")
        .await
        .click()
        .await;
    browser.wait_title("Share a draft for review").await;
    browser
        .one("#label")
        .await
        .type_text("Partnership scrutiny officer")
        .await;
    browser.one("main button[type=submit]").await.click().await;
    browser.wait_title("Review link made").await;
    let url = browser
        .one("#review-url")
        .await
        .property("value")
        .await
        .unwrap();
    let path = &url[url.find("/review/").expect("a review address")..];
    sign_out(&browser).await;
    browser.goto(&ws.url(path)).await;
    browser.wait_title("Draft for review: ").await;
    assert!(browser.text().await.contains("DRAFT"));
    sign_in_to(
        &browser,
        &ws,
        "sam@example.org",
        "/console/items/news-update-2026-12#review-links",
        "news update",
    )
    .await;
    browser.wait_text("Partnership scrutiny officer").await;
    browser
        .one("#review-links ~ table button.govuk-button--warning")
        .await
        .click()
        .await;
    browser.wait_text("The review link was revoked.").await;
    browser.goto(&ws.url(path)).await;
    browser.wait_title("This review link is not valid").await;
    browser.quit().await;
}
