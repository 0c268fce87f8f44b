//! X: threads, images, OAuth 1.0a refusal, OAuth 2.0 rotation and restart.

use std::os::unix::fs::PermissionsExt;

use crier::channels::PublishError;
use crier::diagnostics::Report;
use crier::variant::Part;
use crier::workspace::Workspace;
use crier_text::Counter;

use crate::compliance::harness::{Fault, Network, Rig};
use crate::compliance::x::{XOAuth2, CLIENT_ID, FIRST_REFRESH, X};

/// Long enough to need three posts of 280 weighted characters.
const LONG: &str = "Safer sleep saves lives. Every practitioner who visits a family with a baby \
should talk about safer sleep: a clear, flat, separate sleep space; baby on their back; \
no pillows, duvets or bumpers; a smoke-free home; and extra care when parents have drunk \
alcohol or taken drugs, or when the baby was premature. The new guidance sets out how to \
start that conversation, how to record it, and what to do when the advice is not followed. \
Please read it before your next home visit and share it with colleagues.";

/// The variant X's shaping makes of a long text: a numbered thread. (The
/// compliance item's template uses its summary, so the thread is made here
/// with the same splitter shaping uses.)
async fn threaded() -> Rig<X> {
    let mut rig = Rig::<X>::new().await;
    let counter = crier_text::x::XCounter;
    rig.variant.parts = crier_text::thread::split(LONG, &counter)
        .into_iter()
        .map(|text| Part {
            length: counter.count(&text),
            text,
            annotations: None,
        })
        .collect();
    rig
}

#[tokio::test]
async fn a_long_item_is_a_reply_chain_and_the_receipt_names_its_head() {
    let rig = threaded().await;
    let parts = rig.variant.parts.len();
    assert!(
        parts >= 2,
        "the item should need a thread, got {parts} part(s)"
    );
    let receipt = rig.publish().await.expect("the thread posts");
    let posts = rig.net.posts();
    assert_eq!(posts.len(), parts);
    assert!(
        posts[0].get("reply").is_none(),
        "the head replies to nothing"
    );
    for pair in posts.windows(2) {
        assert_eq!(pair[1]["reply"]["in_reply_to_tweet_id"], pair[0]["id"]);
    }
    for (post, part) in posts.iter().zip(&rig.variant.parts) {
        assert_eq!(post["text"], part.text.as_str());
    }
    assert_eq!(receipt.remote_id.as_deref(), posts[0]["id"].as_str());
}

#[tokio::test]
async fn a_thread_refused_half_way_fails_saying_what_is_up() {
    let rig = threaded().await;
    // The second post collides with an earlier post: X refuses it.
    let second = rig.variant.parts[1].text.clone();
    rig.net.shared.state().texts.insert(second);
    match rig.publish().await {
        Err(PublishError::Permanent { message: m, .. }) => {
            assert!(m.contains("1 of "), "{m}");
            assert!(
                m.contains("https://x.com/i/web/status/1860000000000000"),
                "{m}"
            );
            assert!(m.contains("post 2 was refused"), "{m}");
            assert!(m.contains("duplicate"), "{m}");
        }
        other => panic!("a refused part must fail the delivery, got {other:?}"),
    }
    assert_eq!(rig.posts(), 1);
}

#[tokio::test]
async fn a_thread_rate_limited_half_way_resumes_without_repeating_its_start() {
    let rig = threaded().await;
    let parts = rig.variant.parts.len();
    rig.net.shared.ledger.let_through();
    rig.net.inject(Fault::RateLimited {
        retry_after_secs: 5,
    });
    match rig.publish().await {
        Err(PublishError::Retry { message, after, .. }) => {
            assert_eq!(after, Some(std::time::Duration::from_secs(5)));
            assert!(message.contains("post 2 will be sent next"), "{message}");
        }
        other => panic!("a 429 on post 2 should be Retry, got {other:?}"),
    }
    assert_eq!(rig.posts(), 1, "only the head is up");

    // The next attempt of the same delivery starts with post 2.
    let receipt = rig.publish().await.expect("the rest of the thread posts");
    let posts = rig.net.posts();
    assert_eq!(posts.len(), parts, "every part exactly once");
    for (post, part) in posts.iter().zip(&rig.variant.parts) {
        assert_eq!(post["text"], part.text.as_str());
    }
    for pair in posts.windows(2) {
        assert_eq!(pair[1]["reply"]["in_reply_to_tweet_id"], pair[0]["id"]);
    }
    assert_eq!(receipt.remote_id.as_deref(), posts[0]["id"].as_str());

    // An attempt after everything is up (a crash before the delivery was
    // marked sent) posts nothing and still names the head.
    let again = rig.publish().await.expect("nothing left to post");
    assert_eq!(rig.posts(), parts);
    assert_eq!(again, receipt);
}

