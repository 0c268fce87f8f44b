//! The composer through its pages, as an author would use it: the TOML
//! file is what it checks, before and after.

use axum::http::StatusCode;

use super::tests::Pages;

fn courses(p: &Pages) -> String {
    std::fs::read_to_string(p.fx.file("campaigns/courses.toml")).unwrap()
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

const NOTICE: [(&str, &str); 11] = [
    ("kind", "notice"),
    ("id", "office-closed"),
    ("title", "Office closed on Friday"),
    (
        "body",
        "The office is closed on Friday.\n\nCall 999 in an emergency.",
    ),
    ("at-day", "3"),
    ("at-month", "2"),
    ("at-year", "2030"),
    ("at-time", "09:30"),
    ("channels", "log"),
    ("topics-other", "news"),
    ("hashtags", "#Closed"),
];

fn with(action: &str) -> Vec<(&str, &str)> {
    let mut v = NOTICE.to_vec();
    v.push(("action", action));
    v
}

#[tokio::test]
async fn an_author_creates_a_notice_through_preview_and_check_answers() {
    let p = Pages::new().await;
    let (status, _, page) = p
        .visit(Some("author"), "GET", "/console/items/new", "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("value=\"notice\""), "{page}");
    let uri = "/console/items/new?kind=notice";
    let (status, _, page) = p.visit(Some("author"), "GET", uri, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<title>New notice – Test Partnership</title>"));
    assert!(page.contains("id=\"at-day\"") && page.contains("id=\"channels\""));
    // Preview: each channel's variant, with its text.
    let (status, _, page) = p
        .visit(Some("author"), "POST", uri, &form(&with("preview")))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("class=\"crier-previews\""), "{page}");
    assert!(
        page.contains("<h3 class=\"govuk-heading-s\">log <span")
            && page.contains("<pre class=\"crier-text\">Office closed on Friday"),
        "{page}"
    );
    // Continue: check your answers, with the draft carried in hidden fields.
    let (status, _, page) = p
        .visit(Some("author"), "POST", uri, &form(&with("continue")))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Check your answers before saving"), "{page}");
    assert!(page.contains("type=\"hidden\" name=\"at-year\" value=\"2030\""));
    assert!(page.contains("kind&#x3D;notice#title\""), "{page}");
    assert!(!p.fx.file("campaigns/office-closed.toml").exists());
    let (status, location, page) = p
        .visit(Some("author"), "POST", uri, &form(&with("save")))
        .await;
    assert_eq!(
        (status, location.as_str()),
        (
            StatusCode::SEE_OTHER,
            "/console/items/office-closed?done=saved"
        ),
        "{page}"
    );
    let text = std::fs::read_to_string(p.fx.file("campaigns/office-closed.toml")).unwrap();
    let saved: toml::Table = toml::from_str(&text).unwrap();
    let entry = &saved["item"][0];
    assert_eq!(entry["kind"].as_str(), Some("notice"));
    assert_eq!(entry["at"].as_str(), Some("2030-02-03 09:30"));
    assert_eq!(
        entry["body"].as_str(),
        Some("The office is closed on Friday.\n\nCall 999 in an emergency.\n")
    );
    assert_eq!(entry["topics"][0].as_str(), Some("news"));
    assert_eq!(entry["hashtags"][0].as_str(), Some("Closed"));
    p.fx.reload().await;
    assert!(p.id_of("office-closed", "log").await > 0);
    let (_, _, page) = p
        .visit(
            Some("author"),
            "GET",
            "/console/items/office-closed?done=saved",
            "",
        )
        .await;
    assert!(page.contains("The item was saved."), "{page}");
}

