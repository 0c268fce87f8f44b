//! `POST /api/v1/subscribers/import`: a CSV file into one list, as
//! `crier subscribers import` does it — the kind that keeps the list does
//! the work (`KindHooks::import`), with the same size limit and consent
//! rules. Lines that cannot be added are named by line and column.

use axum::extract::multipart::MultipartError;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::super::problem::{Finding, Problem, ProblemDetails};
use super::super::ApiState;
use crate::access::Principal;
use crate::channels::import::{
    ImportRefused, ImportRequest, Imported, LineProblem, MAX_IMPORT_BYTES,
};
use crate::channels::registry;
use crate::workspace::Workspace;

/// The file's limit plus room for the form's other fields and framing.
const BODY_LIMIT: usize = MAX_IMPORT_BYTES as usize + 64 * 1024;

/// The route, with its own body limit (the API's is far smaller).
pub fn route() -> utoipa_axum::router::UtoipaMethodRouter<ApiState> {
    let (schemas, paths, method) = routes!(import);
    (
        schemas,
        paths,
        method.layer(DefaultBodyLimit::max(BODY_LIMIT)),
    )
}

/// The form (`multipart/form-data`).
#[derive(ToSchema)]
#[allow(dead_code)] // only its schema is used: the handler reads the parts
struct ImportForm {
    /// The list's channel; may be left out when only one channel keeps a list.
    channel: Option<String>,
    /// Topics for rows without a topics column, comma-separated.
    topics: Option<String>,
    /// New subscribers take their topics as this digest (`daily` or
    /// `weekly`, as the list offers) instead of item by item.
    digest: Option<String>,
    /// The CSV file, at most 10 MB: a first line naming the columns —
    /// `email`, and optionally `name`, `organisation`, `topics`
    /// (separated by `;`), `consent_at` (when consent was given: a date
    /// or RFC 3339; such rows are confirmed) and `consent_wording`. Rows
    /// without `consent_at` are sent the confirmation email.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// What the import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportSummary {
    pub channel: String,
    /// Rows added: confirmed, or awaiting their confirmation.
    pub imported: usize,
    /// Rows not added: already subscribed, or refused (see `problems`).
    pub skipped: usize,
    #[serde(flatten)]
    pub detail: Imported,
}

#[utoipa::path(post, path = "/api/v1/subscribers/import",
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    security(("crier" = ["personal_data"])), tag = "subscribers",
    responses(
        (status = 200, body = ImportSummary),
        (status = 400, description = "The form is not valid (an unknown channel or topic, no `email` column)", body = ProblemDetails),
        (status = 413, description = "The file is larger than 10 MB: nothing was imported", body = ProblemDetails),
        (status = 415, description = "The body is not multipart/form-data", body = ProblemDetails),
        (status = 422, description = "No line could be imported: each one named, by line and column", body = ProblemDetails),
    ))]
async fn import(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    multipart: Multipart,
) -> Result<Json<ImportSummary>, Problem> {
    let form = Upload::read(multipart).await?;
    let ws = state.workspace();
    let (channel, kind) = list_of(&ws, form.channel.as_deref())?;
    let Some(csv) = form.csv else {
        return Err(Problem::bad_request("file", "the CSV file is missing"));
    };
    let request = ImportRequest {
        channel: channel.clone(),
        source: form.source.clone(),
        csv,
        topics: form.topics,
        digest: form.digest,
    };
    let store = state.services.store.as_ref();
    let done = kind
        .hooks
        .import(&ws.config, store, request)
        .await
        .map_err(refused)?;
    tracing::info!(actor = %who.actor, %channel, imported = done.imported(),
        refused = done.problems.len(), "subscribers imported");
    let skipped = done.already_subscribed + done.problems.len();
    if done.imported() == 0 && done.already_subscribed == 0 && !done.problems.is_empty() {
        return Err(nothing_imported(&form.source, &done.problems));
    }
    Ok(Json(ImportSummary {
        channel,
        imported: done.imported(),
        skipped,
        detail: done,
    }))
}

/// The form's parts.
#[derive(Default)]
struct Upload {
    channel: Option<String>,
    topics: Vec<String>,
    digest: Option<String>,
    /// The file's name as sent (for the consent record and messages).
    source: String,
    csv: Option<Vec<u8>>,
}

impl Upload {
    async fn read(mut multipart: Multipart) -> Result<Upload, Problem> {
        let mut form = Upload::default();
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or_default().to_string();
            match name.as_str() {
                "channel" => form.channel = Some(field.text().await.map_err(unreadable)?),
                "topics" => form.topics.push(field.text().await.map_err(unreadable)?),
                "digest" => form.digest = Some(field.text().await.map_err(unreadable)?),
                "file" => {
                    form.source = shown_name(field.file_name());
                    form.csv = Some(field.bytes().await.map_err(unreadable)?.to_vec());
                }
                other => {
                    return Err(Problem::bad_request(
                        other,
                        "unknown field (the form has channel, topics, digest and file)",
                    ))
                }
            }
        }
        Ok(form)
    }
}

/// The uploaded file's name, fit to be kept in a consent record.
fn shown_name(name: Option<&str>) -> String {
    let name: String = name
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if name.trim().is_empty() {
        "an upload through the API".into()
    } else {
        name
    }
}

fn unreadable(e: MultipartError) -> Problem {
    let status = e.status();
    let title = if status.as_u16() == 413 {
        "The file is too big"
    } else {
        "The form could not be read"
    };
    Problem::new(status.as_u16(), title).detail(e.body_text())
}

/// The channel named (or the only list), and its kind; one that keeps no
/// list is refused by name.
fn list_of(
    ws: &Workspace,
    named: Option<&str>,
) -> Result<(String, &'static registry::Kind), Problem> {
    let lists: Vec<_> = ws.channels.iter().filter(|c| c.keeps_lists()).collect();
    let channel = match (named.map(str::trim), lists.as_slice()) {
        (Some(name), _) => lists
            .iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| Problem::bad_request("channel", format!("`{name}` keeps no list")))?,
        (None, [one]) => one,
        (None, []) => return Err(Problem::bad_request("channel", "no channel keeps a list")),
        (None, _) => {
            return Err(Problem::bad_request(
                "channel",
                "several channels keep lists: name one",
            ))
        }
    };
    let kind = registry::find(channel.kind()).expect("a configured channel's kind is registered");
    Ok((channel.name().to_string(), kind))
}

fn refused(e: ImportRefused) -> Problem {
    match e {
        ImportRefused::TooBig { .. } => {
            Problem::new(413, "The file is too big").detail(e.to_string())
        }
        ImportRefused::Invalid { field, message } => Problem::bad_request(&field, message),
        ImportRefused::Store(e) => e.into(),
        ImportRefused::Unavailable(why) => {
            Problem::new(503, "The list cannot take an import now").detail(why)
        }
    }
}

/// 422: every line refused, each located in the file.
fn nothing_imported(source: &str, problems: &[LineProblem]) -> Problem {
    let errors = problems
        .iter()
        .map(|p| Finding {
            severity: "error".into(),
            message: p.message.clone(),
            file: Some(source.to_string()),
            line: p.line.map(|l| l as usize),
            column: None,
            field: p.field.clone(),
        })
        .collect();
    Problem::new(422, "Nothing could be imported")
        .detail(format!(
            "{} line(s) refused; each is named below with its line and column",
            problems.len()
        ))
        .errors(errors)
}
