//! Reads `campaigns/*.toml`. Each file holds `[[item]]` entries, or a
//! `[campaign]` with `[[post]]` entries that inherit its hashtags, channels,
//! topics and cadence, or both. Every entry is read on its own so one bad
//! entry never hides the problems of the next.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::{Details, Event, Image, Item, ItemKind, Origin, Section};
use crate::diagnostics::{Location, Report, SourceFile};

/// What content needs to know about its surroundings.
pub struct Context<'a> {
    pub timezone: Tz,
    pub language: &'a str,
    pub channels: &'a BTreeSet<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCampaign {
    name: String,
    #[serde(default)]
    hashtags: Vec<Spanned<String>>,
    #[serde(default)]
    channels: Vec<Spanned<String>>,
    #[serde(default)]
    topics: Vec<String>,
    /// A cron pattern (optionally `from`/`until`) giving undated posts their times.
    cadence: Option<Spanned<String>>,
    link: Option<Spanned<String>>,
    language: Option<String>,
    require_approval: Option<bool>,
    thread: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    src: String,
    #[serde(default)]
    alt: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    heading: String,
    body: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
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

/// A time written as a string (`"2026-12-01 10:00"`) or a TOML datetime.
#[derive(Deserialize)]
#[serde(untagged)]
enum TimeValue {
    Text(String),
    Toml(toml::value::Datetime),
}

impl TimeValue {
    fn as_text(&self) -> String {
        match self {
            TimeValue::Text(s) => s.clone(),
            TimeValue::Toml(d) => d.to_string(),
        }
    }
}

/// Loads every `*.toml` under `dir` (sorted, so output is stable).
pub fn load_dir(dir: &Path, ctx: &Context, report: &mut Report) -> Vec<Item> {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            report.error(
                Location::Path {
                    path: dir.to_path_buf(),
                },
                format!("cannot read the campaigns folder: {e}"),
            );
            return Vec::new();
        }
    };
    files.sort();
    let mut items = Vec::new();
    for path in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => items.extend(load_file(&SourceFile::new(&path, text), ctx, report)),
            Err(e) => report.error(Location::Path { path }, format!("cannot read: {e}")),
        }
    }
    let mut seen: HashMap<String, Origin> = HashMap::new();
    items.retain(|item: &Item| match seen.get(&item.id) {
        Some(first) => {
            report.error(
                origin_location(&item.origin),
                format!(
                    "duplicate item id `{}` (first used at {}:{}:{})",
                    item.id,
                    first.path.display(),
                    first.line,
                    first.column
                ),
            );
            false
        }
        None => {
            seen.insert(item.id.clone(), item.origin.clone());
            true
        }
    });
    items
}

fn origin_location(o: &Origin) -> Location {
    Location::File {
        path: o.path.clone(),
        line: o.line,
        column: o.column,
    }
}

/// Parses one file; entries with errors are reported and left out.
pub fn load_file(src: &SourceFile, ctx: &Context, report: &mut Report) -> Vec<Item> {
    let doc = match DeTable::parse(&src.text) {
        Ok(d) => d.into_inner(),
        Err(e) => {
            let (loc, msg) = src.toml_error(&e);
            report.error(loc, msg);
            return Vec::new();
        }
    };
    let mut campaign: Option<Campaign> = None;
    let mut entries: Vec<(bool, Spanned<DeValue>)> = Vec::new();
    for (key, value) in doc {
        match key.get_ref().as_ref() {
            "campaign" => campaign = read_campaign(src, value, ctx, report),
            name @ ("item" | "post") => match value.into_inner() {
                DeValue::Array(array) => {
                    entries.extend(array.into_iter().map(|v| (name == "post", v)))
                }
                _ => report.error(
                    src.span(&key.span()),
                    format!("`{name}` must be an array of tables: write [[{name}]]"),
                ),
            },
            other => report.error(
                src.span(&key.span()),
                format!("unknown table `{other}` (expected [[item]], [campaign] or [[post]])"),
            ),
        }
    }
    let mut items = Vec::new();
    let mut undated = 0usize;
    for (is_post, value) in entries {
        let span = value.span();
        let raw = match RawItem::deserialize(ValueDeserializer::from(value)) {
            Ok(r) => r,
            Err(e) => {
                let loc = e.span().map_or_else(|| src.span(&span), |s| src.span(&s));
                report.error(loc, e.message().trim().to_string());
                continue;
            }
        };
        let parent = if is_post { campaign.as_ref() } else { None };
        if is_post && campaign.is_none() {
            report.error(
                src.span(&span),
                "[[post]] entries need a [campaign] table in the same file",
            );
            continue;
        }
        let at_index = if raw.at.is_none() && parent.is_some() {
            undated += 1;
            Some(undated - 1)
        } else {
            None
        };
        if let Some(item) = build_item(src, raw, parent, at_index, ctx, report) {
            items.push(item);
        }
    }
    items
}

