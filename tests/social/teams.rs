//! A Teams card's image, end to end: the real daemon sends the card, and
//! the image URL in it is served by the same daemon — that file only, never
//! anything else on disk.

use crate::compliance::harness::Network;
use crate::compliance::teams::Teams;
use crate::support::daemon::{in_secs, Workspace};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cards_image_url_is_served_by_the_daemon_and_nothing_else_is() {
    let net = Teams::start().await;
    let ws = Workspace::new(&net.channel_toml(), "");
    ws.write("templates/chat/default.txt.hbs", "{{item.body_text}}\n");
    let png = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/campaigns/images/amnesty-bin.png"
    ))
    .unwrap();
    std::fs::create_dir_all(ws.path().join("campaigns/images")).unwrap();
    std::fs::write(ws.path().join("campaigns/images/bin.png"), &png).unwrap();
    // On disk but named by no item: not served.
    std::fs::write(ws.path().join("campaigns/images/unused.png"), &png).unwrap();
    // Named by an item and looking like an image, but leading out of the
    // campaigns folder: not served.
    std::os::unix::fs::symlink(
        ws.path().join("channels.toml"),
        ws.path().join("campaigns/images/link.png"),
    )
    .unwrap();
    ws.write(
        "campaigns/later.toml",
        "[[item]]\nid = \"later\"\nkind = \"notice\"\ntitle = \"Later\"\nbody = \"Later.\"\n\
         at = \"2030-01-01T10:00:00Z\"\nchannels = [\"partners-teams\"]\n\
         [[item.images]]\nsrc = \"images/link.png\"\nalt = \"Not an image at all.\"\n",
    );
    ws.write(
        "campaigns/items.toml",
        &format!(
            "[[item]]\nid = \"bins\"\nkind = \"notice\"\ntitle = \"Knife amnesty bins\"\n\
             body = \"Hand knives in safely.\"\nat = \"{}\"\nchannels = [\"partners-teams\"]\n\
             [[item.images]]\nsrc = \"images/bin.png\"\nalt = \"A blue amnesty bin on a wall.\"\n",
            in_secs(-1)
        ),
    );
    let env = net.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let daemon = ws.start(&env);
    ws.wait_state("sent", 1);

    let post = net.posts().pop().expect("the card was posted");
    let body = &post["attachments"][0]["content"]["body"];
    let image = body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "Image")
        .unwrap_or_else(|| panic!("no Image in {body}"));
    assert_eq!(image["altText"], "A blue amnesty bin on a wall.");
    let url = image["url"].as_str().unwrap();
    assert_eq!(url, ws.url("/media/images/bin.png"));

    let http = crier::channels::http::client();
    let got = http.get(url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.bytes().await.unwrap().as_ref(), png.as_slice());

    for path in [
        "/media/images/unused.png",
        "/media/images/link.png",
        "/media/items.toml",
        "/media/../channels.toml",
        "/media/%2e%2e/channels.toml",
        "/media/images/%2e%2e/%2e%2e/channels.toml",
        "/media/images%2f..%2f..%2fchannels.toml",
        "/media//etc/passwd",
        "/media/images/bin.png%00.toml",
    ] {
        let status = http.get(ws.url(path)).send().await.unwrap().status();
        assert_eq!(status, 404, "{path}");
    }
    daemon.terminate();
}
