//! Items written through the API land in the TOML files people edit by
//! hand: checked first, versioned, and never overwriting a change.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::{Fixture, ITEMS};

async fn read(fx: &Fixture, id: &str) -> (String, Value) {
    let (status, headers, item) = fx
        .as_role("author", "GET", &format!("/api/v1/items/{id}"), &[], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{item}");
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", item["version"].as_str().unwrap()));
    (etag, item)
}

async fn put(fx: &Fixture, etag: &str, fields: &Value) -> (StatusCode, Value) {
    let (status, _, body) = fx
        .as_role(
            "author",
            "PUT",
            "/api/v1/items/course-a",
            &[("if-match", etag)],
            Some(json!({ "fields": fields })),
        )
        .await;
    (status, body)
}

fn courses(fx: &Fixture) -> String {
    std::fs::read_to_string(fx.file("campaigns/courses.toml")).unwrap()
}

#[tokio::test]
async fn an_update_changes_one_value_and_keeps_comments_layout_and_other_items() {
    let fx = Fixture::new().await;
    let (etag, item) = read(&fx, "course-a").await;
    assert_eq!(item["fields"]["title"], "Course A");
    let mut fields = item["fields"].clone();
    fields["title"] = json!("Course A, renamed");
    let (status, body) = put(&fx, &etag, &fields).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(format!("\"{}\"", body["version"].as_str().unwrap()), etag);
    let expected = ITEMS.replace(
        "title = \"Course A\"   # the short name",
        "title = \"Course A, renamed\"   # the short name",
    );
    assert_eq!(courses(&fx), expected);
}

/// A save renders the saved item's variants, once each: the variants its
/// check rendered are the ones planned, not rendered again to plan (issue
/// #11), and the other items' are reused, not rendered (issue #12).
#[tokio::test]
async fn a_save_renders_the_saved_items_variants_once() {
    let fx = Fixture::new().await;
    let (etag, item) = read(&fx, "course-a").await;
    let mut fields = item["fields"].clone();
    fields["title"] = json!("Course A, renamed");
    let (status, body) = put(&fx, &etag, &fields).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ws = fx.state.workspace();
    let pairs: usize = ws.items.iter().map(|i| i.channels.len()).sum();
    assert_eq!(pairs, 3, "course-a on two channels, course-b on one");
    assert_eq!(ws.renders.load(std::sync::atomic::Ordering::Relaxed), 2);
    // And what was planned is the saved variant.
    let planned = fx.state.store.list(&Default::default()).await.unwrap();
    let renamed = planned.iter().filter(|d| d.item == "course-a");
    assert_eq!(renamed.clone().count(), 2, "{planned:?}");
    for d in renamed {
        assert!(d.variant.text.starts_with("Course A, renamed"), "{d:?}");
    }
}

#[tokio::test]
async fn two_updates_from_the_same_version_one_wins_and_the_file_holds_it() {
    let fx = Fixture::new().await;
    let (etag, item) = read(&fx, "course-a").await;
    let (mut first, mut second) = (item["fields"].clone(), item["fields"].clone());
    first["title"] = json!("First");
    second["title"] = json!("Second");
    let (a, b) = tokio::join!(put(&fx, &etag, &first), put(&fx, &etag, &second));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{} {}",
        a.1,
        b.1
    );
    let winner = if a.0 == StatusCode::OK {
        "First"
    } else {
        "Second"
    };
    assert!(courses(&fx).contains(&format!("title = \"{winner}\"")));
    let loser = if a.0 == StatusCode::OK { &b.1 } else { &a.1 };
    assert!(loser["current_version"].is_string(), "{loser}");
}

#[tokio::test]
async fn a_hand_edit_after_reading_is_not_overwritten() {
    let fx = Fixture::new().await;
    let (etag, item) = read(&fx, "course-a").await;
    let by_hand = courses(&fx).replace("A first course.", "Edited by hand.");
    std::fs::write(fx.file("campaigns/courses.toml"), &by_hand).unwrap();
    let mut fields = item["fields"].clone();
    fields["title"] = json!("From the API");
    let (status, body) = put(&fx, &etag, &fields).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(courses(&fx), by_hand);
}

