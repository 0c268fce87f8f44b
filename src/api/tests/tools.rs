//! The draft preview's planned due times and the campaigns list: what a
//! form needs to show when an item goes out before it is saved.

use axum::http::StatusCode;
use serde_json::json;

use super::Fixture;

#[tokio::test]
async fn a_draft_preview_gives_each_deliverys_due_time_as_planned() {
    let fx = Fixture::with_channels(
        "[channels.timed]\nkind = \"discard\"\nslots = [\"Mon-Fri 09:30\"]\n",
    )
    .await;
    std::fs::write(
        fx.file("campaigns/spring.toml"),
        "[campaign]\nname = \"Spring\"\nchannels = [\"log\"]\ncadence = \"0 10 * * MON from 2030-03-04\"\n\n\
         [[post]]\nid = \"spring-1\"\ntitle = \"Spring one\"\nbody = \"First.\"\n\n\
         [[post]]\nid = \"spring-2\"\ntitle = \"Spring two\"\nbody = \"Second.\"\nat = \"2030-03-05 08:00\"\nslot = true\nchannels = [\"timed\"]\n",
    )
    .unwrap();
    fx.reload().await;
    let (status, _, list) = fx
        .as_role("author", "GET", "/api/v1/campaigns", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list,
        json!([{ "name": "Spring", "file": "spring.toml", "posts": 2 }])
    );
    // A new post: the cadence's second time; on `timed`, Tuesday's slot
    // is spring-2's, so Wednesday's.
    let draft = |fields: serde_json::Value| json!({ "file": "spring.toml", "entry": "post", "fields": fields });
    let (status, _, preview) = fx
        .as_role(
            "author",
            "POST",
            "/api/v1/preview",
            &[],
            Some(draft(
                json!({ "id": "spring-3", "title": "Three", "body": "Third." }),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        preview["due"],
        json!([{ "channel": "log", "occasion": "at", "due_at": "2030-03-11T10:00:00Z" }])
    );
    let slotted = json!({ "id": "spring-3", "title": "Three", "body": "Third.",
        "at": "2030-03-05 07:00", "slot": true, "channels": ["timed"] });
    let (_, _, preview) = fx
        .as_role(
            "author",
            "POST",
            "/api/v1/preview?channel=timed",
            &[],
            Some(draft(slotted)),
        )
        .await;
    assert_eq!(
        preview["due"],
        json!([{ "channel": "timed", "occasion": "at", "due_at": "2030-03-05T09:30:00Z" }]),
        "publish order: 07:00 comes before spring-2's 08:00, so it takes Tuesday's slot"
    );
    // A saved item's preview says the same as the queue.
    let (_, _, preview) = fx
        .as_role("author", "GET", "/api/v1/items/spring-2/preview", &[], None)
        .await;
    let queued = fx.state.store.list(&Default::default()).await.unwrap();
    let spring_2 = queued.iter().find(|d| d.item == "spring-2").unwrap();
    assert_eq!(preview["due"][0]["due_at"], json!(spring_2.due_at));
}
