//! The fields that belong to one kind of item (a news edition's sections,
//! a briefing's document, an event's times and booking): each checked
//! against the item's kind, and the kind's required ones demanded.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use toml::Spanned;

use super::times::{parse_time, TimeValue};
use super::Context;
use crate::content::{Details, Event, ItemKind, Section};
use crate::diagnostics::{Location, Report, SourceFile};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSection {
    heading: String,
    body: String,
}

/// The kind-specific fields, borrowed so `details` can check them together.
pub(super) struct RawDetails<'r> {
    pub(super) edition: &'r Option<String>,
    pub(super) sections: &'r Option<Vec<RawSection>>,
    pub(super) themes: &'r Option<Vec<String>>,
    pub(super) document: &'r Option<Spanned<String>>,
    pub(super) questions: &'r Option<Vec<String>>,
    pub(super) start: &'r Option<Spanned<TimeValue>>,
    pub(super) end: &'r Option<Spanned<TimeValue>>,
    pub(super) venue: &'r Option<String>,
    pub(super) booking_url: &'r Option<Spanned<String>>,
    pub(super) booking_email: &'r Option<String>,
    pub(super) booking_deadline: &'r Option<Spanned<TimeValue>>,
}

/// Where an item is reported, and what it is called there.
pub(super) struct Entry<'a> {
    pub(super) src: &'a SourceFile,
    pub(super) id: &'a str,
    pub(super) here: &'a Location,
}

pub(super) fn details(
    at: &Entry,
    r: &RawDetails,
    kind: ItemKind,
    ctx: &Context,
    report: &mut Report,
) -> Option<Details> {
    misplaced_fields(at, r, kind, report);
    match kind {
        ItemKind::News => Some(Details::News {
            edition: r.edition.clone(),
            sections: r
                .sections
                .iter()
                .flatten()
                .map(|s| Section {
                    heading: s.heading.clone(),
                    body: s.body.clone(),
                })
                .collect(),
        }),
        ItemKind::Briefing => {
            let Some(document) = r.document else {
                missing(at, kind, "document", report);
                return None;
            };
            Some(Details::Briefing {
                themes: r.themes.clone().unwrap_or_default(),
                document: document.get_ref().clone(),
                questions: r.questions.clone().unwrap_or_default(),
            })
        }
        ItemKind::Event => event(at, r, ctx, report).map(Details::Event),
        ItemKind::Notice | ItemKind::Post => Some(Details::None),
    }
}

/// A field set on an item of another kind is an error, whatever the kind.
fn misplaced_fields(at: &Entry, r: &RawDetails, kind: ItemKind, report: &mut Report) {
    let present: [(&str, bool, ItemKind); 11] = [
        ("edition", r.edition.is_some(), ItemKind::News),
        ("sections", r.sections.is_some(), ItemKind::News),
        ("themes", r.themes.is_some(), ItemKind::Briefing),
        ("document", r.document.is_some(), ItemKind::Briefing),
        ("questions", r.questions.is_some(), ItemKind::Briefing),
        ("start", r.start.is_some(), ItemKind::Event),
        ("end", r.end.is_some(), ItemKind::Event),
        ("venue", r.venue.is_some(), ItemKind::Event),
        ("booking_url", r.booking_url.is_some(), ItemKind::Event),
        ("booking_email", r.booking_email.is_some(), ItemKind::Event),
        (
            "booking_deadline",
            r.booking_deadline.is_some(),
            ItemKind::Event,
        ),
    ];
    for (field, set, owner) in present {
        if set && owner != kind {
            report.error(
                at.here.clone(),
                format!(
                    "item `{}`: field `{field}` belongs to {} items, not {}",
                    at.id,
                    owner.as_str(),
                    kind.as_str()
                ),
            );
        }
    }
}

fn missing(at: &Entry, kind: ItemKind, field: &str, report: &mut Report) {
    report.error(
        at.here.clone(),
        format!("{} item `{}` needs `{field}`", kind.as_str(), at.id),
    );
}

/// An event needs a start, an end after it, a venue and a way to book.
fn event(at: &Entry, r: &RawDetails, ctx: &Context, report: &mut Report) -> Option<Event> {
    let (Some(start), Some(end), Some(venue)) = (r.start, r.end, r.venue) else {
        for (f, set) in [
            ("start", r.start.is_some()),
            ("end", r.end.is_some()),
            ("venue", r.venue.is_some()),
        ] {
            if !set {
                missing(at, ItemKind::Event, f, report);
            }
        }
        return None;
    };
    if r.booking_url.is_none() && r.booking_email.is_none() {
        missing(at, ItemKind::Event, "booking_url or booking_email", report);
    }
    let (start_t, end_t, deadline) = event_times(at.src, start, end, r, ctx, report)?;
    if end_t <= start_t {
        report.error(
            at.src.span(&end.span()),
            format!("event `{}` ends before it starts", at.id),
        );
        return None;
    }
    Some(Event {
        start: start_t,
        end: end_t,
        venue: venue.clone(),
        booking_url: r.booking_url.as_ref().map(|u| u.get_ref().clone()),
        booking_email: r.booking_email.clone(),
        booking_deadline: deadline,
    })
}

type EventTimes = (DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>);

/// Start, end and booking deadline; every bad one is reported.
fn event_times(
    src: &SourceFile,
    start: &Spanned<TimeValue>,
    end: &Spanned<TimeValue>,
    r: &RawDetails,
    ctx: &Context,
    report: &mut Report,
) -> Option<EventTimes> {
    let start_t = parse_time(src, "start", start, ctx, report);
    let end_t = parse_time(src, "end", end, ctx, report);
    let deadline = match r.booking_deadline {
        Some(d) => Some(parse_time(src, "booking_deadline", d, ctx, report)?),
        None => None,
    };
    Some((start_t?, end_t?, deadline))
}
