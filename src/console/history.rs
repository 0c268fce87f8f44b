//! An item's earlier versions (`/console/items/{id}/history`): each with
//! who and when, and what changed as a diff that reads without colour
//! (`+` and `-` lines, said in words above it; WCAG 1.4.1). From the API's
//! `GET /api/v1/items/{id}/versions`: the file's git commits when saves are
//! committed, else the saves the audit log holds. Also the item page's
//! small block: the link here, and a warning when git did not record the
//! latest save.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use handlebars::html_escape as esc;

use super::form::enc;
use super::layout::{self, summary_list, Frame};
use super::{Console, Visit};
use crate::api::history::{ItemVersion, ItemVersions};
use crate::api::items::ItemDetail;
use crate::store::AuditEntry;

pub async fn show(State(c): State<Arc<Console>>, visit: Visit, Path(id): Path<String>) -> Response {
    let path = format!("/api/v1/items/{}", enc(&id));
    let versions: ItemVersions = match c.api.get(&visit.who, &format!("{path}/versions")).await {
        Ok(v) => v,
        Err(f) => return visit.failed(&f),
    };
    // A removed item has versions but no longer a title.
    let title = match c.api.get::<ItemDetail>(&visit.who, &path).await {
        Ok(item) => item.summary.title,
        Err(_) => id.clone(),
    };
    let f = &visit.frame;
    let mut body = format!(
        "<a class=\"govuk-back-link\" href=\"/console/items/{}\">Back to the item</a>\n",
        esc(&enc(&id))
    );
    body.push_str(&about(&versions));
    if versions.versions.is_empty() {
        body.push_str("<p class=\"govuk-body\">No earlier versions are recorded.</p>");
    } else {
        body.push_str(
            "<p class=\"govuk-body\" id=\"diff-legend\">In each change, lines starting with \
             <code>+</code> were added and lines starting with <code>-</code> were removed; \
             the other lines are there for context.</p>\n",
        );
    }
    for v in &versions.versions {
        body.push_str(&version(f, v));
    }
    layout::page(f, &format!("History of {title}"), &body)
}

/// Where the versions come from, in words.
fn about(v: &ItemVersions) -> String {
    let source = if v.source == "git" {
        "Each version is a git commit of the item's campaign file that changed this item, \
         newest first."
    } else {
        "Each version is a save made through crier (this console or its API), newest first. \
         Changes made to the campaign file by hand are not listed here."
    };
    let mut out = format!("<p class=\"govuk-body\">{source}</p>\n");
    if let Some(note) = &v.note {
        out.push_str(&format!(
            "<div class=\"govuk-inset-text\">These versions are not from git: {}.</div>\n",
            esc(note.trim_start_matches("not read from git: "))
        ));
    }
    out
}

fn version(f: &Frame, v: &ItemVersion) -> String {
    let mut rows = vec![
        ("Who", esc(&v.who)),
        (
            "Change",
            format!("<span class=\"crier-pre-wrap\">{}</span>", esc(&v.summary)),
        ),
    ];
    if let Some(commit) = &v.commit {
        rows.push(("Commit", format!("<code>{}</code>", esc(commit))));
    }
    let diff = if v.diff.is_empty() {
        "<p class=\"govuk-body\">What changed was not recorded: this save was made before \
         crier kept each version's text.</p>"
            .to_string()
    } else {
        diff_block(&v.diff)
    };
    format!(
        "<section class=\"crier-version\">\n<h2 class=\"govuk-heading-m\">{}</h2>\n{}{diff}\n</section>\n",
        esc(&f.time(v.at)),
        summary_list(&rows),
    )
}

/// A unified diff as a `<pre>`, one line per block: added lines in
/// `<ins>`, removed in `<del>`, each keeping its `+`/`-`, so the change
/// is read from the text and not from the colour.
fn diff_block(diff: &str) -> String {
    let lines: String = diff
        .lines()
        .filter(|l| !l.starts_with("--- ") && !l.starts_with("+++ "))
        .map(|line| {
            let text = esc(line);
            if line.starts_with('+') {
                format!("<ins>{text}</ins>")
            } else if line.starts_with('-') {
                format!("<del>{text}</del>")
            } else if line.starts_with("@@") {
                format!("<span class=\"crier-diff__hunk\">{text}</span>")
            } else {
                format!("<span>{text}</span>")
            }
        })
        .collect();
    format!("<pre class=\"crier-diff\" aria-describedby=\"diff-legend\">{lines}</pre>")
}

/// The item page's block: the way here, and a warning when git did not
/// record the latest save (the save itself stands).
pub fn on_item_page(id: &str, history: &[AuditEntry]) -> String {
    let mut out = String::new();
    let latest_save = history.iter().find(|e| e.delivery.is_none());
    if let Some(why) = latest_save.and_then(|e| e.not_in_git.as_deref()) {
        out.push_str(&format!(
            "<div class=\"govuk-warning-text\"><span class=\"govuk-warning-text__icon\" aria-hidden=\"true\">!</span>\
             <strong class=\"govuk-warning-text__text\"><span class=\"govuk-visually-hidden\">Warning</span>\
             The latest save is in the campaign file but was not recorded in git: {}</strong></div>\n",
            esc(why)
        ));
    }
    out.push_str(&format!(
        "<p class=\"govuk-body\"><a class=\"govuk-link\" href=\"/console/items/{}/history\">Earlier versions of this item</a></p>\n",
        esc(&enc(id))
    ));
    out
}
