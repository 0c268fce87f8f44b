//! X with OAuth 2.0 user tokens (refresh-token grant, rotating refresh
//! tokens); the contract server is the one in `x.rs`.

pub use super::x::XOAuth2;
