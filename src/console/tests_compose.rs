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

/// A channel with posting slots, a campaign with a cadence (its first
/// post takes Monday 4 March 2030 10:00), and an item already in
/// Monday 4 February's 09:30 slot.
async fn scheduling() -> Pages {
    let p =
        Pages::with_channels("[channels.timed]\nkind = \"discard\"\nslots = [\"Mon-Fri 09:30\"]\n")
            .await;
    let write = |file: &str, text: &str| std::fs::write(p.fx.file(file), text).unwrap();
    write(
        "campaigns/spring.toml",
        "[campaign]\nname = \"Spring\"\nchannels = [\"log\"]\ncadence = \"0 10 * * MON from 2030-03-04\"\n\n\
         [[post]]\nid = \"spring-1\"\ntitle = \"Spring one\"\nbody = \"First.\"\n",
    );
    write(
        "campaigns/early.toml",
        "[[item]]\nid = \"early\"\nkind = \"notice\"\ntitle = \"Early\"\nbody = \"Early.\"\n\
         at = \"2030-02-04 08:00\"\nslot = true\nchannels = [\"timed\"]\n",
    );
    p.fx.reload().await;
    p
}

/// The "Next firings" table: (due time, channel, what) per row.
fn firings(page: &str) -> Vec<(String, String, String)> {
    let table = between(
        page,
        "<table class=\"govuk-table\" id=\"firings\">",
        "</table>",
    );
    table
        .split("<time datetime=\"")
        .skip(1)
        .map(|row| {
            let cells: Vec<String> = row
                .split("<td class=\"govuk-table__cell\">")
                .skip(1)
                .take(2)
                .map(|c| c[..c.find("</td>").unwrap()].to_string())
                .collect();
            (between(row, "", "\""), cells[0].clone(), cells[1].clone())
        })
        .collect()
}

/// What the store planned for `item` after the save: (due, channel).
async fn planned(p: &Pages, item: &str) -> Vec<(String, String)> {
    let all = p.fx.state.store.list(&Default::default()).await.unwrap();
    let mut out: Vec<(String, String)> = all
        .iter()
        .filter(|d| d.item == item)
        .map(|d| (d.due_at.to_rfc3339(), d.channel.clone()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn each_schedule_choice_writes_its_fields_and_shows_the_firings_the_api_plans() {
    let p = scheduling().await;
    let uri = "/console/items/new?kind=notice";
    let (_, _, page) = p.visit(Some("author"), "GET", uri, "").await;
    // Without JavaScript every choice's fields are on the page.
    for control in [
        "id=\"schedule\"",
        "id=\"at-day\"",
        "id=\"slot-day\"",
        "id=\"campaign\"",
    ] {
        assert!(page.contains(control), "{control}: {page}");
    }
    assert!(page.contains("<option value=\"spring.toml\">Spring (1 post)</option>"));
    let base = |id: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("kind", "notice"),
            ("id", id),
            ("title", "A notice"),
            ("body", "Some words."),
            // Filled in every choice: only the chosen radio's are read.
            ("at-day", "3"),
            ("at-month", "2"),
            ("at-year", "2030"),
            ("at-time", "09:30"),
            ("slot-day", "4"),
            ("slot-month", "2"),
            ("slot-year", "2030"),
            ("slot-time", "09:00"),
        ]
    };
    // (choice, the fields it adds, the firings expected: due, channel, what)
    type Fields = &'static [(&'static str, &'static str)];
    type Firings = &'static [(&'static str, &'static str, &'static str)];
    let cases: [(&str, Fields, Firings); 3] = [
        (
            "at",
            &[("channels", "log"), ("channels", "timed")],
            &[
                ("2030-02-03T09:30:00+00:00", "log", "Publish"),
                ("2030-02-03T09:30:00+00:00", "timed", "Publish"),
            ],
        ),
        (
            // timed's first slot from 09:00 on Monday is taken by `early`.
            "slot",
            &[("channels", "log"), ("channels", "timed")],
            &[
                ("2030-02-04T09:00:00+00:00", "log", "Publish"),
                ("2030-02-05T09:30:00+00:00", "timed", "Publish"),
            ],
        ),
        (
            // The cadence's second Monday; the campaign's channel.
            "cadence",
            &[("campaign", "spring.toml")],
            &[("2030-03-11T10:00:00+00:00", "log", "Publish")],
        ),
    ];
    for (choice, extra, expected) in cases {
        let id: &'static str = match choice {
            "at" => "by-date",
            "slot" => "by-slot",
            _ => "by-cadence",
        };
        let mut fields = base(id);
        fields.push(("schedule", choice));
        fields.extend_from_slice(extra);
        let post = |action: &'static str| {
            let mut f = fields.clone();
            f.push(("action", action));
            form(&f)
        };
        let (status, _, page) = p.visit(Some("author"), "POST", uri, &post("preview")).await;
        assert_eq!(status, StatusCode::OK, "{choice}: {page}");
        let shown_in_preview = firings(&page);
        let (status, _, page) = p
            .visit(Some("author"), "POST", uri, &post("continue"))
            .await;
        assert_eq!(status, StatusCode::OK, "{choice}: {page}");
        let shown = firings(&page);
        assert_eq!(shown, shown_in_preview, "{choice}");
        let want: Vec<(String, String, String)> = expected
            .iter()
            .map(|(t, c, w)| (t.to_string(), c.to_string(), w.to_string()))
            .collect();
        assert_eq!(shown, want, "{choice}");
        let (status, _, page) = p.visit(Some("author"), "POST", uri, &post("save")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{choice}: {page}");
        // The API's plan, synced by the save, is what was shown.
        let mut from_page: Vec<(String, String)> =
            shown.into_iter().map(|(t, c, _)| (t, c)).collect();
        from_page.sort();
        assert_eq!(planned(&p, id).await, from_page, "{choice}");
    }
    let entry = |file: &str, id: &str| -> toml::Table {
        let text = std::fs::read_to_string(p.fx.file(file)).unwrap();
        let all: toml::Table = toml::from_str(&text).unwrap();
        let array = if file == "campaigns/spring.toml" {
            "post"
        } else {
            "item"
        };
        all[array]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"].as_str() == Some(id))
            .unwrap()
            .as_table()
            .unwrap()
            .clone()
    };
    let by_date = entry("campaigns/by-date.toml", "by-date");
    assert_eq!(by_date["at"].as_str(), Some("2030-02-03 09:30"));
    assert!(!by_date.contains_key("slot"));
    let by_slot = entry("campaigns/by-slot.toml", "by-slot");
    assert_eq!(by_slot["at"].as_str(), Some("2030-02-04 09:00"));
    assert_eq!(by_slot["slot"].as_bool(), Some(true));
    let by_cadence = entry("campaigns/spring.toml", "by-cadence");
    assert!(!by_cadence.contains_key("at") && !by_cadence.contains_key("channels"));
    assert!(!p.fx.file("campaigns/by-cadence.toml").exists());
}

