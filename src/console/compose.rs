//! The composer: choose a kind, fill in its form, preview every channel's
//! variant side by side, check your answers, save through the items API.
//! The draft travels between steps in the form itself (hidden fields), so
//! the server keeps nothing; an edit carries the version it began from,
//! and a save against a version someone else replaced is refused with
//! their values shown and the visitor's kept.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use handlebars::html_escape as esc;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::compose_draft::{self as draft, control_of, label_of, Pairs, KINDS};
use super::compose_form::{form, hidden, FormView};
use super::compose_preview::{firings, previews, Previewed};
use super::compose_schedule as schedule;
use super::form::{enc, field, see_other, Fields};
use super::layout::{self, FieldError};
use super::{Console, Failure, Visit};
use crate::api::campaigns::CampaignSummary;
use crate::api::items::ItemDetail;

#[derive(Debug, Default, Deserialize)]
pub struct Chosen {
    kind: Option<String>,
}

/// GET /console/items/new: the kinds to choose from, or a kind's form.
pub async fn new(State(c): State<Arc<Console>>, visit: Visit, Query(q): Query<Chosen>) -> Response {
    match q.kind.as_deref() {
        Some(k) if draft::is_kind(k) => {
            let pairs = vec![("kind".to_string(), k.to_string())];
            let step = Step::new(&c, &visit, None, k, pairs);
            step.form_page(StatusCode::OK, &[], ("", "")).await
        }
        Some(_) => choose(&visit, true),
        None => choose(&visit, false),
    }
}

/// POST /console/items/new?kind=K: a step of a new item's draft.
pub async fn new_step(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Query(q): Query<Chosen>,
    axum::Form(pairs): Fields,
) -> Response {
    let kind = q.kind.unwrap_or_else(|| field(&pairs, "kind"));
    if !draft::is_kind(&kind) {
        return choose(&visit, true);
    }
    Step::new(&c, &visit, None, &kind, pairs).run().await
}

/// GET /console/items/{id}/edit: the item's form, its version carried.
pub async fn edit(State(c): State<Arc<Console>>, visit: Visit, Path(id): Path<String>) -> Response {
    let item: ItemDetail = match c.api.get(&visit.who, &item_uri(&id)).await {
        Ok(i) => i,
        Err(f) => return visit.failed(&f),
    };
    let kind = item.summary.kind.clone();
    let mut pairs = vec![("kind".to_string(), kind.clone())];
    let campaign = item
        .summary
        .campaign
        .as_ref()
        .map(|_| item.summary.file.as_str());
    pairs.extend(draft::to_pairs(&kind, object(&item.fields), campaign));
    pairs.push(("version".into(), item.summary.version.clone()));
    let step = Step::new(&c, &visit, Some(&id), &kind, pairs);
    step.form_page(StatusCode::OK, &[], ("", "")).await
}

/// POST /console/items/{id}/edit: a step of an edit.
pub async fn edit_step(
    State(c): State<Arc<Console>>,
    visit: Visit,
    Path(id): Path<String>,
    axum::Form(mut pairs): Fields,
) -> Response {
    let kind = field(&pairs, "kind");
    if !draft::is_kind(&kind) {
        return choose(&visit, true);
    }
    // The id is the page's, whatever was posted.
    pairs.retain(|(n, _)| n != "id");
    pairs.push(("id".into(), id.clone()));
    Step::new(&c, &visit, Some(&id), &kind, pairs).run().await
}

fn item_uri(id: &str) -> String {
    format!("/api/v1/items/{}", enc(id))
}

