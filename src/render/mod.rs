//! Rendering: templates produce text per (item, channel), a [`Rendered`];
//! the channel then shapes it into a `Variant` (`channels::shape`), exactly
//! what will be sent. Render knows nothing of channels.

mod context;
pub mod page;
mod rendered;
mod templates;

pub use context::{long_date, template_data};
pub use rendered::Rendered;
pub use templates::{Output, RenderFailure, Templates};
