//! One `[[item]]` or `[[post]]` entry made into an [`Item`]: its id, kind,
//! channels and times checked, what a post leaves out taken from its
//! campaign, and every problem reported before the entry is left out.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use toml::Spanned;

use super::campaign::Campaign;
use super::details::{details, Entry, RawDetails, RawSection};
use super::names::{check_channels, check_hashtags};
use super::times::{parse_time, relative, relative_time, TimeValue};
use super::Context;
use crate::content::{Details, Image, Item, ItemKind, Origin};
use crate::diagnostics::{Location, Report, SourceFile};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    src: String,
    #[serde(default)]
    alt: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawItem {
    id: Spanned<String>,
    kind: Option<Spanned<String>>,
    title: String,
    summary: Option<String>,
    body: String,
    channels: Option<Vec<Spanned<String>>>,
    at: Option<Spanned<TimeValue>>,
    link: Option<Spanned<String>>,
    hashtags: Option<Vec<Spanned<String>>>,
    topics: Option<Vec<String>>,
    #[serde(default)]
    images: Vec<Spanned<RawImage>>,
    language: Option<String>,
    require_approval: Option<bool>,
    thread: Option<bool>,
    slot: Option<bool>,
    reminders: Option<Vec<Spanned<String>>>,
    // news
    edition: Option<String>,
    sections: Option<Vec<RawSection>>,
    // briefing
    themes: Option<Vec<String>>,
    document: Option<Spanned<String>>,
    questions: Option<Vec<String>>,
    // event
    start: Option<Spanned<TimeValue>>,
    end: Option<Spanned<TimeValue>>,
    venue: Option<String>,
    booking_url: Option<Spanned<String>>,
    booking_email: Option<String>,
    booking_deadline: Option<Spanned<TimeValue>>,
}

impl RawItem {
    /// Written without `at`: a campaign's post takes its cadence's next time.
    pub(super) fn is_undated(&self) -> bool {
        self.at.is_none()
    }

    fn details(&self) -> RawDetails<'_> {
        RawDetails {
            edition: &self.edition,
            sections: &self.sections,
            themes: &self.themes,
            document: &self.document,
            questions: &self.questions,
            start: &self.start,
            end: &self.end,
            venue: &self.venue,
            booking_url: &self.booking_url,
            booking_email: &self.booking_email,
            booking_deadline: &self.booking_deadline,
        }
    }
}

/// What `build_item` checked, ready to become an item.
struct Checked {
    id: String,
    kind: ItemKind,
    channels: Vec<String>,
    at: DateTime<Utc>,
    hashtags: Vec<String>,
    reminders: Vec<(String, DateTime<Utc>)>,
    details: Details,
    origin: Origin,
}

pub(super) fn build_item(
    src: &SourceFile,
    raw: RawItem,
    campaign: Option<&Campaign>,
    undated_index: Option<usize>,
    version: &str,
    ctx: &Context,
    report: &mut Report,
) -> Option<Item> {
    let errors_before = report.error_count();
    let here = src.span(&raw.id.span());
    let id = raw.id.get_ref().clone();
    let entry = Entry {
        src,
        id: &id,
        here: &here,
    };
    check_id(&entry, report);
    let kind = item_kind(&entry, raw.kind.as_ref(), campaign.is_some(), report);
    let channels = item_channels(&entry, raw.channels.as_deref(), campaign, ctx, report);
    let details = kind.and_then(|k| details(&entry, &raw.details(), k, ctx, report));
    let anchors = event_anchors(details.as_ref());
    let at = publish_time(
        &entry,
        raw.at.as_ref(),
        campaign,
        undated_index,
        anchors.as_ref(),
        ctx,
        report,
    );
    let hashtags = merged_hashtags(src, campaign, raw.hashtags.as_deref(), report);
    let reminders = reminders(src, raw.reminders.as_deref(), anchors.as_ref(), ctx, report);
    let (kind, at, details) = (kind?, at?, details?);
    if report.error_count() > errors_before {
        return None;
    }
    let Location::File { line, column, .. } = here else {
        unreachable!("spans are file positions")
    };
    let origin = Origin {
        path: src.path.clone(),
        line,
        column,
        version: version.to_string(),
    };
    let checked = Checked {
        id,
        kind,
        channels,
        at,
        hashtags,
        reminders,
        details,
        origin,
    };
    Some(with_inherited(raw, campaign, ctx, checked))
}

/// The item: what was checked, and what the entry leaves out taken from
/// its campaign or the organisation's defaults.
fn with_inherited(
    raw: RawItem,
    campaign: Option<&Campaign>,
    ctx: &Context,
    checked: Checked,
) -> Item {
    Item {
        id: checked.id,
        kind: checked.kind,
        title: raw.title,
        summary: raw.summary,
        body: raw.body,
        channels: checked.channels,
        at: checked.at,
        link: raw
            .link
            .map(Spanned::into_inner)
            .or_else(|| campaign.and_then(|c| c.link.clone())),
        hashtags: checked.hashtags,
        topics: raw
            .topics
            .or_else(|| campaign.map(|c| c.topics.clone()))
            .unwrap_or_default(),
        images: images(raw.images),
        language: raw
            .language
            .or_else(|| campaign.and_then(|c| c.language.clone()))
            .unwrap_or_else(|| ctx.language.to_string()),
        campaign: campaign.map(|c| c.name.clone()),
        require_approval: raw
            .require_approval
            .unwrap_or(campaign.is_some_and(|c| c.require_approval)),
        thread: raw
            .thread
            .or(campaign.and_then(|c| c.thread))
            .unwrap_or(true),
        slot: raw.slot.unwrap_or(false),
        reminders: checked.reminders,
        details: checked.details,
        origin: checked.origin,
    }
}