#[tokio::test]
async fn a_draft_failing_check_shows_errors_at_their_fields_and_writes_nothing() {
    let p = Pages::new().await;
    let before = courses(&p);
    let uri = "/console/items/course-a/edit";
    let (status, _, page) = p.visit(Some("author"), "GET", uri, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("value=\"Course A\""), "{page}");
    let version = between(&page, "name=\"version\" value=\"", "\"");
    // Missing pieces are found before the API is asked.
    let (status, _, page) = p
        .visit(
            Some("author"),
            "POST",
            uri,
            &form(&[
                ("kind", "notice"),
                ("title", ""),
                ("version", &version),
                ("action", "continue"),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("<title>Error: Change notice"), "{page}");
    assert!(
        page.contains("<a href=\"#title\">Enter a title</a>"),
        "{page}"
    );
    assert!(page.contains("id=\"title-error\""));
    // The API's check: an unknown channel, shown at the channels.
    let fields = [
        ("kind", "notice"),
        ("title", "Course A"),
        ("body", "A first course."),
        ("at-day", "10"),
        ("at-month", "1"),
        ("at-year", "2030"),
        ("at-time", "10:00"),
        ("channels", "log"),
        ("channels-other", "no-such-channel"),
        ("version", &version),
        ("action", "save"),
    ];
    let (status, _, page) = p.visit(Some("author"), "POST", uri, &form(&fields)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("There is a problem"));
    assert!(page.contains("<a href=\"#channels\">"), "{page}");
    assert!(page.contains("no-such-channel"));
    assert_eq!(courses(&p), before, "nothing was written");
}

#[tokio::test]
async fn a_stale_edit_shows_the_other_change_and_does_not_overwrite() {
    let p = Pages::new().await;
    let uri = "/console/items/course-a/edit";
    let (_, _, page) = p.visit(Some("author"), "GET", uri, "").await;
    let version = between(&page, "name=\"version\" value=\"", "\"");
    let by_hand = courses(&p).replace("title = \"Course A\"", "title = \"Course A (moved)\"");
    std::fs::write(p.fx.file("campaigns/courses.toml"), &by_hand).unwrap();
    let fields = [
        ("kind", "notice"),
        ("title", "Course A, my words"),
        ("body", "A first course."),
        ("at-day", "10"),
        ("at-month", "1"),
        ("at-year", "2030"),
        ("at-time", "10:00"),
        ("channels", "log"),
        ("channels", "signed-off"),
        ("version", &version),
        ("action", "save"),
    ];
    let (status, _, page) = p.visit(Some("author"), "POST", uri, &form(&fields)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert_eq!(courses(&p), by_hand, "their change is kept");
    assert!(page.contains("Someone else changed this item"), "{page}");
    assert!(page.contains("Course A (moved)"), "their value is shown");
    assert!(
        page.contains("value=\"Course A, my words\""),
        "mine is kept"
    );
    let newer = between(&page, "name=\"version\" value=\"", "\"");
    assert_ne!(newer, version, "saving again is against their version");
}

fn between(page: &str, start: &str, end: &str) -> String {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {page}"))
        + start.len();
    page[from..][..page[from..].find(end).unwrap()].to_string()
}

#[tokio::test]
async fn every_kind_has_a_form_with_labelled_unique_controls() {
    let p = Pages::new().await;
    for kind in ["news", "briefing", "event", "notice", "post"] {
        let uri = format!("/console/items/new?kind={kind}");
        let (status, _, page) = p.visit(Some("author"), "GET", &uri, "").await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        let ids: Vec<&str> = page
            .split(" id=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect();
        let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{kind}: duplicate ids {ids:?}");
        for control in page.split("<input class=\"govuk-").skip(1) {
            let id = between(control, "id=\"", "\"");
            assert!(
                page.contains(&format!("for=\"{id}\"")),
                "{kind}: {id} unlabelled"
            );
        }
    }
    let (_, _, page) = p
        .visit(Some("author"), "GET", "/console/items/new?kind=event", "")
        .await;
    for field in [
        "start-day",
        "venue",
        "booking_url",
        "booking_deadline-time",
        "reminders",
    ] {
        assert!(page.contains(&format!("id=\"{field}\"")), "{field}");
    }
}
