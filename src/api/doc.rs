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

/// The answers every operation may give whatever it does — the guard's,
/// the body limit's, a malformed request's, the store's — added to each
/// operation as references, so the document promises what the server does.
pub fn complete(api: OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(api).expect("OpenAPI document is JSON");
    let problem = |description: &str| {
        serde_json::json!({
            "description": description,
            "content": { "application/problem+json": {
                "schema": { "$ref": "#/components/schemas/Problem" } } }
        })
    };
    let common = [
        ("400", "The request is not valid"),
        (
            "401",
            "Not signed in, or the token is unknown, expired or revoked",
        ),
        ("403", "The caller's role or token kind may not do this"),
        ("503", "The store could not answer"),
    ];
    let with_body = [
        ("413", "The body is larger than the limit"),
        ("415", "The body is not JSON"),
        (
            "422",
            "The body does not have the fields this operation reads",
        ),
    ];
    let responses = &mut doc["components"]["responses"];
    for (code, text) in common.iter().chain(&with_body) {
        responses[*code] = problem(text);
    }
    for item in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|o| o.values_mut())
        {
            let has_body = op.get("requestBody").is_some();
            let codes = common.iter().chain(with_body.iter().filter(|_| has_body));
            for (code, _) in codes {
                let answers = &mut op["responses"];
                if answers.get(*code).is_none() {
                    answers[*code] =
                        serde_json::json!({ "$ref": format!("#/components/responses/{code}") });
                }
            }
        }
    }
    doc
}
