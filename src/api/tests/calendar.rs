//! The queue filtered by what the content says of each item, and a range
//! of days counted whole.

use axum::http::StatusCode;

use super::Fixture;

const BRIEFING: &str = r#"[[item]]
id = "knife-briefing"
kind = "briefing"
title = "Knife crime: a 7-minute briefing"
at = "2030-01-12 09:00"
channels = ["log"]
topics = ["knives"]
document = "https://example.org/briefing.pdf"
body = "Seven minutes."
"#;

async fn with_briefing() -> Fixture {
    let fx = Fixture::new().await;
    std::fs::write(fx.file("campaigns/briefing.toml"), BRIEFING).unwrap();
    fx.reload().await;
    fx
}

fn items(page: &serde_json::Value) -> Vec<&str> {
    let rows = page["deliveries"].as_array().unwrap();
    rows.iter().map(|d| d["item"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn deliveries_filter_by_kind_campaign_and_topic_in_the_query() {
    let fx = with_briefing().await;
    for filter in ["kind=briefing", "topic=knives"] {
        let uri = format!("/api/v1/deliveries?{filter}&limit=1");
        let (status, _, page) = fx.as_role("author", "GET", &uri, &[], None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        // The limit counts only matches: course A is due first but is no briefing.
        assert_eq!(items(&page), ["knife-briefing"], "{filter}");
    }
    let uri = "/api/v1/deliveries?kind=notice";
    let (_, _, page) = fx.as_role("author", "GET", uri, &[], None).await;
    assert_eq!(items(&page), ["course-a", "course-a", "course-b"]);
    let uri = "/api/v1/deliveries?campaign=nothing-like-it";
    let (_, _, page) = fx.as_role("author", "GET", uri, &[], None).await;
    assert!(items(&page).is_empty());
    let uri = "/api/v1/deliveries?kind=podcast";
    let (status, _, p) = fx.as_role("author", "GET", uri, &[], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(p.to_string().contains("unknown kind `podcast`"), "{p}");
}

#[tokio::test]
async fn days_are_counted_whole_and_list_their_first_few() {
    let fx = with_briefing().await;
    let uri = "/api/v1/deliveries/days?from=2030-01-01&until=2030-02-01&per_day=1";
    let (status, _, body) = fx.as_role("author", "GET", uri, &[], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["timezone"], "Europe/London");
    let days = body["days"].as_array().unwrap();
    let dates: Vec<&str> = days.iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert_eq!(dates, ["2030-01-10", "2030-01-11", "2030-01-12"]);
    // The 10th: course A on two channels, one awaiting approval.
    let tenth = &days[0];
    assert_eq!(tenth["total"], 2);
    assert_eq!(tenth["counts"]["planned"], 1, "{tenth}");
    assert_eq!(tenth["counts"]["held:approval"], 1, "{tenth}");
    assert_eq!(tenth["deliveries"].as_array().unwrap().len(), 1);
    let next = tenth["next"].as_str().expect("a cursor to the rest");
    let rest = format!(
        "/api/v1/deliveries?from={}&before={}&after={next}",
        tenth["from"].as_str().unwrap().replace('+', "%2B"),
        tenth["before"].as_str().unwrap().replace('+', "%2B"),
    );
    let (status, _, page) = fx.as_role("author", "GET", &rest, &[], None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(items(&page), ["course-a"], "the other of the 10th");
    assert!(days[1]["next"].is_null());
    // Every item on `log` is at a different time: no clash.
    assert_eq!(body["clashes"], serde_json::json!([]));
}

#[tokio::test]
async fn a_range_of_days_must_be_ordered_and_at_most_62_days() {
    let fx = Fixture::new().await;
    for (from, until) in [("2030-01-10", "2030-01-10"), ("2030-01-01", "2030-03-05")] {
        let uri = format!("/api/v1/deliveries/days?from={from}&until={until}");
        let (status, _, p) = fx.as_role("author", "GET", &uri, &[], None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{from}..{until}: {p}");
        assert!(p.to_string().contains("until"), "{p}");
    }
}