fn object(v: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    v.as_object().unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// The kinds as GOV.UK radios; the form is a GET, so it works without
/// JavaScript and the chosen kind's form has its own address.
fn choose(visit: &Visit, missing: bool) -> Response {
    let errors: Vec<FieldError> = if missing {
        vec![("kind".into(), "Select what kind of item to write".into())]
    } else {
        Vec::new()
    };
    let radios: String = KINDS
        .iter()
        .enumerate()
        .map(|(i, (k, name, hint))| {
            let id = if i == 0 { "kind".to_string() } else { format!("kind-{k}") };
            format!(
                "<div class=\"govuk-radios__item\"><input class=\"govuk-radios__input\" id=\"{id}\" name=\"kind\" type=\"radio\" value=\"{k}\" aria-describedby=\"{id}-hint\">\
                 <label class=\"govuk-label govuk-radios__label\" for=\"{id}\">{name}</label>\
                 <div id=\"{id}-hint\" class=\"govuk-hint govuk-radios__hint\">{hint}</div></div>"
            )
        })
        .collect();
    let (group, message) = if missing {
        (
            " govuk-form-group--error",
            "<p id=\"kind-error\" class=\"govuk-error-message\"><span class=\"govuk-visually-hidden\">Error:</span> Select what kind of item to write</p>",
        )
    } else {
        ("", "")
    };
    let body = format!(
        "<form method=\"get\" action=\"/console/items/new\" novalidate><div class=\"govuk-form-group{group}\">\
         <fieldset class=\"govuk-fieldset\"><legend class=\"govuk-fieldset__legend govuk-fieldset__legend--m\">Kind of item</legend>{message}\
         <div class=\"govuk-radios\">{radios}</div></fieldset></div>\
         <button type=\"submit\" class=\"govuk-button\">Continue</button></form>"
    );
    let status = if missing {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    layout::page_with(
        &visit.frame,
        status,
        "What do you want to write?",
        &errors,
        &body,
    )
}

/// One step of a draft: where it posts, and what it holds.
struct Step<'a> {
    c: &'a Console,
    visit: &'a Visit,
    /// The item being changed; `None` for a new one.
    id: Option<&'a str>,
    kind: &'a str,
    pairs: Pairs,
}

impl<'a> Step<'a> {
    fn new(
        c: &'a Console,
        visit: &'a Visit,
        id: Option<&'a str>,
        kind: &'a str,
        pairs: Pairs,
    ) -> Step<'a> {
        Step {
            c,
            visit,
            id,
            kind,
            pairs: fold_others(pairs),
        }
    }

    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("/console/items/{}/edit", enc(id)),
            None => format!("/console/items/new?kind={}", enc(self.kind)),
        }
    }

    fn title(&self) -> String {
        let kind = KINDS
            .iter()
            .find(|(k, _, _)| *k == self.kind)
            .map_or("item", |k| k.1);
        match self.id {
            Some(_) => format!("Change {}", kind.to_lowercase()),
            None => format!("New {}", kind.to_lowercase()),
        }
    }

    async fn run(self) -> Response {
        let (fields, errors) = draft::to_fields(self.kind, &self.pairs);
        match field(&self.pairs, "action").as_str() {
            "preview" => self.preview(&fields, errors).await,
            "continue" if errors.is_empty() => self.check_answers(&fields).await,
            "save" if errors.is_empty() => self.save(&fields).await,
            "continue" | "save" => {
                self.form_page(StatusCode::BAD_REQUEST, &errors, ("", ""))
                    .await
            }
            // "change" from check your answers: the form, as it was left.
            _ => self.form_page(StatusCode::OK, &[], ("", "")).await,
        }
    }

    /// The API's request body: the fields, and for a new post of a
    /// campaign (its cadence chosen) the campaign's file.
    fn body(&self, fields: &Map<String, Value>) -> Value {
        let mut body = json!({ "fields": fields });
        if let (None, Some(file)) = (self.id, schedule::campaign_file(&self.pairs)) {
            body["file"] = json!(file);
            body["entry"] = json!("post");
        }
        body
    }

    async fn campaigns(&self) -> Result<Vec<CampaignSummary>, Failure> {
        self.c.api.get(&self.visit.who, "/api/v1/campaigns").await
    }

    async fn form_page(
        &self,
        status: StatusCode,
        errors: &[FieldError],
        around: (&str, &str),
    ) -> Response {
        let all = match self.campaigns().await {
            Ok(all) => all,
            Err(f) => return self.visit.failed(&f),
        };
        let campaigns = schedule::offered(&self.pairs, self.id.is_some(), &all);
        let ws = self.c.workspace.read().expect("workspace lock").clone();
        let channels: Vec<String> = ws.config.channels.iter().map(|c| c.name.clone()).collect();
        let mut topics: Vec<String> = ws.items.iter().flat_map(|i| i.topics.clone()).collect();
        topics.sort();
        topics.dedup();
        let view = FormView {
            kind: self.kind,
            pairs: &self.pairs,
            errors,
            editing: self.id.is_some(),
            channels: &channels,
            topics: &topics,
            campaigns: &campaigns,
        };
        let body = format!("{}{}{}", around.0, form(&view, &self.action()), around.1);
        layout::page_with(&self.visit.frame, status, &self.title(), errors, &body)
    }

    /// The draft's variants beside the form; findings at their fields.
    async fn preview(&self, fields: &Map<String, Value>, errors: Vec<FieldError>) -> Response {
        if !errors.is_empty() {
            return self
                .form_page(StatusCode::BAD_REQUEST, &errors, ("", ""))
                .await;
        }
        let body = self.body(fields);
        match self
            .c
            .api
            .post::<Previewed>(&self.visit.who, "/api/v1/preview", &body)
            .await
        {
            Ok(p) => {
                let shown = format!("{}{}", firings(&self.visit.frame, &p.due), previews(&p));
                self.form_page(StatusCode::OK, &[], ("", &shown)).await
            }
            Err(f) => self.refused(&f).await,
        }
    }

    /// What the API refused, at the form's fields; a refusal about
    /// something else (permission, the service) as its own page.
    async fn refused(&self, f: &Failure) -> Response {
        if !matches!(f.status.as_u16(), 400 | 422) {
            return self.visit.failed(f);
        }
        let mut errors: Vec<FieldError> = f
            .problem
            .errors
            .iter()
            .filter(|e| e.severity == "error")
            .map(|e| (control_of(&self.pairs, e.field.as_deref()), located(e)))
            .collect();
        if errors.is_empty() {
            let detail = f.problem.detail.clone().unwrap_or_default();
            errors.push((
                "compose-form".into(),
                format!("{} {detail}", f.problem.title),
            ));
        }
        self.form_page(f.status, &errors, ("", "")).await
    }

    /// GOV.UK "Check your answers": every answer with a Change button
    /// (the draft rides in the same form), and Save.
    async fn check_answers(&self, fields: &Map<String, Value>) -> Response {
        let body = self.body(fields);
        let previewed = match self
            .c
            .api
            .post::<Previewed>(&self.visit.who, "/api/v1/preview", &body)
            .await
        {
            Ok(p) => p,
            Err(f) => return self.refused(&f).await,
        };
        let campaigns = match self.campaigns().await {
            Ok(all) => all,
            Err(f) => return self.visit.failed(&f),
        };
        let action = self.action();
        let when = schedule::in_words(&self.pairs, fields, &campaigns);
        let when = format!("<span class=\"crier-pre-wrap\">{}</span>", esc(&when));
        let mut rows = row(&action, "When it goes out", Some("schedule"), &when);
        rows.extend(
            fields
                .iter()
                .filter(|(k, _)| !["kind", "at", "slot"].contains(&k.as_str()))
                .filter(|(k, _)| label_of(k) != "Other settings")
                .map(|(k, v)| self.answer_row(&action, k, v)),
        );
        let page = format!(
            "<form method=\"post\" action=\"{a}\">{h}<dl class=\"govuk-summary-list\">{rows}</dl>{f}\
             <h2 class=\"govuk-heading-m\">Now save the item</h2>\
             <p class=\"govuk-body\">Saving writes it to its campaign file; its deliveries are planned from there.</p>\
             <button type=\"submit\" class=\"govuk-button\" name=\"action\" value=\"save\">Save</button></form>",
            a = esc(&action),
            h = hidden(&self.pairs),
            f = firings(&self.visit.frame, &previewed.due),
        );
        layout::page(&self.visit.frame, "Check your answers before saving", &page)
    }

    fn answer_row(&self, action: &str, key: &str, value: &Value) -> String {
        let control = control_of(&self.pairs, Some(&format!("fields.{key}")));
        // An edit's id is fixed.
        let control = (key != "id" || self.id.is_none()).then_some(control.as_str());
        row(action, label_of(key), control, &shown(value))
    }

    /// POST (new) or PUT with the version the edit began from.
    async fn save(&self, fields: &Map<String, Value>) -> Response {
        let body = self.body(fields);
        let id = field(&self.pairs, "id");
        let result = match self.id {
            None => {
                self.c
                    .api
                    .call::<ItemDetail>(
                        &self.visit.who,
                        Method::POST,
                        "/api/v1/items",
                        Some(&body),
                        None,
                    )
                    .await
            }
            Some(id) => {
                let version = field(&self.pairs, "version");
                self.c
                    .api
                    .call::<ItemDetail>(
                        &self.visit.who,
                        Method::PUT,
                        &item_uri(id),
                        Some(&body),
                        Some(&version),
                    )
                    .await
            }
        };
        match result {
            Ok(saved) => see_other(&format!(
                "/console/items/{}?done=saved",
                enc(&saved.summary.id)
            )),
            Err(f) if f.status == StatusCode::CONFLICT && self.id.is_some() => {
                self.conflict(&id).await
            }
            Err(f) => self.refused(&f).await,
        }
    }

    /// Someone else saved first: their values now, the visitor's kept in
    /// the form with the new version, so saving again is their choice.
    async fn conflict(&self, id: &str) -> Response {
        let theirs: ItemDetail = match self.c.api.get(&self.visit.who, &item_uri(id)).await {
            Ok(i) => i,
            Err(f) => return self.visit.failed(&f),
        };
        let rows: Vec<(&str, String)> = object(&theirs.fields)
            .iter()
            .filter(|(k, _)| *k != "kind" && *k != "id")
            .map(|(k, v)| (label_of(k), shown(v)))
            .collect();
        let warning = format!(
            "<div class=\"govuk-warning-text\" id=\"conflict\"><span class=\"govuk-warning-text__icon\" aria-hidden=\"true\">!</span>\
             <strong class=\"govuk-warning-text__text\"><span class=\"govuk-visually-hidden\">Warning</span>\
             Someone else changed this item since you started. Nothing was saved.</strong></div>\
             <h2 class=\"govuk-heading-m\">Their version, saved now</h2>{}\
             <h2 class=\"govuk-heading-m\">Your changes</h2>\
             <p class=\"govuk-body\">Your answers are below. Saving them replaces their version.</p>",
            layout::summary_list(&rows)
        );
        let mut mine = Step::new(self.c, self.visit, self.id, self.kind, self.pairs.clone());
        mine.pairs.retain(|(n, _)| n != "version");
        mine.pairs
            .push(("version".into(), theirs.summary.version.clone()));
        let errors = vec![(
            "conflict".to_string(),
            "Someone else changed this item".to_string(),
        )];
        mine.form_page(StatusCode::CONFLICT, &errors, (&warning, ""))
            .await
    }
}

