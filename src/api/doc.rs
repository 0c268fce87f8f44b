//! The OpenAPI document's fixed parts: title, the security scheme whose
//! scopes are permissions, and the shared schemas.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder};

/// The security scheme every route names; its scopes are `Permission`s.
pub const SCHEME: &str = "crier";

pub fn base() -> OpenApi {
    let scheme = SecurityScheme::Http(
        Http::builder()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API token (`crier tokens create`) or a signed-in session cookie. \
                 Each operation's scope is the permission it needs: read, edit, approve, \
                 operate, personal_data or manage_people.",
            ))
            .build(),
    );
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("crier")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Schedules and publishes one organisation's communications to every channel it uses.",
                ))
                .build(),
        )
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(SCHEME, scheme)
                .build(),
        ))
        .build()
}
