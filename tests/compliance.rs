//! The compliance suite: every channel module that publishes to a network
//! passes the same scenarios (see `compliance/harness.rs`) against a local
//! server enforcing that network's published contract.
//!
//! To add a network: write `tests/compliance/<module>.rs` with a type that
//! implements `harness::Network`, then add one line to the list at the
//! bottom of this file. Its tests are then `<module>::<scenario>`, e.g.
//! `cargo test --test compliance slack::`.

mod support;

/// Declares the shared modules and every network's module (files under
/// `tests/compliance/`), and generates one test per (network, scenario).
macro_rules! networks {
    ($($module:ident => $network:ident),* $(,)?) => {
        mod compliance {
            pub mod harness;
            pub mod server;
            $(pub mod $module;)*
        }
        $(
            mod $module {
                use crate::compliance::harness;
                use crate::compliance::$module::$network as N;

                #[tokio::test]
                async fn success() { harness::success::<N>().await }
                #[tokio::test]
                async fn rate_limited() { harness::rate_limited::<N>().await }
                #[tokio::test]
                async fn server_error() { harness::server_error::<N>().await }
                #[tokio::test]
                async fn invalid() { harness::invalid::<N>().await }
                #[tokio::test]
                async fn expired_credentials() { harness::expired_credentials::<N>().await }
                #[tokio::test]
                async fn answer_lost() { harness::answer_lost::<N>().await }
                #[tokio::test]
                async fn check_posts_nothing() { harness::check_posts_nothing::<N>().await }
                #[tokio::test]
                async fn with_image() { harness::with_image::<N>().await }
            }
        )*
    };
}

// The registry: `module => Type`, one line per network.
networks! {
    webhook => Webhook,
    slack => Slack,
    teams => Teams,
    discord => Discord,
    mastodon => Mastodon,
    bluesky => Bluesky,
    x => X,
    x_oauth2 => XOAuth2,
    facebook => Facebook,
    linkedin => LinkedIn,
}
