//! Publish times in an organisation's timezone.
//!
//! Every time a comms officer writes is local wall-clock time in the
//! organisation's timezone unless it carries an explicit offset. Wall-clock
//! times that do not exist (the spring-forward gap) or happen twice (the
//! autumn overlap) are resolved explicitly here, never by accident.

mod local;

pub use local::{parse_datetime, resolve_local, LocalTime, TimeError};
