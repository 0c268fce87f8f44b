//! LinkedIn: escaped commentary, images through the Images API.

use crate::compliance::harness::{Network, Rig};
use crate::compliance::linkedin::LinkedIn;

#[tokio::test]
async fn the_commentary_is_the_escaped_little_text() {
    let rig = Rig::<LinkedIn>::new().await;
    rig.publish().await.unwrap();
    let post = &rig.net.posts()[0];
    let commentary = rig.variant.payload.as_ref().unwrap()["commentary"].clone();
    assert_eq!(post["commentary"], commentary);
    // The hashtag is in LinkedIn's own markup, not a bare `#`.
    assert!(
        commentary
            .as_str()
            .unwrap()
            .contains("{hashtag|\\#|SaferSleep}"),
        "{commentary}"
    );
}

#[tokio::test]
async fn an_image_is_uploaded_then_attached_with_its_alt_text() {
    let mut rig = Rig::<LinkedIn>::new().await;
    let alt = "A poster: a baby asleep on its back in an empty cot";
    rig.variant.images = vec![crate::image(&rig.services.campaigns_dir, alt)];
    rig.publish().await.expect("posted with the image");
    let post = &rig.net.posts()[0];
    assert_eq!(post["content"]["media"]["altText"], alt);
    let images = rig.net.shared.images.lock().unwrap().clone();
    assert_eq!(
        images,
        vec![(
            post["content"]["media"]["id"].as_str().unwrap().to_string(),
            true
        )]
    );
}
