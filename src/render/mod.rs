//! Rendering: templates produce text per (item, channel); the channel then
//! shapes it into a [`Variant`], exactly what will be sent.

mod context;
pub mod post;
mod templates;
mod variant;

pub use context::{long_date, template_data};
pub use templates::{Output, RenderFailure, Templates};
pub use variant::{Part, Variant};
