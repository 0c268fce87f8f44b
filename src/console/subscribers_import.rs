//! "Import subscribers": a CSV file into a list, for admins, through the
//! API's import (`POST /api/v1/subscribers/import`, the same one `crier
//! subscribers import` runs). A GOV.UK file upload with the list's topics
//! and digests; the answer's counts and every refused line (line and
//! column) in a table; a refusal of the whole file in the error summary.

use std::sync::Arc;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use handlebars::html_escape as esc;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::layout::{self, summary_list, FieldError};
use super::{Console, Failure, Visit};
use crate::api::subscribers::counts::ListInfo;

/// The largest upload the page takes: the API's file limit and room for
/// the form's other fields.
pub const BODY_LIMIT: usize = crate::channels::import::MAX_IMPORT_BYTES as usize + 64 * 1024;

const TITLE: &str = "Import subscribers";

/// What the visitor chose, shown again with an error.
#[derive(Default)]
struct Chosen {
    channel: String,
    topics: Vec<String>,
    digest: String,
}

pub async fn form(State(c): State<Arc<Console>>, visit: Visit) -> Response {
    match lists(&c, &visit).await {
        Ok(lists) => page(&visit, &lists, &Chosen::default(), &[], "", StatusCode::OK),
        Err(r) => r,
    }
}

pub async fn import(
    State(c): State<Arc<Console>>,
    visit: Visit,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let lists = match lists(&c, &visit).await {
        Ok(lists) => lists,
        Err(r) => return r,
    };
    if lists.is_empty() {
        return page(
            &visit,
            &lists,
            &Chosen::default(),
            &[],
            "",
            StatusCode::BAD_REQUEST,
        );
    }
    let refuse = |status: StatusCode, chosen: &Chosen, errors: &[FieldError], extra: &str| {
        page(&visit, &lists, chosen, errors, extra, status)
    };
    let no_file = || vec![("file".to_string(), "Select a CSV file".to_string())];
    let Ok(multipart) = multipart else {
        return refuse(StatusCode::BAD_REQUEST, &Chosen::default(), &no_file(), "");
    };
    let (chosen, file) = match read(multipart, &lists).await {
        Ok(read) => read,
        Err((status, message)) => {
            let errors = [("file".to_string(), message)];
            return refuse(status, &Chosen::default(), &errors, "");
        }
    };
    let Some((name, csv)) = file.filter(|(name, csv)| !name.is_empty() || !csv.is_empty()) else {
        return refuse(StatusCode::BAD_REQUEST, &chosen, &no_file(), "");
    };
    if !lists.iter().any(|l| l.channel == chosen.channel) {
        let errors = [(
            "channel".to_string(),
            "Select the list to import into".to_string(),
        )];
        return refuse(StatusCode::BAD_REQUEST, &chosen, &errors, "");
    }
    let (content_type, body) = upload(&chosen, &name, &csv);
    let uri = "/api/v1/subscribers/import";
    match c
        .api
        .post_bytes::<Value>(&visit.who, uri, &content_type, body)
        .await
    {
        Ok(done) => results(&visit, &done),
        Err(f) => match f.status.as_u16() {
            400 | 413 | 415 => refuse(f.status, &chosen, &at_controls(&f, &chosen), ""),
            422 => {
                let message = format!(
                    "Nothing could be imported: {}",
                    f.problem.detail.as_deref().unwrap_or(&f.problem.title)
                );
                let table = lines_table(
                    "Lines refused",
                    &f.problem.errors.iter().map(line_of).collect::<Vec<_>>(),
                );
                refuse(f.status, &chosen, &[("file".into(), message)], &table)
            }
            _ => visit.failed(&f),
        },
    }
}

/// The lists to import into, as the API describes them.
async fn lists(c: &Console, visit: &Visit) -> Result<Vec<ListInfo>, Response> {
    c.api
        .get(&visit.who, "/api/v1/subscribers/lists")
        .await
        .map_err(|f| visit.failed(&f))
}

