//! The console's pages in process, without a socket, over the API's test
//! fixture (a workspace, a real SQLite store): every page × every role,
//! and what each page shows. The browser tests (tests/console.rs) audit
//! the same pages in Chromium.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

use super::{routes, Api, Console, PAGES};
use crate::access::Role;
use crate::api::tests::{Fixture, HeaderAuth};

pub struct Pages {
    pub fx: Fixture,
    pub app: Router,
}

impl Pages {
    pub async fn new() -> Pages {
        Pages::with(Fixture::new().await)
    }

    /// Over a fixture made some other way (another configuration).
    pub fn with(fx: Fixture) -> Pages {
        let app = routes(Console {
            api: Api::new(fx.app.clone()),
            auth: std::sync::Arc::new(HeaderAuth),
            workspace: fx.state.workspace.clone(),
        });
        Pages { fx, app }
    }

    /// A page as `role` sees it (no role: signed out); status, location, body.
    pub async fn visit(
        &self,
        role: Option<&str>,
        method: &str,
        uri: &str,
        form: &str,
    ) -> (StatusCode, String, String) {
        let mut r = Request::builder().method(method).uri(uri);
        if let Some(role) = role {
            r = r.header(header::COOKIE, format!("test-role={role}"));
        }
        let body = if method == "POST" {
            r = r.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(form.to_string())
        } else {
            Body::empty()
        };
        let res = self
            .app
            .clone()
            .oneshot(r.body(body).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(res.into_body(), 8 << 20)
            .await
            .unwrap();
        (
            status,
            location,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    pub async fn id_of(&self, item: &str, channel: &str) -> i64 {
        let all = self.fx.state.store.list(&Default::default()).await.unwrap();
        all.iter()
            .find(|d| d.item == item && d.channel == channel)
            .unwrap()
            .id
    }
}

fn concrete(path: &str, delivery: i64) -> String {
    path.replace("{id}/{action}", &format!("{delivery}/approve"))
        .replace("{item}/{decision}", "course-a/approve")
        .replace("{name}", "log")
        .replace("{id}", "course-a")
}

/// Every page: signed out → sign-in with a way back; each role → the page,
/// or a refusal from the server when the page's permission (or the API's)
/// is above the role.
#[tokio::test]
async fn every_page_for_every_role_and_no_one_signed_out() {
    let p = Pages::new().await;
    let held = p.id_of("course-a", "signed-off").await;
    let api_table = crate::api::permissions(&crate::api::openapi());
    // Every field any action page reads: the item, the version reviewed,
    // a reason, a person.
    let version =
        p.fx.state
            .workspace()
            .item("course-a")
            .unwrap()
            .origin
            .version
            .clone();
    let form = format!(
        "item=course-a&version={version}&reason=checked&email=ann%40school.example&kind=notice"
    );
    let mut wrong = Vec::new();
    for (method, path, permission) in PAGES {
        let uri = concrete(path, held);
        let form = &form;
        let (status, location, _) = p.visit(None, method, &uri, form).await;
        if status != StatusCode::SEE_OTHER || !location.starts_with("/signin?next=") {
            wrong.push(format!("{method} {path} signed out: {status} {location}"));
        }
        // An action page does what its API route does, under its permission.
        let api_permission = uri.strip_prefix("/console/deliveries/").map(|rest| {
            let action = rest.split('/').nth(1).unwrap();
            let route = format!("/api/v1/deliveries/{{id}}/{action}");
            api_table[&(axum::http::Method::POST, route)]
        });
        let needed = api_permission.map_or(permission.least_role(), |a| {
            a.least_role().max(permission.least_role())
        });
        for role in Role::ALL {
            let (status, _, body) = p.visit(Some(role.as_str()), method, &uri, form).await;
            let allowed = role >= needed;
            // Allowed: not refused (a form's own checks may still say 400).
            let refused = status == StatusCode::FORBIDDEN || status.is_server_error();
            let ok = if allowed {
                !refused
            } else {
                status == StatusCode::FORBIDDEN
            };
            if !ok {
                wrong.push(format!("{method} {path} as {role}: {status}"));
            }
            // A download (the subscriber export) is a file, not a page.
            let page = !path.ends_with("/export");
            if page && status == StatusCode::OK && body.matches("<h1").count() != 1 {
                wrong.push(format!("{method} {path} as {role}: not one h1"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn hiding_is_not_enforcement_an_author_cannot_approve_or_pause() {
    let p = Pages::new().await;
    let held = p.id_of("course-a", "signed-off").await;
    let (_, _, page) = p
        .visit(Some("author"), "GET", "/console/items/course-a", "")
        .await;
    assert!(!page.contains("Approve<"), "{page}");
    assert!(!page.contains("Pause all publishing"));
    let uri = format!("/console/deliveries/{held}/approve");
    let (status, _, body) = p.visit(Some("author"), "POST", &uri, "item=course-a").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let d = p.fx.state.store.get(held).await.unwrap().unwrap();
    assert!(!d.approved, "the API refused, so nothing changed");
    // An approver sees the control and it works.
    let (_, _, page) = p
        .visit(Some("approver"), "GET", "/console/items/course-a", "")
        .await;
    assert!(page.contains("Approve<"), "{page}");
    let (status, location, _) = p
        .visit(Some("approver"), "POST", &uri, "item=course-a")
        .await;
    assert_eq!(
        (status, location.as_str()),
        (
            StatusCode::SEE_OTHER,
            "/console/items/course-a?done=approve#deliveries"
        )
    );
    assert!(p.fx.state.store.get(held).await.unwrap().unwrap().approved);
    let (_, _, page) = p
        .visit(
            Some("approver"),
            "GET",
            "/console/items/course-a?done=approve",
            "",
        )
        .await;
    assert!(page.contains("The delivery was approved."));
    assert!(
        page.contains("approver@example.org"),
        "the history names the person: {page}"
    );
}

#[tokio::test]
async fn the_calendar_shows_each_item_on_its_local_day_with_its_states() {
    let p = Pages::new().await;
    let (status, _, page) = p
        .visit(Some("author"), "GET", "/console/?date=2030-01-01", "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<h1 class=\"govuk-heading-l\">January 2030</h1>"),
        "{page}"
    );
    assert!(page.contains("<title>January 2030 – Test Partnership</title>"));
    // Course A on the 10th, with both channels; course B on the 11th.
    let a = page
        .find("href=\"/console/items/course-a\"")
        .expect("course A");
    let b = page
        .find("href=\"/console/items/course-b\"")
        .expect("course B");
    let tenth = page.find("datetime=\"2030-01-10\"").unwrap();
    let eleventh = page.find("datetime=\"2030-01-11\"").unwrap();
    assert!(tenth < a && a < eleventh && eleventh < b);
    assert!(
        page.contains("Awaiting approval"),
        "signed-off needs approval"
    );
    // Rescheduling is a link to the date in the item's form.
    assert!(
        page.contains("href=\"/console/items/course-a/edit#at-day\">Change date"),
        "{page}"
    );
    let (status, _, form) = p
        .visit(Some("author"), "GET", "/console/items/course-a/edit", "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        form.contains("id=\"at-day\"") && form.contains("value=\"10\""),
        "{form}"
    );
    // Filtered by channel: only what goes to signed-off.
    let (_, _, page) = p
        .visit(
            Some("author"),
            "GET",
            "/console/?date=2030-01-01&channel=signed-off",
            "",
        )
        .await;
    assert!(page.contains("course-a") && !page.contains("/console/items/course-b"));
    // The next month is empty; the week view lists every day.
    let (_, _, page) = p
        .visit(
            Some("author"),
            "GET",
            "/console/?date=2030-02-01&view=list",
            "",
        )
        .await;
    assert!(page.contains("Nothing is planned"));
    let (_, _, page) = p
        .visit(
            Some("author"),
            "GET",
            "/console/?date=2030-01-10&view=week",
            "",
        )
        .await;
    assert!(
        page.contains("Week of 7 January 2030") && page.matches("<section").count() == 7,
        "{page}"
    );
}

#[tokio::test]
async fn the_pause_banner_says_since_when_and_by_whom() {
    let p = Pages::new().await;
    let (_, _, page) = p.visit(Some("publisher"), "GET", "/console/", "").await;
    assert!(page.contains("Pause all publishing") && !page.contains("All publishing is paused"));
    let who = crate::delivery::Actor::Person("pat@example.org".into());
    p.fx.state
        .store
        .set_paused(None, true, who, chrono::Utc::now())
        .await
        .unwrap();
    let (_, _, page) = p.visit(Some("author"), "GET", "/console/", "").await;
    assert!(
        page.contains("All publishing is paused. Paused since ")
            && page.contains("by pat@example.org."),
        "{page}"
    );
    assert!(
        !page.contains("Resume publishing"),
        "an author cannot resume"
    );
}
