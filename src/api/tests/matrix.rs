//! Every route × every role, generated from the OpenAPI document the
//! router is built from: a new route is in the matrix the moment it
//! exists, and one without a permission is refused to everyone.

use axum::http::StatusCode;

use super::Fixture;
use crate::access::{Permission, Role};
use crate::api::{openapi, permissions};

/// Every (method, path) the document lists.
fn operations() -> Vec<(String, String)> {
    let doc = openapi();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.push((method.to_uppercase(), path.clone()));
        }
    }
    out.sort();
    out
}

#[test]
fn every_documented_route_names_exactly_one_known_permission() {
    let table = permissions(&openapi());
    let ops = operations();
    assert!(ops.len() >= 20, "{ops:?}");
    let missing: Vec<_> = ops
        .iter()
        .filter(|(m, p)| !table.contains_key(&(m.parse().unwrap(), p.clone())))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a permission: {missing:?}"
    );
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "course-a")
        .replace("/deliveries/course-a", "/deliveries/1")
        .replace("/review-links/course-a", "/review-links/1")
}

/// Who may pass the guard, by the table; what the server does, by asking.
#[tokio::test]
async fn every_route_refuses_every_role_the_table_refuses_and_no_one_unsigned() {
    let fx = Fixture::new().await;
    let table = permissions(&openapi());
    let mut wrong = Vec::new();
    for (method, path) in operations() {
        let permission: Permission = table[&(method.parse().unwrap(), path.clone())];
        let uri = concrete(&path);
        let body = (method != "GET").then(|| serde_json::json!({}));
        // No credentials at all.
        let (status, ..) = fx.as_role("nobody", &method, &uri, &[], body.clone()).await;
        if status != StatusCode::UNAUTHORIZED {
            wrong.push(format!("{method} {path} without credentials: {status}"));
        }
        for role in Role::ALL {
            let (status, ..) = fx
                .as_role(role.as_str(), &method, &uri, &[], body.clone())
                .await;
            let allowed = role >= permission.least_role();
            let refused = status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED;
            if allowed == refused {
                wrong.push(format!("{method} {path} as {role}: {status}"));
            }
        }
        // A test token: reads only, whatever its role.
        let (status, ..) = fx
            .as_role(
                "admin",
                &method,
                &uri,
                &[("x-test-token", "test")],
                body.clone(),
            )
            .await;
        let refused = status == StatusCode::FORBIDDEN;
        if permission.allowed_for_test_tokens() == refused {
            wrong.push(format!("{method} {path} with a test token: {status}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn the_document_is_served_without_credentials_and_is_openapi_3_1() {
    let fx = Fixture::new().await;
    let (status, _, doc) = fx
        .as_role("nobody", "GET", "/api/v1/openapi.json", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["crier"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn malformed_requests_are_answered_with_problem_details() {
    let fx = Fixture::new().await;
    let not_json = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/count")
        .header("x-test-role", "author")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{not json"))
        .unwrap();
    let (status, headers, body) = fx.call(not_json).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["status"], 400);
    let (status, headers, _) = fx
        .as_role(
            "author",
            "GET",
            "/api/v1/deliveries/not-a-number",
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["content-type"], "application/problem+json");
    let big = serde_json::json!({ "text": "a".repeat(crate::api::BODY_LIMIT + 1), "network": crier_text::NETWORKS[0] });
    let (status, headers, _) = fx
        .as_role("author", "POST", "/api/v1/count", &[], Some(big))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(headers["content-type"], "application/problem+json");
}
