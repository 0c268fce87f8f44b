//! The queue through the API: paging, controls, and approval bound to the
//! item's version.

use axum::http::StatusCode;
use serde_json::json;

use super::Fixture;

#[tokio::test]
async fn deliveries_page_through_the_whole_queue_without_repeats() {
    let fx = Fixture::new().await;
    let mut seen = Vec::new();
    let mut uri = "/api/v1/deliveries?limit=1".to_string();
    loop {
        let (status, _, page) = fx.as_role("author", "GET", &uri, &[], None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for d in page["deliveries"].as_array().unwrap() {
            seen.push(d["id"].as_i64().unwrap());
        }
        match page["next"].as_str() {
            Some(next) => uri = format!("/api/v1/deliveries?limit=1&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen);
}

#[tokio::test]
async fn approving_an_item_needs_the_version_reviewed_and_names_it_in_the_history() {
    let fx = Fixture::new().await;
    let (_, headers, _) = fx
        .as_role("author", "GET", "/api/v1/items/course-a", &[], None)
        .await;
    let etag = headers["etag"].to_str().unwrap().to_string();
    let (status, _, p) = fx
        .as_role(
            "approver",
            "POST",
            "/api/v1/items/course-a/approve",
            &[("if-match", "\"0000\"")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    assert_eq!(
        p["current_version"].as_str().map(|v| format!("\"{v}\"")),
        Some(etag.clone())
    );
    let (status, _, decision) = fx
        .as_role(
            "approver",
            "POST",
            "/api/v1/items/course-a/approve",
            &[("if-match", &etag)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decision}");
    let held = decision["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == "signed-off")
        .unwrap()
        .clone();
    assert_eq!(held["approved"], true);
    let uri = format!("/api/v1/deliveries/{}", held["id"]);
    let (_, _, detail) = fx.as_role("author", "GET", &uri, &[], None).await;
    let last = detail["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"], "person:approver@example.org");
    assert_eq!(
        last["reason"],
        format!("approved version {}", etag.trim_matches('"'))
    );
}

#[tokio::test]
async fn an_edit_after_approval_voids_it() {
    let fx = Fixture::new().await;
    let (_, headers, item) = fx
        .as_role("author", "GET", "/api/v1/items/course-a", &[], None)
        .await;
    let etag = headers["etag"].to_str().unwrap().to_string();
    fx.as_role(
        "approver",
        "POST",
        "/api/v1/items/course-a/approve",
        &[("if-match", &etag)],
        None,
    )
    .await;
    let mut fields = item["fields"].clone();
    fields["summary"] = json!("Now with a summary.");
    let (status, _, p) = fx
        .as_role(
            "author",
            "PUT",
            "/api/v1/items/course-a",
            &[("if-match", &etag)],
            Some(json!({ "fields": fields })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    fx.reload().await;
    let (_, _, page) = fx
        .as_role(
            "author",
            "GET",
            "/api/v1/deliveries?item=course-a&channel=signed-off",
            &[],
            None,
        )
        .await;
    assert_eq!(page["deliveries"][0]["approved"], false, "{page}");
}

#[tokio::test]
async fn a_rejection_keeps_it_held_with_the_reason_for_the_author() {
    let fx = Fixture::new().await;
    let (_, headers, _) = fx
        .as_role("author", "GET", "/api/v1/items/course-a", &[], None)
        .await;
    let etag = headers["etag"].to_str().unwrap().to_string();
    let (status, _, p) = fx
        .as_role(
            "approver",
            "POST",
            "/api/v1/items/course-a/reject",
            &[("if-match", &etag)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a reason is required: {p}");
    let (status, _, decision) = fx
        .as_role(
            "approver",
            "POST",
            "/api/v1/items/course-a/reject",
            &[("if-match", &etag)],
            Some(json!({ "reason": "the date is wrong" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decision}");
    for d in decision["deliveries"].as_array().unwrap() {
        assert_eq!(d["state"], "held:approval");
        assert_eq!(
            d["last_error"],
            "rejected by person:approver@example.org: the date is wrong"
        );
    }
}

#[tokio::test]
async fn pause_and_resume_name_who_and_unknown_channels_are_refused() {
    let fx = Fixture::new().await;
    let (status, _, p) = fx
        .as_role(
            "publisher",
            "POST",
            "/api/v1/pause",
            &[],
            Some(json!({ "channel": "nope" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(p["errors"][0]["field"], "channel");
    let (status, _, paused) = fx
        .as_role("publisher", "POST", "/api/v1/pause", &[], None)
        .await;
    assert_eq!(
        (status, paused["all"].clone()),
        (StatusCode::OK, json!(true))
    );
    let (status, _, r) = fx
        .as_role(
            "publisher",
            "POST",
            "/api/v1/resume",
            &[],
            Some(json!({ "overdue": "send_now" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert!(!fx.state.store.paused().await.unwrap().all);
}

#[tokio::test]
async fn the_audit_log_says_who_changed_an_item_and_who_approved_it() {
    let fx = Fixture::new().await;
    let (_, headers, item) = fx
        .as_role("author", "GET", "/api/v1/items/course-b", &[], None)
        .await;
    let etag = headers["etag"].to_str().unwrap().to_string();
    let mut fields = item["fields"].clone();
    fields["title"] = json!("Course B, moved");
    let (status, _, saved) = fx
        .as_role(
            "author",
            "PUT",
            "/api/v1/items/course-b",
            &[("if-match", &etag)],
            Some(json!({ "fields": fields })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (status, _, log) = fx
        .as_role("author", "GET", "/api/v1/audit?item=course-b", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(log[0]["actor"], "person:author@example.org");
    assert_eq!(
        log[0]["what"],
        format!("updated to version {}", saved["version"].as_str().unwrap())
    );
}

#[tokio::test]
async fn with_separate_approvers_the_last_writer_may_not_approve() {
    let fx = Fixture::new().await;
    let config = std::fs::read_to_string(fx.file("channels.toml")).unwrap();
    std::fs::write(
        fx.file("channels.toml"),
        config + "\n[auth]\nseparate_approver = true\n",
    )
    .unwrap();
    fx.reload().await;
    let (_, headers, item) = fx
        .as_role("approver", "GET", "/api/v1/items/course-a", &[], None)
        .await;
    let etag = headers["etag"].to_str().unwrap().to_string();
    let mut fields = item["fields"].clone();
    fields["title"] = json!("Course A, by the approver");
    let (status, _, saved) = fx
        .as_role(
            "approver",
            "PUT",
            "/api/v1/items/course-a",
            &[("if-match", &etag)],
            Some(json!({ "fields": fields })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    fx.reload().await;
    let etag = format!("\"{}\"", saved["version"].as_str().unwrap());
    let (status, _, p) = fx
        .as_role(
            "approver",
            "POST",
            "/api/v1/items/course-a/approve",
            &[("if-match", &etag)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    // Someone else may: the admin is another person.
    let (status, _, decision) = fx
        .as_role(
            "admin",
            "POST",
            "/api/v1/items/course-a/approve",
            &[("if-match", &etag)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decision}");
}

#[tokio::test]
async fn channels_show_their_latest_failure_and_never_a_secret() {
    let fx = Fixture::new().await;
    let store = &fx.state.store;
    let far = chrono::Utc::now() + chrono::TimeDelta::days(5 * 365);
    let leased = store
        .lease_due(far, 10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let on_log = leased.iter().find(|d| d.channel == "log").unwrap();
    store
        .record_failed(on_log.id, "410 gone", now)
        .await
        .unwrap();
    let (status, _, channels) = fx
        .as_role("author", "GET", "/api/v1/channels", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{channels}");
    let log = channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "log")
        .unwrap();
    assert_eq!(log["last_error"], "410 gone");
    assert!(
        log["last_failed"].is_string() && log["last_sent"].is_null(),
        "{log}"
    );
}

#[tokio::test]
async fn the_queue_lists_what_awaits_approval_until_it_is_approved() {
    let fx = Fixture::new().await;
    let uri = "/api/v1/deliveries?awaiting_approval=true";
    let (status, _, page) = fx.as_role("author", "GET", uri, &[], None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let waiting = page["deliveries"].as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{page}");
    assert_eq!(waiting[0]["channel"], "signed-off");
    let (_, headers, _) = fx
        .as_role("author", "GET", "/api/v1/items/course-a", &[], None)
        .await;
    let etag = headers["etag"].to_str().unwrap().to_string();
    fx.as_role(
        "approver",
        "POST",
        "/api/v1/items/course-a/approve",
        &[("if-match", &etag)],
        None,
    )
    .await;
    let (_, _, page) = fx.as_role("author", "GET", uri, &[], None).await;
    assert_eq!(page["deliveries"], json!([]), "{page}");
}

#[tokio::test]
async fn resume_takes_a_decision_for_each_overdue_delivery() {
    let fx = Fixture::new().await;
    let store = fx.state.store.as_ref();
    let all = store.list(&Default::default()).await.unwrap();
    for d in &all {
        store
            .hold(
                d.id,
                crate::delivery::HoldReason::Paused,
                "paused",
                crate::delivery::Actor::Daemon,
                chrono::Utc::now(),
            )
            .await
            .unwrap();
    }
    let (first, second) = (all[0].id, all[1].id);
    let body = json!({
        "overdue": "skip",
        "decisions": [{ "id": first, "overdue": "send_now" }, { "id": second, "overdue": "next_slot" }],
    });
    let (status, _, r) = fx
        .as_role("publisher", "POST", "/api/v1/resume", &[], Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let state = |id: i64| {
        let rows = r["decided"]
            .as_array()
            .unwrap()
            .iter()
            .chain(r["held"].as_array().unwrap());
        rows.clone().find(|d| d["id"] == id).unwrap()["state"].clone()
    };
    // No posting slots here: "next slot" leaves it held for another choice.
    assert_eq!(state(first), "due");
    assert_eq!(state(second), "held:paused");
    assert_eq!(state(all[2].id), "cancelled", "the rest take `overdue`");
}