/// A campaign's settings, already checked.
struct Campaign {
    name: String,
    hashtags: Vec<String>,
    channels: Vec<String>,
    topics: Vec<String>,
    /// Firings of the cadence, for posts without their own time.
    slots: Vec<DateTime<Utc>>,
    link: Option<String>,
    language: Option<String>,
    require_approval: bool,
    thread: Option<bool>,
}

/// How many cadence firings to compute; a campaign rarely has more posts.
const CADENCE_LOOKAHEAD: usize = 500;

/// The times a cadence gives undated posts, in order. A `from` date is
/// required so the times do not move each time the files are read.
fn cadence_times(text: &str, tz: Tz) -> Result<Vec<DateTime<Utc>>, String> {
    use crier_schedule::Schedule;
    let Schedule::Cadence(cadence) = Schedule::parse(text, tz).map_err(|e| e.to_string())? else {
        return Err("expected a cron pattern, e.g. \"0 10 * * MON from 2026-12-07\"".into());
    };
    let from = cadence
        .from()
        .ok_or("add `from YYYY-MM-DD` so post times stay put")?;
    let start =
        crier_schedule::resolve_forward(from.and_hms_opt(0, 0, 0).expect("midnight exists"), tz);
    Ok(cadence
        .firings(start - chrono::TimeDelta::seconds(1), tz)
        .take(CADENCE_LOOKAHEAD)
        .collect())
}

fn read_campaign(
    src: &SourceFile,
    value: Spanned<DeValue>,
    ctx: &Context,
    report: &mut Report,
) -> Option<Campaign> {
    let span = value.span();
    let raw = match RawCampaign::deserialize(ValueDeserializer::from(value)) {
        Ok(r) => r,
        Err(e) => {
            let loc = e.span().map_or_else(|| src.span(&span), |s| src.span(&s));
            report.error(loc, e.message().trim().to_string());
            return None;
        }
    };
    let slots = match &raw.cadence {
        None => Vec::new(),
        Some(c) => cadence_times(c.get_ref(), ctx.timezone).unwrap_or_else(|msg| {
            report.error(src.span(&c.span()), format!("bad cadence: {msg}"));
            Vec::new()
        }),
    };
    Some(Campaign {
        name: raw.name,
        hashtags: check_hashtags(src, &raw.hashtags, report),
        channels: check_channels(src, &raw.channels, ctx, report),
        topics: raw.topics,
        slots,
        link: raw.link.map(Spanned::into_inner),
        language: raw.language,
        require_approval: raw.require_approval.unwrap_or(false),
        thread: raw.thread,
    })
}

fn check_channels(
    src: &SourceFile,
    names: &[Spanned<String>],
    ctx: &Context,
    report: &mut Report,
) -> Vec<String> {
    let mut out = Vec::new();
    for n in names {
        if ctx.channels.contains(n.get_ref()) {
            out.push(n.get_ref().clone());
        } else {
            let known: Vec<&str> = ctx.channels.iter().map(String::as_str).collect();
            report.error(
                src.span(&n.span()),
                format!(
                    "unknown channel `{}` (channels.toml defines: {})",
                    n.get_ref(),
                    known.join(", ")
                ),
            );
        }
    }
    out
}

fn check_hashtags(src: &SourceFile, tags: &[Spanned<String>], report: &mut Report) -> Vec<String> {
    let mut out = Vec::new();
    for t in tags {
        let tag = t.get_ref().trim_start_matches('#');
        if tag.is_empty() || !tag.chars().all(|c| c.is_alphanumeric() || c == '_') {
            report.error(
                src.span(&t.span()),
                format!(
                    "hashtag `{}` may hold only letters, digits and '_'",
                    t.get_ref()
                ),
            );
        } else if tag.chars().all(|c| c.is_ascii_digit()) {
            report.error(
                src.span(&t.span()),
                format!("hashtag `{tag}` cannot be only digits"),
            );
        } else {
            out.push(tag.to_string());
        }
    }
    out
}