#[tokio::test]
async fn a_schedule_without_its_date_or_campaign_is_named_in_the_error_summary() {
    let p = scheduling().await;
    let uri = "/console/items/new?kind=notice";
    let draft = |schedule: &'static str| {
        form(&[
            ("kind", "notice"),
            ("id", "undated"),
            ("title", "Undated"),
            ("body", "Words."),
            ("channels", "log"),
            ("schedule", schedule),
            // A date for another choice is not this one's.
            ("at-day", "3"),
            ("at-month", "2"),
            ("at-year", "2030"),
            ("at-time", "09:30"),
            ("action", "continue"),
        ])
    };
    for (schedule, link) in [
        (
            "slot",
            "<a href=\"#slot-day\">Enter the date from which to take the next free slot</a>",
        ),
        (
            "cadence",
            "<a href=\"#campaign\">Select the campaign whose cadence it follows</a>",
        ),
    ] {
        let (status, _, page) = p.visit(Some("author"), "POST", uri, &draft(schedule)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{schedule}");
        assert!(page.contains(link), "{schedule}: {page}");
        assert!(page.contains("class=\"govuk-error-message\""), "{page}");
        // The choice made is kept.
        assert!(
            page.contains(&format!("value=\"{schedule}\" checked")),
            "{schedule}: {page}"
        );
    }
    assert!(!p.fx.file("campaigns/undated.toml").exists());
}

#[tokio::test]
async fn an_edit_opens_at_its_schedule_and_offers_only_its_own_campaign() {
    let p = scheduling().await;
    let (_, _, page) = p
        .visit(Some("author"), "GET", "/console/items/early/edit", "")
        .await;
    assert!(page.contains("value=\"slot\" checked"), "{page}");
    assert!(page.contains(
        "id=\"slot-day\" name=\"slot-day\" type=\"text\" inputmode=\"numeric\" value=\"4\""
    ));
    assert!(
        !page.contains("value=\"cadence\""),
        "an item outside a campaign stays in its file: {page}"
    );
    let (_, _, page) = p
        .visit(Some("author"), "GET", "/console/items/spring-1/edit", "")
        .await;
    assert!(page.contains("value=\"cadence\" checked"), "{page}");
    assert!(
        page.contains("<option value=\"spring.toml\" selected>"),
        "{page}"
    );
    // Giving it a date takes it off the cadence.
    let version = between(&page, "name=\"version\" value=\"", "\"");
    let fields = [
        ("kind", "post"),
        ("title", "Spring one"),
        ("body", "First."),
        ("schedule", "at"),
        ("at-day", "1"),
        ("at-month", "4"),
        ("at-year", "2030"),
        ("at-time", "12:00"),
        ("campaign-own", "spring.toml"),
        ("version", &version),
        ("action", "save"),
    ];
    let uri = "/console/items/spring-1/edit";
    let (status, _, page) = p.visit(Some("author"), "POST", uri, &form(&fields)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(
        planned(&p, "spring-1").await,
        [("2030-04-01T11:00:00+00:00".to_string(), "log".to_string())],
        "12:00 in London's summer time"
    );
}
