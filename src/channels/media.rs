//! Item images served by the daemon at `/media/<src>`, for networks that
//! take an image by URL rather than as an upload (a Teams card).
//!
//! Only a file that an item names, under the campaigns folder, with an
//! image extension and a plain relative path, is served: never content
//! files, never anything outside the folder. The route is in
//! `daemon/http.rs`; this is the rule both it and the channels follow, so a
//! channel never sends a URL the daemon would refuse.

use std::path::Path;

/// Where item images are served, below the daemon's public URL.
pub const PREFIX: &str = "/media/";

/// The media type of an image file crier serves or uploads.
pub fn content_type(src: &str) -> Option<&'static str> {
    let ext = Path::new(src).extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return None,
    })
}

/// A relative path of plain segments (letters, digits, `-`, `_`, `.`, none
/// starting with a dot) naming an image: no `..`, no hidden files, no
/// absolute paths, nothing to percent-encode.
pub fn servable(src: &str) -> bool {
    content_type(src).is_some()
        && src.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// The public URL of an item image (`public_url` has no trailing slash).
pub fn url(public_url: &str, src: &str) -> String {
    format!("{public_url}{PREFIX}{src}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_image_paths_are_servable() {
        assert!(servable("images/amnesty-bin.png"));
        assert!(servable("poster.JPG"));
        for bad in [
            "../channels.toml",
            "images/../../etc/passwd.png",
            "/etc/poster.png",
            "images/.hidden.png",
            "images//x.png",
            "items.toml",
            "images/a b.png",
            "images/%2e%2e/x.png",
            "images\\x.png",
        ] {
            assert!(!servable(bad), "{bad}");
        }
        assert_eq!(
            url("https://crier.example", "images/a.png"),
            "https://crier.example/media/images/a.png"
        );
    }
}
