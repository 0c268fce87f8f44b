//! A test send: the real rendered message of one item, marked as a test,
//! to a few addresses, before the real send (`crier send-test` and
//! `POST /api/v1/items/{id}/send-test` are this one operation). Which
//! kinds can is the channel's business (`Publisher::send_test`); nothing is
//! recorded in the queue or the lists.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::problem::{Finding, Problem, ProblemDetails};
use super::ApiState;
use crate::channels::{Services, TestSent};
use crate::diagnostics::{Diagnostic, Report, Severity};
use crate::workspace::Workspace;

/// Why a test send did not happen.
#[derive(Debug)]
pub enum Refused {
    /// No such item or channel, or the item does not go to it.
    Unknown(String),
    /// The item does not render for the channel (its errors).
    Render(Vec<Diagnostic>),
    /// The channel could not send (or its kind has no test send).
    Send(String),
}

/// Renders `item` for `channel` as the real send would and sends it to `to`.
pub async fn send_test(
    ws: &Workspace,
    item: &str,
    channel: &str,
    to: &[String],
    services: &Services,
) -> Result<TestSent, Refused> {
    let c = ws
        .channel(channel)
        .ok_or_else(|| Refused::Unknown(format!("no channel `{channel}`")))?;
    let it = ws
        .item(item)
        .ok_or_else(|| Refused::Unknown(format!("no item `{item}`")))?;
    if !it.channels.iter().any(|n| n == channel) {
        return Err(Refused::Unknown(format!(
            "item `{item}` is not sent to channel `{channel}`"
        )));
    }
    let mut report = Report::default();
    let variant = ws.render(it, c, &mut report);
    let errors: Vec<Diagnostic> = report
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let Some(variant) = variant.filter(|_| errors.is_empty()) else {
        return Err(Refused::Render(errors));
    };
    c.publisher()
        .send_test(&variant, to, services)
        .await
        .map_err(|e| Refused::Send(e.to_string()))
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(send))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendTest {
    /// An email list channel the item goes to.
    pub channel: String,
    /// At most 10 addresses.
    pub to: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/items/{id}/send-test", params(("id" = String, Path)),
    request_body = SendTest, security(("crier" = ["edit"])), tag = "items",
    responses((status = 200, body = Object), (status = 404, body = ProblemDetails),
        (status = 422, body = ProblemDetails), (status = 502, body = ProblemDetails)))]
async fn send(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Json(body): Json<SendTest>,
) -> Result<Json<TestSent>, Problem> {
    if body.to.is_empty() || body.to.len() > 10 {
        return Err(Problem::bad_request("to", "between 1 and 10 addresses"));
    }
    let ws = state.workspace();
    let root = state
        .config_path
        .parent()
        .unwrap_or(std::path::Path::new("."));
    match send_test(&ws, &id, &body.channel, &body.to, &state.services).await {
        Ok(sent) => Ok(Json(sent)),
        Err(Refused::Unknown(why)) => Err(Problem::not_found(why)),
        Err(Refused::Render(errors)) => Err(Problem::new(422, "The item does not render").errors(
            errors
                .iter()
                .map(|d| Finding::from_diagnostic(d, root))
                .collect(),
        )),
        Err(Refused::Send(why)) => Err(Problem::new(502, "The test was not sent").detail(why)),
    }
}
