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
