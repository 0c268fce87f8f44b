//! An item's history page and the item page's block, in process over the
//! API's fixture: the diff in words and marks, and a save git did not
//! record said on the item's page.

use axum::http::StatusCode;
use serde_json::json;

use super::tests::Pages;
use crate::api::tests::Fixture;

/// Saves course-a through the API as `role` with a new title.
async fn retitle(p: &Pages, role: &str, title: &str) {
    let (_, headers, item) =
        p.fx.as_role(role, "GET", "/api/v1/items/course-a", &[], None)
            .await;
    let etag = headers["etag"].to_str().unwrap().to_string();
    let mut fields = item["fields"].clone();
    fields["title"] = json!(title);
    let (status, _, body) =
        p.fx.as_role(
            role,
            "PUT",
            "/api/v1/items/course-a",
            &[("if-match", &etag)],
            Some(json!({ "fields": fields })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_history_page_shows_each_version_with_who_when_and_a_diff_in_words() {
    let p = Pages::over(Fixture::new().await);
    let (_, _, page) = p
        .visit(Some("author"), "GET", "/console/items/course-a/history", "")
        .await;
    assert!(
        page.contains("<title>History of Course A – Test Partnership</title>"),
        "{page}"
    );
    assert!(page.contains("No earlier versions are recorded."), "{page}");

    retitle(&p, "publisher", "Course A, renamed").await;
    let (status, _, page) = p
        .visit(Some("author"), "GET", "/console/items/course-a/history", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<h1 class=\"govuk-heading-l\">History of Course A, renamed</h1>"));
    assert!(page.contains("publisher@example.org"), "{page}");
    assert!(
        page.contains("lines starting with <code>+</code> were added"),
        "the legend says what + and - mean: {page}"
    );
    assert!(
        // (Handlebars' escaping writes `=` as `&#x3D;`.)
        page.contains("<del>-title &#x3D; &quot;Course A&quot;   # the short name</del>")
            && page.contains(
                "<ins>+title &#x3D; &quot;Course A, renamed&quot;   # the short name</ins>"
            ),
        "{page}"
    );
    // The item page leads here.
    let (_, _, item) = p
        .visit(Some("author"), "GET", "/console/items/course-a", "")
        .await;
    assert!(
        item.contains("href=\"/console/items/course-a/history\">Earlier versions of this item</a>"),
        "{item}"
    );
    assert!(!item.contains("not recorded in git"), "{item}");
}

#[tokio::test]
async fn a_save_git_did_not_record_is_said_on_the_item_page() {
    let fx = Fixture::with_channels("[console]\ngit_commit = true\n").await;
    // Not a repository: its `.git` points nowhere.
    std::fs::write(
        fx.file("campaigns/.git"),
        "gitdir: /nonexistent/crier-test\n",
    )
    .unwrap();
    let p = Pages::over(fx);
    retitle(&p, "author", "Saved anyway").await;
    let (status, _, page) = p
        .visit(Some("author"), "GET", "/console/items/course-a", "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(
            "The latest save is in the campaign file but was not recorded in git: \
             fatal: not a git repository: /nonexistent/crier-test"
        ),
        "{page}"
    );
    let (_, _, history) = p
        .visit(Some("author"), "GET", "/console/items/course-a/history", "")
        .await;
    assert!(
        history.contains("These versions are not from git: fatal: not a git repository"),
        "{history}"
    );
}
