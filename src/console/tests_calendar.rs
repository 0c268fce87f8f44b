//! The calendar at scale: a month busier than one page holds is counted
//! whole, filtered in the query (not after a cap), and each busy day links
//! to its full list.

use axum::http::StatusCode;

use super::tests::Pages;

/// `n` notices on 1–28 January 2030 to both channels (2n deliveries), and
/// one briefing on the 31st with the topic `knives`.
pub(super) async fn busy_january(n: usize) -> Pages {
    let p = Pages::new().await;
    let mut text = String::new();
    for i in 0..n {
        let day = 1 + i % 28;
        let (hour, minute) = (8 + (i / 28) % 10, (i / 280) % 60);
        text.push_str(&format!(
            "[[item]]\nid = \"busy-{i}\"\nkind = \"notice\"\ntitle = \"Busy {i}\"\n\
             at = \"2030-01-{day:02} {hour:02}:{minute:02}\"\nchannels = [\"log\", \"signed-off\"]\n\
             body = \"Notice {i}.\"\n\n"
        ));
    }
    text.push_str(
        "[[item]]\nid = \"late-briefing\"\nkind = \"briefing\"\ntitle = \"Late briefing\"\n\
         at = \"2030-01-31 09:00\"\nchannels = [\"log\"]\ntopics = [\"knives\"]\n\
         document = \"https://example.org/briefing.pdf\"\nbody = \"Seven minutes.\"\n",
    );
    std::fs::write(p.fx.file("campaigns/busy.toml"), text).unwrap();
    p.fx.reload().await;
    p
}

#[tokio::test]
async fn a_month_busier_than_a_page_shows_every_day_with_its_counts() {
    let p = busy_january(2600).await;
    let (status, _, page) = p
        .visit(Some("author"), "GET", "/console/?date=2030-01-01", "")
        .await;
    assert_eq!(status, StatusCode::OK);
    // 5,200 busy deliveries come first; the 31st's briefing is still shown.
    assert!(
        page.contains("href=\"/console/items/late-briefing\""),
        "the 31st is missing"
    );
    assert!(!page.contains("Only the first"), "nothing is cut off");
    // Each busy day says how many it holds and links to all of them.
    // The 1st has 93 notices × 2 channels (+ nothing else).
    assert!(page.contains("186 deliveries"), "the 1st's count is shown");
    assert!(
        page.contains("href=\"/console/?view=day&amp;date=2030-01-01\""),
        "a busy day links to its own list"
    );
}

#[tokio::test]
async fn filters_apply_in_the_query_not_after_a_cap() {
    let p = busy_january(2600).await;
    for filter in ["kind=briefing", "topic=knives"] {
        let (_, _, page) = p
            .visit(
                Some("author"),
                "GET",
                &format!("/console/?date=2030-01-01&{filter}"),
                "",
            )
            .await;
        assert!(
            page.contains("href=\"/console/items/late-briefing\""),
            "{filter}: the briefing is found"
        );
        assert!(
            !page.contains("/console/items/busy-"),
            "{filter}: only the briefing"
        );
    }
}

#[tokio::test]
async fn a_day_lists_all_its_deliveries_a_page_at_a_time() {
    let p = busy_january(2600).await;
    let mut uri = "/console/?view=day&date=2030-01-01".to_string();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let (status, _, page) = p.visit(Some("author"), "GET", &uri, "").await;
        assert_eq!(status, StatusCode::OK);
        for (i, _) in page.match_indices("href=\"/console/items/busy-") {
            let rest = &page[i + 26..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            seen.insert(digits);
        }
        match page.find("rel=\"next\" href=\"") {
            Some(i) => {
                let rest = &page[i + 17..];
                uri = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
            }
            None => break,
        }
    }
    // Items busy-0, busy-28, … fall on the 1st: 93 of them.
    assert_eq!(seen.len(), 93, "{} items seen", seen.len());
}

#[tokio::test]
async fn an_item_on_ten_channels_is_shown_whole_in_its_month_cell() {
    let extra: String = (1..=8)
        .map(|i| format!("[channels.c{i}]\nkind = \"discard\"\n\n"))
        .collect();
    let p = Pages::with_channels(&extra).await;
    let channels: Vec<String> = (1..=8).map(|i| format!("\"c{i}\"")).collect();
    std::fs::write(
        p.fx.file("campaigns/wide.toml"),
        format!(
            "[[item]]\nid = \"wide\"\nkind = \"notice\"\ntitle = \"Wide\"\nat = \"2030-01-20 10:00\"\n\
             channels = [\"log\", \"signed-off\", {}]\nbody = \"Everywhere.\"\n",
            channels.join(", ")
        ),
    )
    .unwrap();
    p.fx.reload().await;
    let (_, _, page) = p
        .visit(Some("author"), "GET", "/console/?date=2030-01-01", "")
        .await;
    // All ten in the entry: nine planned, one awaiting approval.
    assert!(page.contains("href=\"/console/items/wide\""));
    assert!(
        page.contains("9 channels"),
        "the entry counts all its channels"
    );
    assert!(
        !page.contains("date=2030-01-20\">See all"),
        "nothing of the 20th is left out"
    );
}
