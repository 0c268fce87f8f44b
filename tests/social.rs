//! The networks beyond the shared compliance scenarios: threads,
//! images with alt text, OAuth 1.0a verification, OAuth 2.0 refresh-token
//! rotation kept apart from the queue, and every network's secrets kept out of everything
//! the real binary prints. The contract servers are the compliance ones.

mod support;

#[allow(dead_code)]
mod compliance {
    #[path = "../compliance/bluesky.rs"]
    pub mod bluesky;
    #[path = "../compliance/discord.rs"]
    pub mod discord;
    #[path = "../compliance/facebook.rs"]
    pub mod facebook;
    #[path = "../compliance/harness.rs"]
    pub mod harness;
    #[path = "../compliance/linkedin.rs"]
    pub mod linkedin;
    #[path = "../compliance/mastodon.rs"]
    pub mod mastodon;
    #[path = "../compliance/server.rs"]
    pub mod server;
    #[path = "../compliance/slack.rs"]
    pub mod slack;
    #[path = "../compliance/teams.rs"]
    pub mod teams;
    #[path = "../compliance/x.rs"]
    pub mod x;
}

#[path = "social/cli.rs"]
mod cli;
#[path = "social/facebook.rs"]
mod facebook;
#[path = "social/linkedin.rs"]
mod linkedin;
#[path = "social/mastodon.rs"]
mod mastodon;
#[path = "social/teams.rs"]
mod teams;
#[path = "social/x.rs"]
mod x;

use crier::content::Image;

/// A tiny but real PNG (1×1), written where the item's images live.
pub fn image(campaigns: &std::path::Path, alt: &str) -> Image {
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0,
        0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89, 0, 0, 0, 0x0D, 0x49, 0x44,
        0x41, 0x54, 0x78, 0x9C, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0D, 0x0A, 0x2D, 0xB4, 0, 0, 0, 0,
        0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
    std::fs::create_dir_all(campaigns.join("images")).unwrap();
    std::fs::write(campaigns.join("images/poster.png"), PNG).unwrap();
    Image {
        src: "images/poster.png".into(),
        alt: alt.into(),
    }
}
