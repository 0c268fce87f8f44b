//! Facebook Pages: photo posts with alt text; the link in a feed post.

use crate::compliance::facebook::Facebook;
use crate::compliance::harness::{Network, Rig};

#[tokio::test]
async fn a_feed_post_carries_the_message_and_the_link() {
    let rig = Rig::<Facebook>::new().await;
    rig.publish().await.unwrap();
    let post = &rig.net.posts()[0];
    assert_eq!(post["link"], "https://example.org/news/safer-sleep");
    assert_eq!(post["message"], rig.variant.text.as_str());
}

#[tokio::test]
async fn an_image_goes_up_as_a_photo_with_its_alt_text() {
    let mut rig = Rig::<Facebook>::new().await;
    let alt = "A poster: a baby asleep on its back in an empty cot";
    rig.variant.images = vec![crate::image(&rig.services.campaigns_dir, alt)];
    let receipt = rig.publish().await.expect("photo posted");
    let post = &rig.net.posts()[0];
    assert_eq!(post["photo"], true);
    assert_eq!(post["alt_text_custom"], alt);
    assert!(post["caption"]
        .as_str()
        .unwrap()
        .contains("https://example.org/news/safer-sleep"));
    // The receipt names the post (page_post), not the photo object.
    assert!(receipt
        .remote_id
        .unwrap()
        .starts_with(crate::compliance::facebook::PAGE_ID));
}