/// The posted form: the choices for the list chosen (the only one when
/// there is one), and the file's name and bytes.
async fn read(
    mut multipart: Multipart,
    lists: &[ListInfo],
) -> Result<(Chosen, Option<(String, Vec<u8>)>), (StatusCode, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut file = None;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        let status = e.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "The file is too big: an import takes at most 10 MB. Split it into smaller files"
                .to_string()
        } else {
            "The form could not be read. Select the file and try again".to_string()
        };
        (status, message)
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_string();
            file = Some((file_name, field.bytes().await.map_err(unreadable)?.to_vec()));
        } else {
            fields.push((name, field.text().await.map_err(unreadable)?));
        }
    }
    let posted = super::form::field(&fields, "channel");
    let channel = match lists {
        [one] => one.channel.clone(),
        _ => posted,
    };
    let chosen = Chosen {
        topics: super::compose_draft::chosen(&fields, &format!("topics-{channel}")),
        digest: super::form::field(&fields, &format!("digest-{channel}")),
        channel,
    };
    Ok((chosen, file))
}

/// The API's form: `multipart/form-data` with a boundary that cannot be
/// in the file (a hash of it).
fn upload(chosen: &Chosen, name: &str, csv: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("crier-{}", hex::encode(Sha256::digest(csv)));
    let mut body = Vec::new();
    let mut text = |name: &str, value: &str| {
        body.extend(
            format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .bytes(),
        );
    };
    text("channel", &chosen.channel);
    if !chosen.topics.is_empty() {
        text("topics", &chosen.topics.join(","));
    }
    if !chosen.digest.is_empty() {
        text("digest", &chosen.digest);
    }
    let file_name: String = name
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect();
    body.extend(
        format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             content-type: text/csv\r\n\r\n"
        )
        .bytes(),
    );
    body.extend_from_slice(csv);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A refusal of the whole file, at the control it is about.
fn at_controls(f: &Failure, chosen: &Chosen) -> Vec<FieldError> {
    let control = |field: Option<&str>| match field {
        Some("topics") => format!("topics-{}", chosen.channel),
        Some("digest") => format!("digest-{}", chosen.channel),
        Some("channel") => "channel".into(),
        _ => "file".into(),
    };
    let mut errors: Vec<FieldError> = (f.problem.errors.iter())
        .map(|e| (control(e.field.as_deref()), sentence(&e.message)))
        .collect();
    if errors.is_empty() {
        let detail = f.problem.detail.as_deref().unwrap_or("");
        errors.push((
            "file".into(),
            format!("{}. {}", f.problem.title, sentence(detail)),
        ));
    }
    errors
}

/// The API's words as a sentence: a capital first letter.
fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// (line, column, problem) of one refused line, as the API gives it.
fn line_of(e: &crate::api::problem::Finding) -> (String, String, String) {
    (
        e.line.map_or_else(|| "—".into(), |l| l.to_string()),
        e.field.clone().unwrap_or_else(|| "—".into()),
        e.message.clone(),
    )
}

fn line_from_json(p: &Value) -> (String, String, String) {
    (
        p["line"]
            .as_u64()
            .map_or_else(|| "—".into(), |l| l.to_string()),
        p["field"].as_str().unwrap_or("—").to_string(),
        p["message"].as_str().unwrap_or("").to_string(),
    )
}

/// A table of lines: line, column, problem.
fn lines_table(caption: &str, lines: &[(String, String, String)]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let rows: String = lines
        .iter()
        .map(|(line, column, message)| {
            format!(
                "<tr class=\"govuk-table__row\"><th scope=\"row\" class=\"govuk-table__header\">{}</th>\
                 <td class=\"govuk-table__cell\">{}</td><td class=\"govuk-table__cell\">{}</td></tr>",
                esc(line),
                esc(column),
                esc(message)
            )
        })
        .collect();
    format!(
        "<table class=\"govuk-table\"><caption class=\"govuk-table__caption govuk-table__caption--m\">{}</caption>\
         <thead class=\"govuk-table__head\"><tr class=\"govuk-table__row\"><th scope=\"col\" class=\"govuk-table__header\">Line</th>\
         <th scope=\"col\" class=\"govuk-table__header\">Column</th><th scope=\"col\" class=\"govuk-table__header\">Problem</th></tr></thead>\
         <tbody class=\"govuk-table__body\">{rows}</tbody></table>\n",
        esc(caption)
    )
}

