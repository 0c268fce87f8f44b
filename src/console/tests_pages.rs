//! The approvals, pause and resume, channels and subscribers pages, in
//! process over the API's fixture: what each shows to which role, and
//! that each action changes the store as the API would.

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::json;

use super::tests::Pages;
use crate::delivery::{Actor, HoldReason, State};

fn version(p: &Pages, item: &str) -> String {
    let ws = p.fx.state.workspace();
    ws.item(item).unwrap().origin.version.clone()
}

#[tokio::test]
async fn an_approver_approves_an_item_as_shown_and_its_deliveries_are_approved() {
    let p = Pages::new().await;
    let (status, _, page) = p
        .visit(Some("author"), "GET", "/console/approvals", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<title>Approvals – Test Partnership</title>"));
    assert!(
        page.contains("Course A") && page.contains("signed-off"),
        "{page}"
    );
    assert!(
        page.contains("<pre class=\"crier-preview\">Course A</pre>"),
        "the exact variant: {page}"
    );
    assert!(!page.contains("Approve item"), "authors cannot approve");
    let (_, _, page) = p
        .visit(Some("approver"), "GET", "/console/approvals", "")
        .await;
    let v = version(&p, "course-a");
    assert!(
        page.contains(&format!("name=\"version\" value=\"{v}\"")),
        "{page}"
    );
    let form = format!("version={v}");
    let (status, location, body) = p
        .visit(
            Some("approver"),
            "POST",
            "/console/approvals/course-a/approve",
            &form,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location, "/console/approvals?done=approve&item=course-a");
    let held = p.id_of("course-a", "signed-off").await;
    assert!(p.fx.state.store.get(held).await.unwrap().unwrap().approved);
    let (_, _, page) = p.visit(Some("author"), "GET", &location, "").await;
    assert!(page.contains("course-a was approved on every channel."));
    assert!(page.contains("Nothing is waiting for approval."), "{page}");
}

#[tokio::test]
async fn an_author_cannot_approve_and_a_stale_version_is_refused_in_words() {
    let p = Pages::new().await;
    let held = p.id_of("course-a", "signed-off").await;
    let form = format!("version={}", version(&p, "course-a"));
    let uri = "/console/approvals/course-a/approve";
    let (status, _, _) = p.visit(Some("author"), "POST", uri, &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, page) = p.visit(Some("approver"), "POST", uri, "version=0000").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        page.contains("The item changed since you reviewed it"),
        "{page}"
    );
    assert!(!p.fx.state.store.get(held).await.unwrap().unwrap().approved);
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_its_author_sees_it() {
    let p = Pages::new().await;
    let held = p.id_of("course-a", "signed-off").await;
    let v = version(&p, "course-a");
    let uri = "/console/approvals/course-a/reject";
    let (status, _, page) = p
        .visit(
            Some("approver"),
            "POST",
            uri,
            &format!("version={v}&reason=+"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("<title>Error: Approvals"), "{page}");
    assert!(page.contains("There is a problem"));
    assert!(page.contains("href=\"#reason-course-a\""), "{page}");
    assert!(page.contains("govuk-form-group--error"));
    assert!(page.contains(
        "govuk-textarea govuk-textarea--error\" aria-describedby=\"reason-course-a-error\" id=\"reason-course-a\""
    ));
    let d = p.fx.state.store.get(held).await.unwrap().unwrap();
    assert!(d.last_error.is_none(), "nothing rejected: {d:?}");
    let form = format!("version={v}&reason=the+date+is+wrong");
    let (status, location, _) = p.visit(Some("approver"), "POST", uri, &form).await;
    assert_eq!(
        (status, location.as_str()),
        (
            StatusCode::SEE_OTHER,
            "/console/approvals?done=reject&item=course-a"
        )
    );
    let (_, _, page) = p
        .visit(Some("author"), "GET", "/console/approvals", "")
        .await;
    assert!(
        page.contains("Rejected by approver@example.org: the date is wrong"),
        "{page}"
    );
}

#[tokio::test]
async fn an_edit_after_approval_shows_the_approval_voided() {
    let p = Pages::new().await;
    let v = version(&p, "course-a");
    let form = format!("version={v}");
    p.visit(
        Some("approver"),
        "POST",
        "/console/approvals/course-a/approve",
        &form,
    )
    .await;
    let (_, _, page) = p
        .visit(Some("author"), "GET", "/console/approvals", "")
        .await;
    assert!(!page.contains("Approval voided"));
    let (_, _, item) =
        p.fx.as_role("author", "GET", "/api/v1/items/course-a", &[], None)
            .await;
    let mut fields = item["fields"].clone();
    fields["summary"] = json!("Now with a summary.");
    let etag = format!("\"{v}\"");
    let (status, _, answer) =
        p.fx.as_role(
            "author",
            "PUT",
            "/api/v1/items/course-a",
            &[("if-match", &etag)],
            Some(json!({ "fields": fields })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    p.fx.reload().await;
    let (_, _, page) = p
        .visit(Some("author"), "GET", "/console/approvals", "")
        .await;
    assert!(page.contains("Approval voided by an edit."), "{page}");
}

#[tokio::test]
async fn pause_asks_first_shows_the_banner_and_resume_takes_a_choice_each() {
    let p = Pages::new().await;
    let store = &p.fx.state.store;
    let (status, _, _) = p.visit(Some("author"), "POST", "/console/pause", "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!store.paused().await.unwrap().all);
    let (_, _, page) = p
        .visit(Some("publisher"), "GET", "/console/pause", "")
        .await;
    assert!(
        page.contains(
            "<h1 class=\"govuk-heading-l\">Are you sure you want to pause all publishing?</h1>"
        ),
        "{page}"
    );
    assert!(
        !store.paused().await.unwrap().all,
        "looking changes nothing"
    );
    let (status, location, _) = p
        .visit(Some("publisher"), "POST", "/console/pause", "")
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/console/pause")
    );
    assert!(store.paused().await.unwrap().all);
    let (_, _, page) = p.visit(Some("author"), "GET", "/console/", "").await;
    assert!(
        page.contains("All publishing is paused. Paused since ")
            && page.contains("by publisher@example.org."),
        "{page}"
    );
    // Three deliveries fell due while paused (as the dispatcher holds them).
    let ids = [
        p.id_of("course-a", "log").await,
        p.id_of("course-b", "log").await,
        p.id_of("course-a", "signed-off").await,
    ];
    for id in ids {
        store
            .hold(id, HoldReason::Paused, "paused", Actor::Daemon, Utc::now())
            .await
            .unwrap();
    }
    let (_, _, page) = p
        .visit(Some("publisher"), "GET", "/console/resume", "")
        .await;
    assert!(page.contains("3 deliveries fell due"), "{page}");
    assert!(page.contains(&format!("id=\"choice-{}-next_slot\"", ids[0])));
    let form = format!(
        "choice-{}=send_now&choice-{}=skip&choice-{}=next_slot",
        ids[0], ids[1], ids[2]
    );
    let (status, location, body) = p
        .visit(Some("publisher"), "POST", "/console/resume", &form)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    // The channel has no posting slots, so "next slot" leaves it held.
    assert_eq!(location, "/console/resume?done=resumed&decided=2&held=1");
    assert!(!store.paused().await.unwrap().all);
    let sent_now = store.get(ids[0]).await.unwrap().unwrap();
    assert!(sent_now.state == State::Planned && sent_now.due_at <= Utc::now());
    assert_eq!(
        store.get(ids[1]).await.unwrap().unwrap().state,
        State::Cancelled
    );
    assert_eq!(store.get(ids[2]).await.unwrap().unwrap().state, State::Held);
    let (_, _, page) = p.visit(Some("publisher"), "GET", &location, "").await;
    assert!(
        page.contains("Publishing has resumed. 2 overdue deliveries were decided. 1 still wait")
    );
    assert!(page.contains("1 delivery fell due") && !page.contains("All publishing is paused"));
}

#[tokio::test]
async fn channels_show_their_state_and_a_test_shows_its_result() {
    let p = Pages::new().await;
    let (status, _, page) = p
        .visit(Some("author"), "GET", "/console/channels", "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"channel-log\"") && page.contains("id=\"channel-signed-off\""));
    assert!(
        page.contains("discard") && page.contains("planned: 2"),
        "{page}"
    );
    assert!(!page.contains("Test connection"), "an author cannot test");
    let (status, _, _) = p
        .visit(Some("author"), "POST", "/console/channels/log/test", "")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    p.fx.state
        .store
        .set_channel_status("signed-off", Some("needs new credentials"), Utc::now())
        .await
        .unwrap();
    let (_, _, page) = p
        .visit(Some("publisher"), "GET", "/console/channels", "")
        .await;
    assert!(page.contains("Held: credentials") && page.contains("needs new credentials"));
    assert!(page.contains("Test connection"));
    let (status, _, page) = p
        .visit(Some("publisher"), "POST", "/console/channels/log/test", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Test of log: "), "{page}");
    assert!(page.contains("Nothing was posted."));
    let (status, _, _) = p
        .visit(Some("publisher"), "POST", "/console/channels/nope/test", "")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_admin_finds_one_person_sees_their_consent_exports_and_erases_them() {
    let p = Pages::new().await;
    let lists = p.fx.state.services.store.lists();
    for (email, name) in [
        ("ann@school.example", "Ann Teacher"),
        ("bob@police.example", "Bob"),
    ] {
        let new = crate::store::lists::NewSubscriber {
            channel: "partners".into(),
            email: email.into(),
            name: Some(name.into()),
            organisation: None,
            topics: vec!["news".into()],
            method: "import".into(),
            wording: "Sign up for news, version 3".into(),
            client_addr: None,
            confirmed_at: Some(Utc::now()),
            override_suppression: false,
        };
        lists.add_subscriber(&new, Utc::now()).await.unwrap();
    }
    let (status, _, _) = p
        .visit(Some("publisher"), "GET", "/console/subscribers", "")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "personal data is for admins");
    let (_, _, page) = p
        .visit(Some("admin"), "GET", "/console/subscribers?q=teacher", "")
        .await;
    assert!(
        page.contains("ann@school.example") && !page.contains("bob@police.example"),
        "{page}"
    );
    let person = "/console/subscribers/person?email=ann%40school.example";
    let (_, _, page) = p.visit(Some("admin"), "GET", person, "").await;
    assert!(
        page.contains("Sign up for news, version 3") && page.contains("import"),
        "{page}"
    );
    let (status, _, file) = p
        .visit(
            Some("admin"),
            "GET",
            "/console/subscribers/export?email=ann%40school.example",
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let record: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(
        record["subscriptions"][0]["subscriber"]["email"],
        "ann@school.example"
    );
    let (_, _, page) = p
        .visit(
            Some("admin"),
            "GET",
            "/console/subscribers/erase?email=ann%40school.example",
            "",
        )
        .await;
    assert!(page.contains("Are you sure you want to erase this person?"));
    assert_eq!(
        lists.subscribers(None, None).await.unwrap().len(),
        2,
        "asking erases nothing"
    );
    let (status, location, _) = p
        .visit(
            Some("admin"),
            "POST",
            "/console/subscribers/erase",
            "email=ann%40school.example",
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/console/subscribers?erased=1")
    );
    let left = lists.subscribers(None, None).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].email, "bob@police.example");
    let (_, _, page) = p.visit(Some("admin"), "GET", &location, "").await;
    assert!(page.contains("The person was erased: 1 subscription removed."));
}

#[tokio::test]
async fn approvals_show_ten_items_a_page_each_with_all_its_deliveries() {
    let p = Pages::new().await;
    let mut text = String::new();
    for i in 0..12 {
        text.push_str(&format!(
            "[[item]]\nid = \"many-{i:02}\"\nkind = \"notice\"\ntitle = \"Many {i}\"\n\
             at = \"2030-02-{:02} 10:00\"\nchannels = [\"signed-off\", \"log\"]\nbody = \"Notice {i}.\"\n\n",
            i + 1
        ));
    }
    std::fs::write(p.fx.file("campaigns/many.toml"), text).unwrap();
    p.fx.reload().await;
    // Course A (January) and many-00 … many-08 on the first page.
    let (status, _, first) = p
        .visit(Some("approver"), "GET", "/console/approvals", "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first.matches("class=\"crier-approval\"").count(), 10);
    assert!(first.contains("Course A") && first.contains("Many 8") && !first.contains("Many 9"));
    assert!(
        first.contains("rel=\"next\" href=\"/console/approvals?page=2\""),
        "{first}"
    );
    let (_, _, second) = p
        .visit(Some("approver"), "GET", "/console/approvals?page=2", "")
        .await;
    assert_eq!(second.matches("class=\"crier-approval\"").count(), 3);
    assert!(second.contains("Items 11 to 13") && second.contains("Many 11"));
    assert!(second.contains("rel=\"prev\"") && !second.contains("rel=\"next\""));
    // A refused rejection shows the page holding that item again.
    let v = version(&p, "many-10");
    let (status, _, again) = p
        .visit(
            Some("approver"),
            "POST",
            "/console/approvals/many-10/reject",
            &format!("version={v}&reason="),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(again.contains("id=\"reason-many-10\"") && again.contains("Items 11 to 13"));
}