fn check_id(at: &Entry, report: &mut Report) {
    let id = at.id;
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        report.error(
            at.here.clone(),
            format!("item id `{id}` may use only letters, digits, '-' and '_'"),
        );
    }
}

/// The written kind; a campaign's post may leave it out.
fn item_kind(
    at: &Entry,
    kind: Option<&Spanned<String>>,
    in_campaign: bool,
    report: &mut Report,
) -> Option<ItemKind> {
    match kind {
        None if in_campaign => Some(ItemKind::Post),
        None => {
            report.error(
                at.here.clone(),
                format!(
                    "item `{}` has no `kind` (news, briefing, event, notice or post)",
                    at.id
                ),
            );
            None
        }
        Some(k) => ItemKind::parse(k.get_ref()).or_else(|| {
            report.error(
                at.src.span(&k.span()),
                format!(
                    "unknown kind `{}` (expected news, briefing, event, notice or post)",
                    k.get_ref()
                ),
            );
            None
        }),
    }
}

/// The written channels, else the campaign's.
fn item_channels(
    at: &Entry,
    channels: Option<&[Spanned<String>]>,
    campaign: Option<&Campaign>,
    ctx: &Context,
    report: &mut Report,
) -> Vec<String> {
    match (channels, campaign) {
        (Some(c), _) => check_channels(at.src, c, ctx, report),
        (None, Some(c)) => c.channels.clone(),
        (None, None) => {
            report.error(
                at.here.clone(),
                format!("item `{}` has no `channels`", at.id),
            );
            Vec::new()
        }
    }
}

/// The times an event gives relative times (`at`, reminders) to count from.
fn event_anchors(details: Option<&Details>) -> Option<crier_schedule::Anchors> {
    match details {
        Some(Details::Event(e)) => Some(crier_schedule::Anchors {
            start: e.start,
            end: Some(e.end),
            booking_deadline: e.booking_deadline,
        }),
        _ => None,
    }
}

/// `at` as written (absolute, or relative to the event), else the time
/// the campaign's cadence gives this undated post (`undated_index`).
fn publish_time(
    entry: &Entry,
    at: Option<&Spanned<TimeValue>>,
    campaign: Option<&Campaign>,
    undated_index: Option<usize>,
    anchors: Option<&crier_schedule::Anchors>,
    ctx: &Context,
    report: &mut Report,
) -> Option<DateTime<Utc>> {
    let (src, id) = (entry.src, entry.id);
    match (at, campaign, undated_index) {
        (Some(at), _, _) if anchors.is_some() && relative(at) => {
            relative_time(src, "at", at.span(), &at.get_ref().as_text(), anchors, ctx, report)
        }
        (Some(at), _, _) => parse_time(src, "at", at, ctx, report),
        (None, Some(c), Some(i)) => c.slots.get(i).copied().or_else(|| {
            report.error(entry.here.clone(), format!("item `{id}` has no `at` and the campaign's cadence has no free time left for it"));
            None
        }),
        _ => {
            report.error(entry.here.clone(), format!("item `{id}` has no publish time `at`"));
            None
        }
    }
}

/// The campaign's hashtags, then the entry's own not already among them.
fn merged_hashtags(
    src: &SourceFile,
    campaign: Option<&Campaign>,
    own: Option<&[Spanned<String>]>,
    report: &mut Report,
) -> Vec<String> {
    let mut hashtags = campaign.map(|c| c.hashtags.clone()).unwrap_or_default();
    for tag in check_hashtags(src, own.unwrap_or_default(), report) {
        if !hashtags.contains(&tag) {
            hashtags.push(tag);
        }
    }
    hashtags
}

/// An event's reminders, each with the text that names it.
fn reminders(
    src: &SourceFile,
    written: Option<&[Spanned<String>]>,
    anchors: Option<&crier_schedule::Anchors>,
    ctx: &Context,
    report: &mut Report,
) -> Vec<(String, DateTime<Utc>)> {
    let mut reminders = Vec::new();
    for r in written.into_iter().flatten() {
        if anchors.is_none() {
            report.error(src.span(&r.span()), "`reminders` apply to events only");
            break;
        }
        if let Some(t) = relative_time(
            src,
            "reminders",
            r.span(),
            r.get_ref(),
            anchors,
            ctx,
            report,
        ) {
            reminders.push((r.get_ref().trim().to_string(), t));
        }
    }
    reminders
}

fn images(raw: Vec<Spanned<RawImage>>) -> Vec<Image> {
    raw.into_iter()
        .map(|i| {
            let i = i.into_inner();
            Image {
                src: i.src,
                alt: i.alt.trim().to_string(),
            }
        })
        .collect()
}