/// What the import did: its counts, then each line not imported.
fn results(visit: &Visit, done: &Value) -> Response {
    let n = |k: &str| done[k].as_u64().unwrap_or(0);
    let problems: Vec<_> = done["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .map(line_from_json)
        .collect();
    let unsent: Vec<_> = (done["confirmations_not_sent"]
        .as_array()
        .into_iter()
        .flatten())
    .map(line_from_json)
    .collect();
    let banner = layout::success_banner(&format!(
        "{} imported into {}; {} not added.",
        n("imported"),
        esc(done["channel"].as_str().unwrap_or("")),
        n("skipped")
    ));
    let body = format!(
        "{banner}{}{}{}<p class=\"govuk-body\"><a class=\"govuk-link\" href=\"/console/subscribers/import\">Import another file</a></p>\
         <p class=\"govuk-body\"><a class=\"govuk-link\" href=\"/console/subscribers\">Back to subscribers</a></p>",
        summary_list(&[
            ("Confirmed (with consent evidence)", n("confirmed").to_string()),
            ("Sent a confirmation email", n("awaiting_confirmation").to_string()),
            ("Already subscribed", n("already_subscribed").to_string()),
            ("Refused", problems.len().to_string()),
        ]),
        lines_table("Lines not imported", &problems),
        lines_table("Confirmation emails not sent (they can subscribe through the form)", &unsent),
    );
    layout::page(&visit.frame, "Import results", &body)
}

fn page(
    visit: &Visit,
    lists: &[ListInfo],
    chosen: &Chosen,
    errors: &[FieldError],
    extra: &str,
    status: StatusCode,
) -> Response {
    if lists.is_empty() {
        let body = "<p class=\"govuk-body\">No channel keeps a list: add an email channel with topics to channels.toml.</p>";
        return layout::page_with(&visit.frame, status, TITLE, &[], body);
    }
    let error = |id: &str| error_of(errors, id);
    let choices = match lists {
        [one] => format!(
            "<p class=\"govuk-body\">Into the list <strong>{}</strong>.</p>{}",
            esc(&one.channel),
            list_fields(one, chosen, errors)
        ),
        _ => list_radios(lists, chosen, errors),
    };
    let file_error = error("file");
    let body = format!(
        "{extra}<form method=\"post\" action=\"/console/subscribers/import\" enctype=\"multipart/form-data\" novalidate>{choices}\
         <div class=\"govuk-form-group{}\"><label class=\"govuk-label govuk-label--s\" for=\"file\">CSV file</label>\
         <div id=\"file-hint\" class=\"govuk-hint\">At most 10 MB. The first line names the columns: <code>email</code>, and \
         optionally <code>name</code>, <code>organisation</code>, <code>topics</code> (separated by <code>;</code>), \
         <code>consent_at</code> (when they gave consent: such rows are confirmed) and <code>consent_wording</code>. \
         Rows without <code>consent_at</code> are sent the confirmation email.</div>{}\
         <input class=\"govuk-file-upload{}\" id=\"file\" name=\"file\" type=\"file\" accept=\".csv,text/csv\" aria-describedby=\"file-hint{}\"></div>\
         <button type=\"submit\" class=\"govuk-button\">Import</button></form>",
        if file_error.is_some() { " govuk-form-group--error" } else { "" },
        error_line("file", file_error),
        if file_error.is_some() { " govuk-file-upload--error" } else { "" },
        if file_error.is_some() { " file-error" } else { "" },
    );
    layout::page_with(&visit.frame, status, TITLE, errors, &body)
}

fn error_of<'a>(errors: &'a [FieldError], id: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| f == id)
        .map(|(_, m)| m.as_str())
}

fn error_line(id: &str, message: Option<&str>) -> String {
    message.map_or_else(String::new, |m| {
        format!(
            "<p id=\"{id}-error\" class=\"govuk-error-message\"><span class=\"govuk-visually-hidden\">Error:</span> {}</p>",
            esc(m)
        )
    })
}