fn parse_time(
    src: &SourceFile,
    field: &str,
    v: &Spanned<TimeValue>,
    ctx: &Context,
    report: &mut Report,
) -> Option<DateTime<Utc>> {
    match crier_schedule::parse_datetime(&v.get_ref().as_text(), ctx.timezone) {
        Ok(t) => {
            if t.ambiguous {
                report.warning(
                    src.span(&v.span()),
                    format!("`{field}` happens twice when the clocks go back; the first (summer time) is used: add an offset to choose"),
                );
            }
            Some(t.instant)
        }
        Err(e) => {
            report.error(src.span(&v.span()), format!("bad `{field}`: {e}"));
            None
        }
    }
}

/// `at` written relative to an event ("21 days before start at 10:00").
fn relative(v: &Spanned<TimeValue>) -> bool {
    matches!(v.get_ref(), TimeValue::Text(t) if t.contains("before") || t.contains("after") || t.trim_start().starts_with("at "))
}

fn relative_time(
    src: &SourceFile,
    field: &str,
    span: std::ops::Range<usize>,
    text: &str,
    anchors: Option<&crier_schedule::Anchors>,
    ctx: &Context,
    report: &mut Report,
) -> Option<DateTime<Utc>> {
    let anchors = anchors?;
    match crier_schedule::Relative::parse(text).and_then(|r| r.resolve(anchors, ctx.timezone)) {
        Ok(t) => Some(t),
        Err(e) => {
            report.error(src.span(&span), format!("bad `{field}`: {e}"));
            None
        }
    }
}

fn build_item(
    src: &SourceFile,
    raw: RawItem,
    campaign: Option<&Campaign>,
    undated_index: Option<usize>,
    ctx: &Context,
    report: &mut Report,
) -> Option<Item> {
    let errors_before = report.error_count();
    let here = src.span(&raw.id.span());
    let id = raw.id.get_ref().clone();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        report.error(
            here.clone(),
            format!("item id `{id}` may use only letters, digits, '-' and '_'"),
        );
    }
    let kind = match &raw.kind {
        None if campaign.is_some() => Some(ItemKind::Post),
        None => {
            report.error(
                here.clone(),
                format!("item `{id}` has no `kind` (news, briefing, event, notice or post)"),
            );
            None
        }
        Some(k) => ItemKind::parse(k.get_ref()).or_else(|| {
            report.error(
                src.span(&k.span()),
                format!(
                    "unknown kind `{}` (expected news, briefing, event, notice or post)",
                    k.get_ref()
                ),
            );
            None
        }),
    };
    let channels = match (&raw.channels, campaign) {
        (Some(c), _) => check_channels(src, c, ctx, report),
        (None, Some(c)) => c.channels.clone(),
        (None, None) => {
            report.error(here.clone(), format!("item `{id}` has no `channels`"));
            Vec::new()
        }
    };
    let details = kind.and_then(|k| details(src, &raw_details(&raw), k, &id, &here, ctx, report));
    let anchors = match &details {
        Some(Details::Event(e)) => Some(crier_schedule::Anchors {
            start: e.start,
            end: Some(e.end),
            booking_deadline: e.booking_deadline,
        }),
        _ => None,
    };
    let at = match (&raw.at, campaign, undated_index) {
        (Some(at), _, _) if anchors.is_some() && relative(at) => {
            relative_time(src, "at", at.span(), &at.get_ref().as_text(), anchors.as_ref(), ctx, report)
        }
        (Some(at), _, _) => parse_time(src, "at", at, ctx, report),
        (None, Some(c), Some(i)) => c.slots.get(i).copied().or_else(|| {
            report.error(here.clone(), format!("item `{id}` has no `at` and the campaign's cadence has no free time left for it"));
            None
        }),
        _ => {
            report.error(here.clone(), format!("item `{id}` has no publish time `at`"));
            None
        }
    };
    let mut hashtags = campaign.map(|c| c.hashtags.clone()).unwrap_or_default();
    for tag in check_hashtags(src, raw.hashtags.as_deref().unwrap_or_default(), report) {
        if !hashtags.contains(&tag) {
            hashtags.push(tag);
        }
    }
    let mut reminders = Vec::new();
    for r in raw.reminders.iter().flatten() {
        if anchors.is_none() {
            report.error(src.span(&r.span()), "`reminders` apply to events only");
            break;
        }
        if let Some(t) = relative_time(
            src,
            "reminders",
            r.span(),
            r.get_ref(),
            anchors.as_ref(),
            ctx,
            report,
        ) {
            reminders.push((r.get_ref().trim().to_string(), t));
        }
    }
    let images = raw
        .images
        .into_iter()
        .map(|i| {
            let i = i.into_inner();
            Image {
                src: i.src,
                alt: i.alt.trim().to_string(),
            }
        })
        .collect();
    let (kind, at, details) = (kind?, at?, details?);
    if report.error_count() > errors_before {
        return None;
    }
    let Location::File { line, column, .. } = here else {
        unreachable!("spans are file positions")
    };
    Some(Item {
        id,
        kind,
        title: raw.title,
        summary: raw.summary,
        body: raw.body,
        channels,
        at,
        link: raw
            .link
            .map(Spanned::into_inner)
            .or_else(|| campaign.and_then(|c| c.link.clone())),
        hashtags,
        topics: raw
            .topics
            .or_else(|| campaign.map(|c| c.topics.clone()))
            .unwrap_or_default(),
        images,
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
        reminders,
        details,
        origin: Origin {
            path: src.path.clone(),
            line,
            column,
        },
    })
}

