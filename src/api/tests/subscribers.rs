//! Subscribers' personal data through the API: found, exported, erased.

use axum::http::StatusCode;
use serde_json::json;

use super::Fixture;
use crate::store::lists::NewSubscriber;

#[tokio::test]
async fn an_admin_finds_exports_and_erases_one_person() {
    let fx = Fixture::new().await;
    let lists = fx.state.services.store.lists();
    for (email, name) in [
        ("ann@school.example", "Ann Teacher"),
        ("bob@police.example", "Bob"),
    ] {
        let new = NewSubscriber {
            channel: "partners".into(),
            email: email.into(),
            name: Some(name.into()),
            organisation: None,
            topics: vec!["news".into()],
            method: "import".into(),
            wording: "test".into(),
            client_addr: None,
            confirmed_at: Some(chrono::Utc::now()),
            override_suppression: false,
        };
        lists
            .add_subscriber(&new, chrono::Utc::now())
            .await
            .unwrap();
    }
    let (status, _, page) = fx
        .as_role("admin", "GET", "/api/v1/subscribers?q=TEACHER", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["subscribers"][0]["email"], "ann@school.example");
    let (_, _, record) = fx
        .as_role(
            "admin",
            "GET",
            "/api/v1/subscribers/export?email=Ann@School.example",
            &[],
            None,
        )
        .await;
    assert!(
        record.to_string().contains("ann@school.example"),
        "{record}"
    );
    let (status, _, erased) = fx
        .as_role(
            "admin",
            "POST",
            "/api/v1/subscribers/erase",
            &[],
            Some(json!({ "email": "ann@school.example" })),
        )
        .await;
    assert_eq!(
        (status, erased["subscriptions"].clone()),
        (StatusCode::OK, json!(1)),
        "{erased}"
    );
    let (_, _, page) = fx
        .as_role("admin", "GET", "/api/v1/subscribers", &[], None)
        .await;
    assert_eq!(page["total"], 1, "{page}");
    assert!(!page.to_string().contains("ann@school.example"));
}

