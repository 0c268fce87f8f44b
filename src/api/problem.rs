//! Errors as RFC 9457 problem details (`application/problem+json`), with
//! the located diagnostics of a refused save.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::Refusal;
use crate::diagnostics::{Diagnostic, Location};

/// An error answer; boxed, so results that carry one stay small.
#[derive(Debug, Clone)]
pub struct Problem(pub Box<ProblemDetails>);

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDetails {
    /// `about:blank`: the status and title say it all.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every problem found, each located (file, line, column or field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Finding>,
    /// On a version conflict (409, 412): the item's version now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
}

/// One diagnostic, located.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Finding {
    /// error, warning or note.
    pub severity: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The request field (`fields.title`) or the item and channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Finding {
    pub fn field(field: &str, message: impl Into<String>) -> Finding {
        Finding {
            severity: "error".into(),
            message: message.into(),
            file: None,
            line: None,
            column: None,
            field: Some(field.into()),
        }
    }

    /// A diagnostic, its file named relative to `root` when inside it.
    pub fn from_diagnostic(d: &Diagnostic, root: &std::path::Path) -> Finding {
        let rel = |p: &std::path::Path| {
            p.strip_prefix(root)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned()
        };
        let mut f = Finding {
            severity: match d.severity {
                crate::diagnostics::Severity::Error => "error",
                crate::diagnostics::Severity::Warning => "warning",
                crate::diagnostics::Severity::Note => "note",
            }
            .into(),
            message: d.message.clone(),
            file: None,
            line: None,
            column: None,
            field: None,
        };
        match &d.location {
            Location::File { path, line, column } => {
                f.file = Some(rel(path));
                f.line = Some(*line);
                f.column = Some(*column);
            }
            Location::Path { path } => f.file = Some(rel(path)),
            other => f.field = Some(other.to_string()),
        }
        f
    }
}

impl Problem {
    pub fn new(status: u16, title: impl Into<String>) -> Problem {
        Problem(Box::new(ProblemDetails {
            kind: "about:blank".into(),
            title: title.into(),
            status,
            detail: None,
            errors: Vec::new(),
            current_version: None,
        }))
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Problem {
        self.0.detail = Some(detail.into());
        self
    }

    pub fn errors(mut self, errors: Vec<Finding>) -> Problem {
        self.0.errors = errors;
        self
    }

    /// On a version conflict: the version now, to read again.
    pub fn current_version(mut self, version: String) -> Problem {
        self.0.current_version = Some(version);
        self
    }

    pub fn not_found(what: impl Into<String>) -> Problem {
        Problem::new(404, "Not found").detail(what)
    }

    pub fn bad_request(field: &str, message: impl Into<String>) -> Problem {
        let message = message.into();
        Problem::new(400, "The request is not valid")
            .detail(format!("{field}: {message}"))
            .errors(vec![Finding::field(field, message)])
    }

    /// The store failed: said plainly, without internals.
    pub fn unavailable(e: impl std::fmt::Display) -> Problem {
        tracing::error!(error = %e, "API request failed in the store");
        Problem::new(503, "The queue could not be read or changed").detail(e.to_string())
    }
}

impl From<Refusal> for Problem {
    fn from(r: Refusal) -> Problem {
        let status = match r {
            Refusal::Unauthenticated => 401,
            Refusal::CrossSite => 403,
            Refusal::Unavailable(_) => 503,
        };
        let title = match r {
            Refusal::Unauthenticated => "Not signed in",
            Refusal::CrossSite => "Refused: cross-site request",
            Refusal::Unavailable(_) => "Sign-in is unavailable",
        };
        Problem::new(status, title).detail(r.to_string())
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Problem {
        use crate::store::StoreError as E;
        match e {
            E::NotFound(id) => Problem::not_found(format!("no delivery with id {id}")),
            E::WrongState { .. } => Problem::new(409, "Not possible now").detail(e.to_string()),
            other => Problem::unavailable(other),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&*self.0)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// Every error answer the API gives is problem details: axum's own
/// rejections (bad JSON, a missing content type, a path that does not
/// parse, a body over the limit) arrive as plain text and are rewritten
/// here, their text kept as the detail.
pub async fn as_problem(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&bytes).trim().to_string();
    let title = status.canonical_reason().unwrap_or("Error");
    let problem = Problem::new(status.as_u16(), title);
    if detail.is_empty() {
        problem.into_response()
    } else {
        problem.detail(detail).into_response()
    }
}
