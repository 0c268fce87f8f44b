//! Review links through the API: made with a secret shown once, opened
//! without signing in while live, each view counted, revoked and expired
//! ones refused alike, and the secret never in the database.

use axum::http::StatusCode;
use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

use super::Fixture;
use crate::delivery::Actor;
use crate::store::people::digest;
use crate::store::reviews::NewReviewLink;

async fn make(fx: &Fixture, body: Value) -> (StatusCode, Value) {
    let uri = "/api/v1/items/course-a/review-links";
    let (status, _, answer) = fx.as_role("author", "POST", uri, &[], Some(body)).await;
    (status, answer)
}

/// The preview as someone without an account opens it.
async fn open(fx: &Fixture, token: &str) -> (StatusCode, Value) {
    let uri = format!("/api/v1/review/{token}");
    let (status, _, answer) = fx.as_role("nobody", "GET", &uri, &[], None).await;
    (status, answer)
}

async fn links(fx: &Fixture) -> Value {
    let uri = "/api/v1/items/course-a/review-links";
    let (status, _, answer) = fx.as_role("author", "GET", uri, &[], None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

#[tokio::test]
async fn a_link_opens_the_preview_signed_out_counts_views_until_revoked() {
    let fx = Fixture::new().await;
    let (status, made) = make(&fx, json!({ "label": "Scrutiny officer" })).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    assert!(made["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/review/{token}")));
    assert_eq!(made["link"]["created_by"], "person:author@example.org");
    assert_eq!(made["link"]["views"], 0);

    let (status, review) = open(&fx, &token).await;
    assert_eq!(status, StatusCode::OK, "{review}");
    assert_eq!(review["title"], "Course A");
    let channels: Vec<&str> = review["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["log", "signed-off"]);
    assert!(review.get("findings").is_none(), "{review}");
    open(&fx, &token).await;

    let listed = links(&fx).await;
    assert!(!listed.to_string().contains(&token), "{listed}");
    let link = &listed["links"][0];
    assert_eq!(
        (link["views"].as_u64(), link["live"].as_bool()),
        (Some(2), Some(true))
    );
    assert!(link["last_viewed_at"].is_string(), "{link}");

    let uri = format!("/api/v1/review-links/{}", link["id"]);
    let (status, _, revoked) = fx.as_role("author", "DELETE", &uri, &[], None).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["revoked_by"], "person:author@example.org");
    assert_eq!(open(&fx, &token).await.0, StatusCode::NOT_FOUND);
    let link = &links(&fx).await["links"][0];
    assert_eq!(
        (link["views"].as_u64(), link["live"].as_bool()),
        (Some(2), Some(false))
    );
    let (status, ..) = fx
        .as_role("author", "DELETE", "/api/v1/review-links/999", &[], None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Unknown, expired and revoked secrets get one answer: which it was is
/// nobody's business but the team's.
#[tokio::test]
async fn expired_revoked_and_unknown_links_are_refused_alike() {
    let fx = Fixture::new().await;
    let now = Utc::now();
    let expired = crate::auth::secrets::random();
    fx.state
        .store
        .create_review_link(
            &NewReviewLink {
                item: "course-a".into(),
                token_hash: digest(&expired),
                label: "Partner".into(),
                created_by: Actor::Person("ann@example.org".into()),
                expires_at: now - TimeDelta::days(1),
            },
            now - TimeDelta::days(8),
        )
        .await
        .unwrap();
    let (_, made) = make(&fx, json!({ "label": "Partner" })).await;
    let revoked = made["token"].as_str().unwrap();
    let uri = format!("/api/v1/review-links/{}", made["link"]["id"]);
    fx.as_role("author", "DELETE", &uri, &[], None).await;
    let unknown = crate::auth::secrets::random();
    let answers = [
        open(&fx, &expired).await,
        open(&fx, revoked).await,
        open(&fx, &unknown).await,
        open(&fx, "not-a-secret").await,
    ];
    for answer in &answers {
        assert_eq!(answer, &answers[2]);
    }
    assert_eq!(answers[2].0, StatusCode::NOT_FOUND);
    // Refused views are not views.
    let listed = links(&fx).await;
    let views: Vec<u64> = listed["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["views"].as_u64().unwrap())
        .collect();
    assert_eq!(views, [0, 0], "{listed}");
}

#[tokio::test]
async fn expiry_is_seven_days_unless_asked_and_at_most_thirty() {
    let fx = Fixture::new().await;
    let days = |made: &Value| {
        let at = |k: &str| {
            made["link"][k]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<Utc>>()
        };
        (at("expires_at").unwrap() - at("created_at").unwrap()).num_days()
    };
    let (_, made) = make(&fx, json!({ "label": "Partner" })).await;
    assert_eq!(days(&made), 7);
    let (_, made) = make(&fx, json!({ "label": "Partner", "expires_in_days": 30 })).await;
    assert_eq!(days(&made), 30);
    for bad in [
        json!({ "label": "Partner", "expires_in_days": 31 }),
        json!({ "label": "Partner", "expires_in_days": 0 }),
    ] {
        let (status, problem) = make(&fx, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "expires_in_days");
    }
    let (status, problem) = make(&fx, json!({ "label": "  " })).await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (StatusCode::BAD_REQUEST, &json!("label"))
    );
    let (status, _, _) = fx
        .as_role(
            "author",
            "POST",
            "/api/v1/items/no-such/review-links",
            &[],
            Some(json!({ "label": "P" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The database holds the secret's SHA-256 and never the secret: read
/// from the files themselves (the write-ahead log included).
#[tokio::test]
async fn the_database_never_holds_the_secret() {
    let fx = Fixture::new().await;
    let (_, made) = make(&fx, json!({ "label": "Partner" })).await;
    let token = made["token"].as_str().unwrap();
    assert_eq!(open(&fx, token).await.0, StatusCode::OK);
    let dir = fx.state.workspace().config.data_dir();
    let mut bytes = Vec::new();
    for name in ["crier.db", "crier.db-wal"] {
        bytes.extend(std::fs::read(dir.join(name)).unwrap_or_default());
    }
    let holds = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
    assert!(holds(&digest(token)), "the rows were not found where read");
    assert!(!holds(token));
}
