//! A channel that sends nowhere and always succeeds: for trying a schedule
//! without posting, and for measuring the dispatcher on its own.

use async_trait::async_trait;

use super::registry::Kind;
use super::{Channel, Family, Findings, Job, PublishError, Publisher, Rendered, Services};
use crate::config::{ChannelSpec, Organisation};
use crate::content::Item;
use crate::delivery::Receipt;
use crate::variant::Variant;

pub const KIND: Kind = Kind {
    name: "discard",
    family: Family::Document,
    build,
    hooks: &super::registry::NoHooks,
    example: None,
};

struct Discard {
    name: String,
}

fn build(spec: &ChannelSpec, _organisation: &Organisation) -> Result<Box<dyn Channel>, String> {
    if let Some(key) = spec.options.keys().next() {
        return Err(format!(
            "channels.{}: a discard channel takes no `{key}`",
            spec.name
        ));
    }
    Ok(Box::new(Discard {
        name: spec.name.clone(),
    }))
}

impl Channel for Discard {
    fn shape(&self, item: &Item, rendered: Rendered, _findings: &mut Findings) -> Variant {
        Variant::document(
            &item.id,
            &self.name,
            KIND.name,
            rendered.text.unwrap_or_default(),
        )
    }
    fn publisher(&self) -> &dyn Publisher {
        self
    }
}

#[async_trait]
impl Publisher for Discard {
    async fn publish(&self, job: &Job<'_>, _services: &Services) -> Result<Receipt, PublishError> {
        Ok(Receipt {
            remote_id: Some(job.delivery.idempotency_key()),
            remote_url: None,
        })
    }
}
