//! crier: takes each communication once, renders a variant per channel from
//! templates, and publishes it on schedule. See ARCHITECTURE.md for the map.

pub mod access;
pub mod api;
pub mod auth;
pub mod channels;
pub mod cli;
pub mod config;
pub mod console;
pub mod content;
pub mod credentials;
pub mod daemon;
pub mod delivery;
pub mod diagnostics;
pub mod dispatch;
pub mod lint;
pub mod metrics;
pub mod parallel;
pub mod plan;
pub mod render;
pub mod secret;
pub mod store;
pub mod variant;
pub mod variants;
pub mod workspace;