#[tokio::test]
async fn a_channel_without_a_list_is_refused_by_name() {
    let fx = Fixture::new().await;
    let (status, _, p) = fx
        .as_role("admin", "GET", "/api/v1/subscribers?channel=log", &[], None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(p["errors"][0]["field"], "channel");
}

/// A fixture with one list channel, `partners` (the example table of the
/// kind that keeps lists), whose mail server is a closed loopback port:
/// confirmation emails fail at once, without leaving the machine.
async fn with_a_list() -> Fixture {
    with_a_list_offering(false).await
}

/// The same, with daily and weekly digests offered when `digests`.
pub async fn with_a_list_offering(digests: bool) -> Fixture {
    let kind = crate::channels::registry::KINDS
        .iter()
        .find(|k| k.hooks.keeps_lists())
        .expect("a kind keeps lists");
    let example = (kind.example.expect("its example"))("partners");
    let mut table: toml_edit::DocumentMut = example.parse().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = table["channels"]["partners"].as_table_mut().unwrap();
    let keys: Vec<String> = options.iter().map(|(k, _)| k.to_string()).collect();
    for key in keys {
        if key.ends_with("_host") {
            options[&key] = toml_edit::value("127.0.0.1");
        } else if key.ends_with("_port") {
            options[&key] = toml_edit::value(i64::from(closed));
        }
    }
    let mut text = table.to_string();
    if digests {
        text.push_str("\n[channels.partners.digests]\ndaily = \"07:00\"\nweekly = \"Mon 07:00\"\n");
    }
    Fixture::with_channels(&text).await
}

/// A multipart/form-data body of text fields and one file.
pub fn form(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    const B: &str = "crier-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{B}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .bytes(),
        );
    }
    if let Some((filename, bytes)) = file {
        body.extend(
            format!(
                "--{B}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                 content-type: text/csv\r\n\r\n"
            )
            .bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{B}--\r\n").bytes());
    (format!("multipart/form-data; boundary={B}"), body)
}

async fn upload(
    fx: &Fixture,
    role: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let (content_type, body) = form(fields, file);
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/subscribers/import")
        .header("x-test-role", role)
        .header("content-type", content_type)
        .body(axum::body::Body::from(body))
        .unwrap();
    fx.call(request).await
}

async fn emails(fx: &Fixture) -> Vec<String> {
    let mut all: Vec<String> = fx
        .state
        .services
        .store
        .lists()
        .subscribers(Some("partners"), None)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.email)
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn an_admin_imports_a_csv_file_with_its_consent_evidence() {
    let fx = with_a_list().await;
    let csv = "email,name,consent_at,consent_wording\n\
               Ann@School.example,Ann Teacher,2026-01-05,Ticked the box at the March event\n\
               bob@police.example,Bob,2026-02-03T09:00:00Z,\n";
    let (status, _, done) = upload(
        &fx,
        "admin",
        &[("topics", "news")],
        Some(("people.csv", csv.as_bytes())),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (
            &done["channel"],
            &done["imported"],
            &done["confirmed"],
            &done["skipped"]
        ),
        (&json!("partners"), &json!(2), &json!(2), &json!(0)),
        "{done}"
    );
    assert_eq!(
        emails(&fx).await,
        ["ann@school.example", "bob@police.example"]
    );
    // The stated consent time and wording are the evidence kept; without
    // a wording, the file it came from.
    let lists = fx.state.services.store.lists();
    let ann = lists.export("ann@school.example").await.unwrap();
    let consent = &ann["subscriptions"][0]["consents"][0];
    assert_eq!(consent["method"], "import", "{ann}");
    assert_eq!(consent["wording"], "Ticked the box at the March event");
    assert!(consent["confirmed_at"]
        .as_str()
        .unwrap()
        .starts_with("2026-01-05"));
    let bob = lists.export("bob@police.example").await.unwrap();
    assert_eq!(
        bob["subscriptions"][0]["consents"][0]["wording"],
        "imported from people.csv"
    );

    // The same file again: nothing new, nothing refused.
    let (status, _, again) = upload(
        &fx,
        "admin",
        &[("channel", "partners"), ("topics", "news")],
        Some(("people.csv", csv.as_bytes())),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        (&again["imported"], &again["already_subscribed"]),
        (&json!(0), &json!(2)),
        "{again}"
    );
}

#[tokio::test]
async fn bad_lines_are_named_by_line_and_column_and_the_good_ones_imported() {
    let fx = with_a_list().await;
    let csv = "email,topics,consent_at\n\
               good@example.org,news,2026-01-01\n\
               not an address,news,2026-01-01\n\
               \"two@example.org\",\"news;gossip\",2026-01-01\n\
               late@example.org,news,yesterday\n\
               future@example.org,news,2099-01-01\n";
    let (status, _, done) = upload(&fx, "admin", &[], Some(("rows.csv", csv.as_bytes()))).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (&done["imported"], &done["skipped"]),
        (&json!(1), &json!(4))
    );
    let located: Vec<(u64, &str)> = done["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["line"].as_u64().unwrap(), p["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        located,
        [
            (3, "email"),
            (4, "topics"),
            (5, "consent_at"),
            (6, "consent_at")
        ],
        "{done}"
    );
    assert_eq!(emails(&fx).await, ["good@example.org"]);

    // Nothing importable: problem details, every line located in the file.
    let bad = "email\nnobody\n\nalso nobody\n";
    let (status, headers, problem) = upload(
        &fx,
        "admin",
        &[("topics", "news")],
        Some(("bad.csv", bad.as_bytes())),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(headers["content-type"], "application/problem+json");
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(
        errors
            .iter()
            .map(|e| (&e["file"], &e["line"], &e["field"]))
            .collect::<Vec<_>>(),
        [
            (&json!("bad.csv"), &json!(2), &json!("email")),
            (&json!("bad.csv"), &json!(4), &json!("email")),
        ],
        "{problem}"
    );
    // A file without an email column, or an unknown default topic, is
    // refused whole and names what to fix.
    let (status, _, p) = upload(
        &fx,
        "admin",
        &[],
        Some(("x.csv", b"name\nAnn\n".as_slice())),
    )
    .await;
    assert_eq!(
        (status, &p["errors"][0]["field"]),
        (StatusCode::BAD_REQUEST, &json!("file"))
    );
    let (status, _, p) = upload(
        &fx,
        "admin",
        &[("topics", "gossip")],
        Some(("x.csv", b"email\nann@example.org\n".as_slice())),
    )
    .await;
    assert_eq!(
        (status, &p["errors"][0]["field"]),
        (StatusCode::BAD_REQUEST, &json!("topics"))
    );
    assert_eq!(emails(&fx).await, ["good@example.org"]);
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_whole_with_413() {
    use crate::channels::import::MAX_IMPORT_BYTES;
    let fx = with_a_list().await;
    let row = "someone@example.org,news,2026-01-01\n";
    let mut csv = String::from("email,topics,consent_at\n");
    while csv.len() as u64 <= MAX_IMPORT_BYTES {
        csv.push_str(row);
    }
    let (status, headers, problem) =
        upload(&fx, "admin", &[], Some(("big.csv", csv.as_bytes()))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("at most 10 MB"),
        "{problem}"
    );
    // Far over: refused while the body is read.
    csv.push_str(&row.repeat(4096));
    let (status, headers, _) = upload(&fx, "admin", &[], Some(("big.csv", csv.as_bytes()))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(emails(&fx).await.is_empty());
}

#[tokio::test]
async fn only_an_admin_may_import() {
    let fx = with_a_list().await;
    let csv = b"email,topics,consent_at\nann@example.org,news,2026-01-01\n";
    for role in ["author", "approver", "publisher"] {
        let (status, _, p) = upload(&fx, role, &[], Some(("a.csv", csv.as_slice()))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}: {p}");
    }
    assert!(emails(&fx).await.is_empty());
}

#[tokio::test]
async fn rows_without_consent_evidence_await_confirmation_and_no_secret_is_answered() {
    let fx = with_a_list().await;
    let csv = b"email,topics\nann@example.org,news\n";
    let (status, _, done) = upload(&fx, "admin", &[], Some(("a.csv", csv.as_slice()))).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["awaiting_confirmation"], 1, "{done}");
    // The mail server is a closed port: the email was not sent, and the
    // answer says so for that line.
    let unsent = &done["confirmations_not_sent"][0];
    assert_eq!(
        (&unsent["line"], &unsent["field"]),
        (&json!(2), &json!("email")),
        "{done}"
    );
    // The link key signs the confirmation links: it and the links stay
    // on the server.
    let key_file = fx.file("data/credentials/partners.link_key");
    let key = std::fs::read_to_string(&key_file).expect("the list's link key");
    let answer = done.to_string();
    assert!(!answer.contains(key.trim()), "{answer}");
    assert!(!answer.contains("t="), "{answer}");
}

#[test]
fn the_document_describes_the_import_as_a_multipart_form_for_admins() {
    let doc = crate::api::openapi();
    let op = &doc["paths"]["/api/v1/subscribers/import"]["post"];
    assert_eq!(op["security"][0]["crier"][0], "personal_data", "{op}");
    let form = &op["requestBody"]["content"]["multipart/form-data"]["schema"];
    assert!(form.to_string().contains("ImportForm"), "{form}");
    for code in ["200", "413", "422"] {
        assert!(op["responses"].get(code).is_some(), "{code}: {op}");
    }
}

/// Someone on the partners list with `topics`, confirmed at `on`.
async fn confirmed_on(fx: &Fixture, email: &str, on: chrono::DateTime<chrono::Utc>) -> i64 {
    let new = NewSubscriber {
        channel: "partners".into(),
        email: email.into(),
        name: None,
        organisation: None,
        topics: vec!["news".into()],
        method: "api".into(),
        wording: "test".into(),
        client_addr: None,
        confirmed_at: Some(on),
        override_suppression: false,
    };
    match fx
        .state
        .services
        .store
        .lists()
        .add_subscriber(&new, on)
        .await
        .unwrap()
    {
        crate::store::lists::Added::Confirmed(s) => s.id,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn counts_by_topic_are_taken_at_each_local_month_end_from_the_history() {
    use chrono::{TimeZone, Utc};
    let mut fx = with_a_list_offering(true).await;
    let now = Utc.with_ymd_and_hms(2026, 5, 14, 12, 0, 0).unwrap();
    fx.state.services.clock = std::sync::Arc::new(crier_schedule::ManualClock::new(now));
    fx.app = crate::api::router(fx.state.clone());
    let ann = confirmed_on(
        &fx,
        "ann@example.org",
        Utc.with_ymd_and_hms(2026, 2, 10, 9, 0, 0).unwrap(),
    )
    .await;
    // 00:30 on 1 April in London (summer time): April's, not March's.
    confirmed_on(
        &fx,
        "bob@example.org",
        Utc.with_ymd_and_hms(2026, 3, 31, 23, 30, 0).unwrap(),
    )
    .await;
    confirmed_on(
        &fx,
        "cat@example.org",
        Utc.with_ymd_and_hms(2026, 5, 2, 9, 0, 0).unwrap(),
    )
    .await;
    let lists = fx.state.services.store.lists();
    lists
        .unsubscribe(ann, Utc.with_ymd_and_hms(2026, 4, 15, 9, 0, 0).unwrap())
        .await
        .unwrap();

    let (status, _, got) = fx
        .as_role(
            "admin",
            "GET",
            "/api/v1/subscribers/counts?months=3",
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(
        got["points"],
        json!([
            { "month": "2026-02", "at": "2026-03-01T00:00:00Z" },
            { "month": "2026-03", "at": "2026-03-31T23:00:00Z" },
            { "month": "2026-04", "at": "2026-04-30T23:00:00Z" },
            { "month": null, "at": "2026-05-14T12:00:00Z" },
        ])
    );
    let rows: Vec<(String, serde_json::Value)> = got["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["topic"].as_str().unwrap().to_string(),
                t["counts"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("news".into(), json!([1, 1, 1, 2])),
            ("briefings".into(), json!([0, 0, 0, 0])),
            ("training".into(), json!([0, 0, 0, 0])),
            ("campaigns".into(), json!([0, 0, 0, 0])),
        ],
        "{got}"
    );
    assert_eq!(got["topics"][0]["name"], "News updates");
    let (status, ..) = fx
        .as_role(
            "admin",
            "GET",
            "/api/v1/subscribers/counts?months=0",
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for role in ["author", "approver", "publisher"] {
        let (status, ..) = fx
            .as_role(role, "GET", "/api/v1/subscribers/counts", &[], None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}");
    }
}

#[tokio::test]
async fn each_list_says_what_it_offers() {
    let fx = with_a_list_offering(true).await;
    let (status, _, lists) = fx
        .as_role("admin", "GET", "/api/v1/subscribers/lists", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{lists}");
    assert_eq!(
        lists.as_array().unwrap().len(),
        1,
        "log and signed-off keep no list: {lists}"
    );
    assert_eq!(lists[0]["channel"], "partners");
    assert_eq!(lists[0]["digests"], json!(["daily", "weekly"]));
    assert_eq!(
        lists[0]["topics"][2],
        json!({ "id": "training", "name": "Training courses and events" })
    );
    let fx = with_a_list().await;
    let (_, _, lists) = fx
        .as_role("admin", "GET", "/api/v1/subscribers/lists", &[], None)
        .await;
    assert_eq!(lists[0]["digests"], json!([]));
}