#[tokio::test]
async fn a_save_that_fails_check_is_refused_with_located_errors_and_writes_nothing() {
    let fx = Fixture::new().await;
    let (etag, item) = read(&fx, "course-a").await;
    let mut fields = item["fields"].clone();
    fields["channels"] = json!(["log", "no-such-channel"]);
    fields["at"] = json!("someday");
    let (status, body) = put(&fx, &etag, &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert!(errors.len() >= 2, "{body}");
    for e in errors {
        assert_eq!(e["file"], "campaigns/courses.toml", "{e}");
        assert!(
            e["line"].as_u64().unwrap() > 0 && e["column"].as_u64().unwrap() > 0,
            "{e}"
        );
    }
    // Each names the field it is about, for a form to show it there.
    let named: Vec<&str> = errors.iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(
        named.contains(&"fields.channels") && named.contains(&"fields.at"),
        "{body}"
    );
    assert_eq!(courses(&fx), ITEMS);
}

#[tokio::test]
async fn an_update_without_if_match_is_refused() {
    let fx = Fixture::new().await;
    let (_, item) = read(&fx, "course-a").await;
    let (status, _, body) = fx
        .as_role(
            "author",
            "PUT",
            "/api/v1/items/course-a",
            &[],
            Some(json!({ "fields": item["fields"] })),
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED, "{body}");
    assert_eq!(courses(&fx), ITEMS);
}

#[tokio::test]
async fn create_adds_to_a_new_file_and_refuses_a_duplicate_id() {
    let fx = Fixture::new().await;
    let fields = json!({
        "id": "course-c", "kind": "event", "title": "Course C",
        "at": "2030-02-01 09:00", "start": "2030-03-01 09:30", "end": "2030-03-01 16:00",
        "venue": "Church Square House", "booking_email": "mars@example.org", "channels": ["log"],
        "body": "A third course.\n\nBring a case to discuss.\n",
    });
    let (status, headers, body) = fx
        .as_role(
            "author",
            "POST",
            "/api/v1/items",
            &[],
            Some(json!({ "file": "2030.toml", "fields": fields })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(headers.contains_key("etag"));
    // Once saved, it is the content: readable and planned at once, without
    // waiting for the daemon's watcher (a person is sent to its page next).
    let (status, _, _) = fx
        .as_role("author", "GET", "/api/v1/items/course-c", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let planned = fx.state.store.list(&Default::default()).await.unwrap();
    assert!(planned.iter().any(|d| d.item == "course-c"), "{planned:?}");
    let text = std::fs::read_to_string(fx.file("campaigns/2030.toml")).unwrap();
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(
        parsed["item"][0]["body"].as_str(),
        Some("A third course.\n\nBring a case to discuss.\n")
    );
    let (status, _, body) = fx
        .as_role(
            "author",
            "POST",
            "/api/v1/items",
            &[],
            Some(json!({ "file": "courses.toml", "fields": fields })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate item id"),
        "{body}"
    );
    assert_eq!(courses(&fx), ITEMS);
}

#[tokio::test]
async fn a_file_name_outside_the_campaigns_folder_is_refused() {
    let fx = Fixture::new().await;
    let fields = json!({ "id": "stray", "kind": "notice", "title": "Stray", "at": "2030-02-01 09:00", "channels": ["log"], "body": "Never saved." });
    for file in [
        "../channels.toml",
        "sub/stray.toml",
        ".hidden.toml",
        "stray.txt",
    ] {
        let (status, _, body) = fx
            .as_role(
                "author",
                "POST",
                "/api/v1/items",
                &[],
                Some(json!({ "file": file, "fields": fields })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{file}: {body}");
        assert_eq!(body["errors"][0]["field"], "file");
    }
}

#[tokio::test]
async fn delete_removes_only_that_entry() {
    let fx = Fixture::new().await;
    let (etag, _) = read(&fx, "course-b").await;
    let (status, _, body) = fx
        .as_role(
            "author",
            "DELETE",
            "/api/v1/items/course-b",
            &[("if-match", &etag)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let text = courses(&fx);
    assert!(
        !text.contains("course-b") && text.contains("# the short name"),
        "{text}"
    );
}

#[tokio::test]
async fn a_draft_is_checked_and_previewed_without_saving() {
    let fx = Fixture::new().await;
    let draft = json!({ "fields": { "id": "draft-1", "kind": "notice", "title": "A draft",
        "at": "2030-02-01 09:00", "channels": ["log"], "body": "Not saved." } });
    let (status, _, result) = fx
        .as_role(
            "author",
            "POST",
            "/api/v1/check",
            &[],
            Some(json!({ "draft": draft })),
        )
        .await;
    assert_eq!(
        (status, result["ok"].clone()),
        (StatusCode::OK, json!(true)),
        "{result}"
    );
    assert_eq!(result["items"], 3);
    let (status, _, preview) = fx
        .as_role("author", "POST", "/api/v1/preview", &[], Some(draft))
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["variants"][0]["channel"], "log");
    assert!(preview["variants"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("A draft"));
    assert!(!fx.file("campaigns/draft-1.toml").exists());
}

/// `ids` lists just those items (unknown ones left out), in publish
/// order, with the other filters still applied.
#[tokio::test]
async fn a_listing_by_ids_gives_those_items_in_publish_order() {
    let fx = Fixture::new().await;
    let ids = |list: &Value| -> Vec<String> {
        let items = list["items"].as_array().unwrap();
        items
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let uri = "/api/v1/items?ids=course-b,no-such-item,course-a";
    let (status, _, list) = fx.as_role("author", "GET", uri, &[], None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        (ids(&list), &list["total"]),
        (
            vec!["course-a".to_string(), "course-b".to_string()],
            &json!(2)
        )
    );
    let uri = "/api/v1/items?ids=course-b,course-a&channel=signed-off";
    let (_, _, list) = fx.as_role("author", "GET", uri, &[], None).await;
    assert_eq!(ids(&list), ["course-a"]);
}
