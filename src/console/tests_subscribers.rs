//! The subscribers pages that read and change lists in bulk: the counts
//! by topic over time, and the CSV import with its per-line problems, in
//! process over the API's fixture with a list channel.

use axum::http::StatusCode;
use chrono::{TimeZone, Utc};

use super::tests::Pages;
use crate::api::tests::subscribers::{form, with_a_list_offering};
use crate::store::lists::{Added, NewSubscriber};

/// A list (`partners`, with digests) and a clock at 14 May 2026.
async fn with_a_list() -> Pages {
    let mut fx = with_a_list_offering(true).await;
    let now = Utc.with_ymd_and_hms(2026, 5, 14, 12, 0, 0).unwrap();
    fx.state.services.clock = std::sync::Arc::new(crier_schedule::ManualClock::new(now));
    fx.app = crate::api::router(fx.state.clone());
    Pages::over(fx)
}

async fn upload(
    p: &Pages,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> (StatusCode, String) {
    let (content_type, body) = form(fields, file);
    let uri = "/console/subscribers/import";
    let (status, _, page) = p
        .send(Some("admin"), "POST", uri, Some(&content_type), body)
        .await;
    (status, page)
}

/// The numbers in the row headed `row` of the table captioned `caption`.
fn row(page: &str, caption: &str, row: &str) -> Vec<String> {
    let table = &page[page
        .find(caption)
        .unwrap_or_else(|| panic!("{caption}: {page}"))..];
    let table = &table[..table.find("</table>").unwrap()];
    let head = format!("<th scope=\"row\" class=\"govuk-table__header\">{row}</th>");
    let cells = &table[table
        .find(&head)
        .unwrap_or_else(|| panic!("{row}: {table}"))
        + head.len()..];
    let cells = &cells[..cells.find("</tr>").unwrap()];
    cells
        .split("\">")
        .skip(1)
        .map(|c| c[..c.find("</td>").unwrap()].to_string())
        .collect()
}

#[tokio::test]
async fn the_counts_by_topic_show_each_month_as_the_api_counts_it() {
    let p = with_a_list().await;
    let lists = p.fx.state.services.store.lists();
    for (email, on) in [
        (
            "ann@example.org",
            Utc.with_ymd_and_hms(2026, 2, 10, 9, 0, 0).unwrap(),
        ),
        (
            "bob@example.org",
            Utc.with_ymd_and_hms(2026, 4, 2, 9, 0, 0).unwrap(),
        ),
    ] {
        let new = NewSubscriber {
            channel: "partners".into(),
            email: email.into(),
            name: None,
            organisation: None,
            topics: vec!["news".into(), "training".into()],
            method: "api".into(),
            wording: "test".into(),
            client_addr: None,
            confirmed_at: Some(on),
            override_suppression: false,
        };
        let Added::Confirmed(s) = lists.add_subscriber(&new, on).await.unwrap() else {
            panic!("{email}")
        };
        if email == "ann@example.org" {
            let left = Utc.with_ymd_and_hms(2026, 4, 20, 9, 0, 0).unwrap();
            lists
                .set_topics(s.id, &["news".into()], "w", None, left)
                .await
                .unwrap();
        }
    }
    let (status, _, page) = p
        .visit(Some("admin"), "GET", "/console/subscribers", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let caption = "Confirmed subscribers on partners by topic, at the end of each month</caption>";
    assert!(
        page.contains("<th scope=\"col\" class=\"govuk-table__header govuk-table__header--numeric\">News updates</th>"),
        "{page}"
    );
    // Columns: news, briefings, training, campaigns, as the list has them.
    assert_eq!(row(&page, caption, "May 2025"), ["0", "0", "0", "0"]);
    assert_eq!(row(&page, caption, "February 2026"), ["1", "0", "1", "0"]);
    assert_eq!(row(&page, caption, "April 2026"), ["2", "0", "1", "0"]);
    assert_eq!(row(&page, caption, "Now"), ["2", "0", "1", "0"]);
    assert!(
        !page.contains("May 2026</th>"),
        "the month not over is \"Now\""
    );
    // The same numbers as the API's.
    let (_, _, api) =
        p.fx.as_role("admin", "GET", "/api/v1/subscribers/counts", &[], None)
            .await;
    let training: Vec<String> = api["topics"][2]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let months = [
        "May 2025",
        "June 2025",
        "July 2025",
        "August 2025",
        "September 2025",
        "October 2025",
        "November 2025",
        "December 2025",
        "January 2026",
        "February 2026",
        "March 2026",
        "April 2026",
        "Now",
    ];
    let shown: Vec<String> = months
        .iter()
        .map(|m| row(&page, caption, m)[2].clone())
        .collect();
    assert_eq!(shown, training);
    // A search finds people; the counts are on the page as opened.
    let (_, _, page) = p
        .visit(Some("admin"), "GET", "/console/subscribers?q=ann", "")
        .await;
    assert!(page.contains("ann@example.org") && !page.contains("Subscribers by topic"));
}

#[tokio::test]
async fn an_admin_imports_a_file_and_sees_each_refused_line_with_its_column() {
    let p = with_a_list().await;
    let (status, _, page) = p
        .visit(Some("admin"), "GET", "/console/subscribers/import", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("enctype=\"multipart/form-data\""));
    assert!(page.contains("id=\"file\" name=\"file\" type=\"file\""));
    assert!(page.contains("name=\"topics-partners\" type=\"checkbox\" value=\"news\""));
    assert!(page.contains("name=\"digest-partners\" type=\"radio\" value=\"weekly\""));
    let csv = "email,consent_at\n\
               ann@example.org,2026-01-05\n\
               not an address,2026-01-05\n\
               bob@example.org,yesterday\n\
               cat@example.org,2026-01-06\n";
    let (status, page) = upload(
        &p,
        &[
            ("topics-partners", "news"),
            ("topics-partners", "training"),
            ("digest-partners", "weekly"),
        ],
        Some(("people.csv", csv.as_bytes())),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<title>Import results"), "{page}");
    assert!(
        page.contains("2 imported into partners; 2 not added."),
        "{page}"
    );
    let caption = "Lines not imported</caption>";
    assert_eq!(row(&page, caption, "3")[0], "email", "{page}");
    assert_eq!(row(&page, caption, "4")[0], "consent_at", "{page}");
    // What the API did: two people, on both topics, weekly.
    let lists = p.fx.state.services.store.lists();
    let ann = lists
        .subscriber("partners", "ann@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ann.topics, ["news", "training"]);
    assert_eq!(
        lists.cadences(ann.id).await.unwrap(),
        [
            ("news".into(), "weekly".into()),
            ("training".into(), "weekly".into())
        ]
    );
    assert!(lists
        .subscriber("partners", "cat@example.org")
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_refused_import_says_why_in_the_error_summary() {
    let p = with_a_list().await;
    // No file.
    let (status, page) = upload(&p, &[("topics-partners", "news")], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(
        page.contains("<a href=\"#file\">Select a CSV file</a>"),
        "{page}"
    );
    assert!(
        page.contains("value=\"news\" checked"),
        "the choice is kept"
    );
    // A file the API refuses whole (400): no email column.
    let (status, page) = upload(&p, &[], Some(("x.csv", b"name\nAnn\n".as_slice()))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(
        page.contains("<li><a href=\"#file\">The first line must name the columns"),
        "{page}"
    );
    // Nothing importable (422): in the summary, and every line in a table.
    let bad = "email\nnobody\n\nalso nobody\n";
    let (status, page) = upload(
        &p,
        &[("topics-partners", "news")],
        Some(("bad.csv", bad.as_bytes())),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("<a href=\"#file\">Nothing could be imported: 2 line(s) refused"),
        "{page}"
    );
    let caption = "Lines refused</caption>";
    assert_eq!(row(&page, caption, "2")[0], "email");
    assert_eq!(row(&page, caption, "4")[0], "email");
    // Too big (413), refused by the API's limit, nothing imported.
    let mut big = String::from("email,topics,consent_at\n");
    while big.len() as u64 <= crate::channels::import::MAX_IMPORT_BYTES {
        big.push_str("someone@example.org,news,2026-01-01\n");
    }
    let (status, page) = upload(&p, &[], Some(("big.csv", big.as_bytes()))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        page.contains("<a href=\"#file\">") && page.contains("at most 10 MB"),
        "{page}"
    );
    let lists = p.fx.state.services.store.lists();
    assert!(lists
        .subscribers(Some("partners"), None)
        .await
        .unwrap()
        .is_empty());
}
