//! Review links in the console, in process over the API's fixture: made
//! from the item page with the address shown once, opened signed out as a
//! DRAFT that is not indexed, cached or sent as a referrer, each view
//! counted on the item page, and revoked with one button.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use tower::ServiceExt;

use super::tests::Pages;

/// The review page as a visitor without an account gets it.
async fn open(p: &Pages, path: &str) -> (StatusCode, HeaderMap, String) {
    let request = Request::get(path)
        .header(header::USER_AGENT, "Mozilla/5.0 (reviewer)")
        .body(Body::empty())
        .unwrap();
    let res = p.app.clone().oneshot(request).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 8 << 20).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// The address the made-link page shows in its copy box, as a path.
fn shown_path(page: &str) -> String {
    let start = page.find("id=\"review-url\"").expect("the copy box");
    let value = &page[start..];
    let value = &value[value.find("value=\"").unwrap() + 7..];
    let url = &value[..value.find('"').unwrap()];
    url[url.find("/review/").expect("a review address")..].to_string()
}

fn title_and_h1(page: &str) -> (String, String) {
    let between = |open: &str, close: &str| {
        let s = &page[page.find(open).unwrap() + open.len()..];
        s[s.find('>').unwrap() + 1..s.find(close).unwrap()].to_string()
    };
    (between("<title", "</title>"), between("<h1", "</h1>"))
}

#[tokio::test]
async fn an_author_shares_a_draft_the_reviewer_sees_it_signed_out_and_it_is_revoked() {
    let p = Pages::new().await;
    let (status, _, form) = p
        .visit(
            Some("author"),
            "GET",
            "/console/items/course-a/review-links/new",
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{form}");
    let (status, _, made) = p
        .visit(
            Some("author"),
            "POST",
            "/console/items/course-a/review-links/new",
            "label=Scrutiny+officer&expires_in_days=3",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert!(
        made.contains("This is the only time the link is shown"),
        "{made}"
    );
    let path = shown_path(&made);

    let (status, headers, review) = open(&p, &path).await;
    assert_eq!(status, StatusCode::OK, "{review}");
    assert_eq!(headers["x-robots-tag"], "noindex, nofollow");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(review.contains("<meta name=\"robots\" content=\"noindex, nofollow\">"));
    assert!(review.contains(">DRAFT</strong>"), "{review}");
    assert!(
        review.contains("<pre class=\"crier-text\">Course A"),
        "the variant: {review}"
    );
    assert_eq!(
        review.matches("<article class=\"crier-preview\">").count(),
        2,
        "{review}"
    );
    assert!(!review.contains("Sign out"), "no console frame: {review}");
    let (title, h1) = title_and_h1(&review);
    assert_eq!(review.matches("<h1").count(), 1);
    assert!(title.starts_with(&h1), "{title} / {h1}");
    assert_eq!(h1, "Draft for review: Course A");

    // The item page lists it with its maker and view, and a Revoke button.
    let (_, _, item) = p
        .visit(Some("author"), "GET", "/console/items/course-a", "")
        .await;
    let section = &item[item.find("id=\"review-links\"").expect("the section")..];
    assert!(section.contains("Scrutiny officer"), "{section}");
    assert!(section.contains("author@example.org"), "{section}");
    assert!(
        section.contains("<td class=\"govuk-table__cell\">1<br>"),
        "one view: {section}"
    );
    assert!(!item.contains(&path), "the secret is shown once only");
    let link = p.fx.state.store.review_links("course-a").await.unwrap();
    let revoke = format!("/console/review-links/{}/revoke", link[0].id);
    assert!(section.contains(&revoke), "{section}");
    assert!(section.contains("govuk-button--warning"), "{section}");

    let (status, location, _) = p
        .visit(Some("author"), "POST", &revoke, "item=course-a")
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location,
        "/console/items/course-a?done=review-revoked#review-links"
    );
    let (status, headers, gone) = open(&p, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-robots-tag"], "noindex, nofollow");
    let unknown = open(&p, &format!("/review/{}", crate::auth::secrets::random())).await;
    assert_eq!((unknown.0, unknown.2), (status, gone));
    let (_, _, item) = p.visit(Some("author"), "GET", &location, "").await;
    assert!(item.contains("The review link was revoked."), "{item}");
    assert!(item.contains("Revoked</strong>"), "{item}");
    let views = p.fx.state.store.review_links("course-a").await.unwrap()[0].views;
    assert_eq!(views, 1, "refused visits are not views");
}

#[tokio::test]
async fn the_form_says_what_to_fix_and_makes_nothing() {
    let p = Pages::new().await;
    let (status, _, page) = p
        .visit(
            Some("author"),
            "POST",
            "/console/items/course-a/review-links/new",
            "label=&expires_in_days=31",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("<title>Error: Share a draft for review"),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"#label\">Enter who the link is for</a>"),
        "{page}"
    );
    assert!(page.contains("<a href=\"#expires_in_days\">"), "{page}");
    assert!(page.contains("value=\"31\""), "the answer is kept: {page}");
    assert!(p
        .fx
        .state
        .store
        .review_links("course-a")
        .await
        .unwrap()
        .is_empty());
}

/// Every role may edit, so every role sees the links and their controls;
/// a test token, which only reads, cannot revoke one.
#[tokio::test]
async fn every_role_sees_the_links_and_a_test_token_cannot_revoke_one() {
    let p = Pages::new().await;
    let (_, _, made) = p
        .visit(
            Some("author"),
            "POST",
            "/console/items/course-a/review-links/new",
            "label=Partner&expires_in_days=7",
        )
        .await;
    assert!(made.contains("review-url"), "{made}");
    let as_test_token =
        p.fx.as_role(
            "admin",
            "DELETE",
            "/api/v1/review-links/1",
            &[("x-test-token", "test")],
            None,
        )
        .await;
    assert_eq!(as_test_token.0, StatusCode::FORBIDDEN);
    let (_, _, item) = p
        .visit(Some("approver"), "GET", "/console/items/course-a", "")
        .await;
    assert!(item.contains("Partner"), "{item}");
    assert!(item.contains("Share a draft for review"), "{item}");
    assert!(p.fx.state.store.review_links("course-a").await.unwrap()[0]
        .revoked_at
        .is_none());
}
