//! Helpers shared by integration tests: `mod support;` at the top of a test
//! file, then `use support::receiver::{Receiver, Reply};`.
//!
//! Each test file compiles this module anew and uses only part of it.
#![allow(dead_code)]

pub mod browser;
pub mod daemon;
pub mod imap;
pub mod peer;
pub mod postgres;
pub mod receiver;
pub mod smtp;
pub mod store;