/// Several lists: a radio each, revealing its topics and digests.
fn list_radios(lists: &[ListInfo], chosen: &Chosen, errors: &[FieldError]) -> String {
    let items: String = (lists.iter().enumerate())
        .map(|(i, l)| {
            let id = if i == 0 { "channel".to_string() } else { format!("channel-{}", i + 1) };
            let checked = if l.channel == chosen.channel { " checked" } else { "" };
            format!(
                "<div class=\"govuk-radios__item\"><input class=\"govuk-radios__input\" id=\"{id}\" name=\"channel\" type=\"radio\" value=\"{c}\"{checked} data-aria-controls=\"conditional-{id}\">\
                 <label class=\"govuk-label govuk-radios__label\" for=\"{id}\">{c}</label></div>\
                 <div class=\"govuk-radios__conditional\" id=\"conditional-{id}\">{}</div>",
                list_fields(l, chosen, errors),
                c = esc(&l.channel),
            )
        })
        .collect();
    let e = error_of(errors, "channel");
    format!(
        "<div class=\"govuk-form-group{}\"><fieldset class=\"govuk-fieldset\"><legend class=\"govuk-fieldset__legend govuk-fieldset__legend--s\">Which list?</legend>{}\
         <div class=\"govuk-radios\" data-module=\"govuk-radios\">{items}</div></fieldset></div>",
        if e.is_some() { " govuk-form-group--error" } else { "" },
        error_line("channel", e),
    )
}

/// One list's topic checkboxes and, if it offers digests, their radios.
fn list_fields(l: &ListInfo, chosen: &Chosen, errors: &[FieldError]) -> String {
    let mine = l.channel == chosen.channel;
    let name = format!("topics-{}", l.channel);
    let boxes: String = (l.topics.iter().enumerate())
        .map(|(i, t)| {
            let id = if i == 0 { name.clone() } else { format!("{name}-{}", i + 1) };
            let checked = if mine && chosen.topics.contains(&t.id) { " checked" } else { "" };
            format!(
                "<div class=\"govuk-checkboxes__item\"><input class=\"govuk-checkboxes__input\" id=\"{id}\" name=\"{name}\" type=\"checkbox\" value=\"{}\"{checked}>\
                 <label class=\"govuk-label govuk-checkboxes__label\" for=\"{id}\">{}</label></div>",
                esc(&t.id),
                esc(&t.name)
            )
        })
        .collect();
    let topics = group(
        &name,
        "Topics for rows without a topics column",
        "Rows with their own topics column keep theirs.",
        &format!("<div class=\"govuk-checkboxes govuk-checkboxes--small\">{boxes}</div>"),
        error_of(errors, &name),
    );
    if l.digests.is_empty() {
        return topics;
    }
    let name = format!("digest-{}", l.channel);
    let picked = if mine { chosen.digest.as_str() } else { "" };
    let options = std::iter::once("").chain(l.digests.iter().map(String::as_str));
    let radios: String = options
        .enumerate()
        .map(|(i, d)| {
            let id = if i == 0 { name.clone() } else { format!("{name}-{d}") };
            let words = match d {
                "" => "Every item, as it is sent".to_string(),
                d => format!("A {d} digest"),
            };
            let checked = if d == picked { " checked" } else { "" };
            format!(
                "<div class=\"govuk-radios__item\"><input class=\"govuk-radios__input\" id=\"{id}\" name=\"{name}\" type=\"radio\" value=\"{}\"{checked}>\
                 <label class=\"govuk-label govuk-radios__label\" for=\"{id}\">{}</label></div>",
                esc(d),
                esc(&words)
            )
        })
        .collect();
    let digests = group(
        &name,
        "How new subscribers take these topics",
        "People can change this on their preferences page.",
        &format!("<div class=\"govuk-radios govuk-radios--small\">{radios}</div>"),
        error_of(errors, &name),
    );
    format!("{topics}{digests}")
}

/// A GOV.UK fieldset form group with a hint and an error.
fn group(id: &str, legend: &str, hint: &str, inner: &str, error: Option<&str>) -> String {
    let described = match error {
        Some(_) => format!("{id}-hint {id}-error"),
        None => format!("{id}-hint"),
    };
    format!(
        "<div class=\"govuk-form-group{}\"><fieldset class=\"govuk-fieldset\" aria-describedby=\"{described}\">\
         <legend class=\"govuk-fieldset__legend govuk-fieldset__legend--s\">{legend}</legend>\
         <div id=\"{id}-hint\" class=\"govuk-hint\">{hint}</div>{}{inner}</fieldset></div>",
        if error.is_some() { " govuk-form-group--error" } else { "" },
        error_line(id, error),
    )
}