#[tokio::test]
async fn a_thread_whose_answer_is_lost_half_way_names_the_one_post_in_doubt() {
    let rig = threaded().await;
    rig.net.shared.ledger.let_through();
    rig.net.inject(Fault::HangAfterReceive);
    match rig.publish_impatiently().await {
        Err(PublishError::Uncertain { message: m, .. }) => {
            assert!(m.contains("1 of "), "{m}");
            assert!(m.contains("post 2 may or may not be up"), "{m}");
        }
        other => panic!("a lost answer should be Uncertain, got {other:?}"),
    }
    assert_eq!(rig.posts(), 2, "the server took post 2");
    let up = rig
        .services
        .store
        .posted_parts(rig.delivery.id)
        .await
        .unwrap();
    assert_eq!(up.len(), 1, "only the answered post is recorded");
}

#[tokio::test]
async fn an_exact_repeat_is_reported_as_a_duplicate() {
    let mut rig = Rig::<X>::new().await;
    rig.publish().await.unwrap();
    // Another delivery with the same text (this one's posted part is
    // recorded, so repeating it would post nothing).
    rig.delivery.id += 1;
    match rig.publish().await {
        Err(PublishError::Permanent { message: m, .. }) => {
            assert!(
                m.starts_with("X refused it as a duplicate of a recent post"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.posts(), 1);
}

#[tokio::test]
async fn images_are_uploaded_with_their_alt_text_and_attached() {
    let mut rig = Rig::<X>::new().await;
    let alt = "A poster: a baby asleep on its back in an empty cot";
    rig.variant.images = vec![crate::image(&rig.services.campaigns_dir, alt)];
    rig.publish().await.expect("posted with the image");
    let posts = rig.net.posts();
    let media_id = posts[0]["media"]["media_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let state = rig.net.shared.state();
    assert_eq!(state.media.get(&media_id), Some(&Some(alt.to_string())));
}

#[tokio::test]
async fn a_signature_made_with_the_wrong_secret_is_refused_by_the_server() {
    let rig = Rig::<X>::new().await;
    // The server recomputes signatures with the real consumer secret.
    std::env::set_var(
        rig.net.env_var("consumer_secret"),
        "not-the-consumer-secret",
    );
    match rig.publish().await {
        Err(PublishError::Credentials { message: m, .. }) => assert!(m.contains("401"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.posts(), 0);
}

fn stored_refresh_token(rig: &Rig<XOAuth2>) -> (String, u32) {
    let path = rig
        .workspace
        .config
        .data_dir()
        .join("credentials/x-oauth2.refresh_token");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    (std::fs::read_to_string(&path).unwrap(), mode)
}

#[tokio::test]
async fn the_rotated_refresh_token_is_kept_in_a_private_file_and_used_after_a_restart() {
    let rig = Rig::<XOAuth2>::new().await;
    rig.publish().await.expect("posted after refreshing");
    let current = rig.net.shared.state().refresh_token.clone().unwrap();
    assert_ne!(current, FIRST_REFRESH, "X rotated the refresh token");
    assert_eq!(stored_refresh_token(&rig), (current.clone(), 0o600));

    // The seed is dead now: X refuses it.
    let old = reqwest::Client::new()
        .post(rig.net.server.url("/2/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=refresh_token&refresh_token={FIRST_REFRESH}&client_id={CLIENT_ID}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 400);

    // A restart: a new channel (no access token in memory) and a new
    // Credentials on the same folder. The seed is still in the environment;
    // using it would fail.
    let config = rig
        .services
        .campaigns_dir
        .parent()
        .unwrap()
        .join("channels.toml");
    let mut report = Report::default();
    let restarted = Workspace::load(&config, &mut report).unwrap();
    let mut services = rig.services.clone();
    services.credentials = crier::credentials::Credentials::new(&restarted.config.data_dir());
    let channel = restarted.channel("x-oauth2").unwrap();
    let said = channel.publisher().check(&services).await;
    assert!(
        said.as_ref().is_ok_and(|s| s.contains("@testpartnership")),
        "{said:?}"
    );
    assert_eq!(rig.net.shared.state().refreshes, 2);
    let rotated_again = rig.net.shared.state().refresh_token.clone().unwrap();
    assert_eq!(stored_refresh_token(&rig).0, rotated_again);
}

#[tokio::test]
async fn a_rejected_access_token_is_refreshed_once_and_the_post_goes_out_once() {
    let rig = Rig::<XOAuth2>::new().await;
    rig.check().await.expect("first refresh");
    // X drops the access token early (revoked, or expired sooner than said).
    rig.net.shared.state().access_tokens.clear();
    rig.publish().await.expect("refreshed and posted");
    assert_eq!(rig.posts(), 1);
    assert_eq!(rig.net.shared.state().refreshes, 2);
}

#[tokio::test]
async fn a_refused_refresh_asks_for_new_credentials_without_showing_tokens() {
    let rig = Rig::<XOAuth2>::new().await;
    rig.net.shared.state().refresh_token = None; // revoked at X
    match rig.publish().await {
        Err(PublishError::Credentials { message: m, .. }) => {
            assert!(m.contains("refused to refresh"), "{m}");
            assert!(!m.contains(FIRST_REFRESH));
        }
        other => panic!("{other:?}"),
    }
}