/// The kind-specific fields, borrowed so `details` can check them together.
struct RawDetails<'r> {
    edition: &'r Option<String>,
    sections: &'r Option<Vec<RawSection>>,
    themes: &'r Option<Vec<String>>,
    document: &'r Option<Spanned<String>>,
    questions: &'r Option<Vec<String>>,
    start: &'r Option<Spanned<TimeValue>>,
    end: &'r Option<Spanned<TimeValue>>,
    venue: &'r Option<String>,
    booking_url: &'r Option<Spanned<String>>,
    booking_email: &'r Option<String>,
    booking_deadline: &'r Option<Spanned<TimeValue>>,
}

fn raw_details(r: &RawItem) -> RawDetails<'_> {
    RawDetails {
        edition: &r.edition,
        sections: &r.sections,
        themes: &r.themes,
        document: &r.document,
        questions: &r.questions,
        start: &r.start,
        end: &r.end,
        venue: &r.venue,
        booking_url: &r.booking_url,
        booking_email: &r.booking_email,
        booking_deadline: &r.booking_deadline,
    }
}

fn details(
    src: &SourceFile,
    r: &RawDetails,
    kind: ItemKind,
    id: &str,
    here: &Location,
    ctx: &Context,
    report: &mut Report,
) -> Option<Details> {
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
                here.clone(),
                format!(
                    "item `{id}`: field `{field}` belongs to {} items, not {}",
                    owner.as_str(),
                    kind.as_str()
                ),
            );
        }
    }
    let mut missing = |field: &str| {
        report.error(
            here.clone(),
            format!("{} item `{id}` needs `{field}`", kind.as_str()),
        );
    };
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
                missing("document");
                return None;
            };
            Some(Details::Briefing {
                themes: r.themes.clone().unwrap_or_default(),
                document: document.get_ref().clone(),
                questions: r.questions.clone().unwrap_or_default(),
            })
        }
        ItemKind::Event => {
            let (Some(start), Some(end), Some(venue)) = (r.start, r.end, r.venue) else {
                for (f, set) in [
                    ("start", r.start.is_some()),
                    ("end", r.end.is_some()),
                    ("venue", r.venue.is_some()),
                ] {
                    if !set {
                        missing(f);
                    }
                }
                return None;
            };
            if r.booking_url.is_none() && r.booking_email.is_none() {
                missing("booking_url or booking_email");
            }
            let start_t = parse_time(src, "start", start, ctx, report);
            let end_t = parse_time(src, "end", end, ctx, report);
            let deadline = match r.booking_deadline {
                Some(d) => Some(parse_time(src, "booking_deadline", d, ctx, report)?),
                None => None,
            };
            let (start_t, end_t) = (start_t?, end_t?);
            if end_t <= start_t {
                report.error(
                    src.span(&end.span()),
                    format!("event `{id}` ends before it starts"),
                );
                return None;
            }
            Some(Details::Event(Event {
                start: start_t,
                end: end_t,
                venue: venue.clone(),
                booking_url: r.booking_url.as_ref().map(|u| u.get_ref().clone()),
                booking_email: r.booking_email.clone(),
                booking_deadline: deadline,
            }))
        }
        ItemKind::Notice | ItemKind::Post => Some(Details::None),
    }
}