/// A summary list row: the answer (HTML), and a Change button back to the
/// form at `control` (the draft rides in the same form).
fn row(action: &str, label: &str, control: Option<&str>, value: &str) -> String {
    let change = control.map_or_else(String::new, |control| {
        format!(
            "<dd class=\"govuk-summary-list__actions\"><button type=\"submit\" class=\"crier-link-button govuk-link\" name=\"action\" value=\"change\" formaction=\"{}#{control}\">Change<span class=\"govuk-visually-hidden\"> {}</span></button></dd>",
            esc(action),
            label.to_lowercase()
        )
    });
    format!(
        "<div class=\"govuk-summary-list__row\"><dt class=\"govuk-summary-list__key\">{label}</dt>\
         <dd class=\"govuk-summary-list__value\">{value}</dd>{change}</div>"
    )
}

/// A finding in words, with its place in the file when it has no field.
fn located(e: &crate::api::problem::Finding) -> String {
    match (&e.field, &e.file, e.line) {
        (None, Some(file), Some(line)) => {
            format!("{} (campaigns file {file}, line {line})", e.message)
        }
        _ => e.message.clone(),
    }
}

/// An answer as text: lists joined, tables (sections, images) by their
/// first value.
fn shown(v: &Value) -> String {
    let one = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .values()
            .next()
            .map(|x| x.as_str().unwrap_or("").to_string())
            .unwrap_or_default(),
        other => other.to_string(),
    };
    let text = match v {
        Value::Array(a) => a.iter().map(one).collect::<Vec<_>>().join(", "),
        other => one(other),
    };
    format!("<span class=\"crier-pre-wrap\">{}</span>", esc(&text))
}

/// Topics or channels typed in "Other …" become chosen values, so the
/// next step shows them ticked.
fn fold_others(pairs: Pairs) -> Pairs {
    let mut out = Pairs::new();
    for (name, value) in pairs {
        match name.strip_suffix("-other") {
            Some(base) if draft::CHOSEN.contains(&base) => {
                out.extend(
                    value
                        .split([',', ' '])
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| (base.to_string(), s.trim().to_string())),
                );
            }
            _ => out.push((name, value)),
        }
    }
    out
}
