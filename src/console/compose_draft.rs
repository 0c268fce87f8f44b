//! The composer's draft: the posted form's fields, carried from step to
//! step in hidden fields (no server session), turned into the item's
//! `fields` for the API and back. Dates are GOV.UK date inputs (day,
//! month, year) with a time; lists are one entry per line; sections and
//! images have one empty slot more than they use, so another can be
//! added without JavaScript.

use serde_json::{json, Map, Value};

use super::compose_schedule as schedule;
use super::form::field;
use super::layout::FieldError;

pub type Pairs = Vec<(String, String)>;

pub const KINDS: [(&str, &str, &str); 5] = [
    ("news", "News", "A newsletter edition with sections"),
    (
        "briefing",
        "Briefing",
        "A document with its themes and questions",
    ),
    (
        "event",
        "Event",
        "A course or meeting with a start, a venue and booking",
    ),
    ("notice", "Notice", "A short announcement"),
    ("post", "Post", "A social post"),
];

/// Plain text fields every kind has.
pub const COMMON_TEXT: [&str; 4] = ["title", "summary", "body", "link"];
/// Each kind's own plain text fields.
pub fn kind_text(kind: &str) -> &'static [&'static str] {
    match kind {
        "news" => &["edition"],
        "briefing" => &["document"],
        "event" => &["venue", "booking_url", "booking_email"],
        _ => &[],
    }
}
/// Each kind's own date-and-time fields (the publish time is the
/// schedule's: `compose_schedule.rs`).
pub fn kind_times(kind: &str) -> &'static [&'static str] {
    match kind {
        "event" => &["start", "end", "booking_deadline"],
        _ => &[],
    }
}
/// Each kind's lists written one entry per line.
pub fn kind_lines(kind: &str) -> &'static [&'static str] {
    match kind {
        "briefing" => &["themes", "questions"],
        "event" => &["reminders"],
        _ => &[],
    }
}
/// Lists of words written on one line, separated by spaces.
const WORDS: [&str; 1] = ["hashtags"];
/// Lists chosen with checkboxes.
pub const CHOSEN: [&str; 2] = ["channels", "topics"];

pub fn is_kind(k: &str) -> bool {
    KINDS.iter().any(|(name, _, _)| *name == k)
}

/// The item's fields from the form, and what is missing or malformed in
/// it (each naming the form control it is about).
pub fn to_fields(kind: &str, pairs: &[(String, String)]) -> (Map<String, Value>, Vec<FieldError>) {
    let mut out: Map<String, Value> = match serde_json::from_str(&field(pairs, "keep")) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut errors = Vec::new();
    out.insert("id".into(), json!(field(pairs, "id")));
    out.insert("kind".into(), json!(kind));
    for name in COMMON_TEXT.iter().chain(kind_text(kind)) {
        put_text(&mut out, name, field(pairs, name));
    }
    errors.extend(schedule::to_fields(pairs, &mut out));
    for name in kind_times(kind) {
        match time_of(pairs, name) {
            Ok(Some(t)) => {
                out.insert((*name).into(), json!(t));
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    for name in kind_lines(kind) {
        let lines: Vec<String> = field(pairs, name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        put_list(&mut out, name, lines);
    }
    for name in WORDS {
        let words = field(pairs, name)
            .split_whitespace()
            .map(|w| w.trim_start_matches('#').to_string())
            .collect();
        put_list(&mut out, name, words);
    }
    for name in CHOSEN {
        let mut chosen: Vec<String> = chosen(pairs, name);
        let other = field(pairs, &format!("{name}-other"));
        chosen.extend(
            other
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        put_list(&mut out, name, chosen);
    }
    let (sections, images) = (slots(pairs, "section"), slots(pairs, "image"));
    put_tables(&mut out, "sections", &sections, ["heading", "body"]);
    put_tables(&mut out, "images", &images, ["src", "alt"]);
    // A campaign's post without channels takes the campaign's.
    let post = schedule::chosen(pairs) == "cadence" || !field(pairs, "campaign-own").is_empty();
    errors.extend(required(kind, &out, &images, post));
    (out, errors)
}

/// The form's fields for an item's `fields` as the API returns them
/// (`campaign`: the file of the campaign it is a post of); keys the form
/// has no control for are kept whole in `keep`.
pub fn to_pairs(kind: &str, fields: &Map<String, Value>, campaign: Option<&str>) -> Pairs {
    let mut keep = fields.clone();
    let mut pairs = schedule::to_pairs(&mut keep, campaign);
    let mut take = |k: &str| keep.remove(k);
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default()
    };
    take("kind");
    if let Some(v) = take("id") {
        pairs.push(("id".into(), text(&v)));
    }
    for name in COMMON_TEXT.iter().chain(kind_text(kind)) {
        if let Some(v) = take(name) {
            pairs.push(((*name).into(), text(&v)));
        }
    }
    for name in kind_times(kind) {
        if let Some(v) = take(name) {
            pairs.extend(time_pairs(name, &text(&v)));
        }
    }
    for name in kind_lines(kind) {
        if let Some(v) = take(name) {
            pairs.push(((*name).into(), list(&v).join("\n")));
        }
    }
    for name in WORDS {
        if let Some(v) = take(name) {
            pairs.push((name.into(), list(&v).join(" ")));
        }
    }
    for name in CHOSEN {
        for v in take(name).map(|v| list(&v)).unwrap_or_default() {
            pairs.push((name.into(), v));
        }
    }
    for (key, slot, names) in [
        ("sections", "section", ["heading", "body"]),
        ("images", "image", ["src", "alt"]),
    ] {
        let Some(Value::Array(rows)) = take(key) else {
            continue;
        };
        for (i, row) in rows.iter().enumerate() {
            for n in names {
                let v = row.get(n).map(text).unwrap_or_default();
                pairs.push((format!("{slot}-{n}-{}", i + 1), v));
            }
        }
    }
    if !keep.is_empty() {
        pairs.push(("keep".into(), Value::Object(keep).to_string()));
    }
    pairs
}

/// Every value posted under `name` (checkboxes), without blanks.
pub fn chosen(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(n, v)| n == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

/// The filled numbered slots `{slot}-{a}-{n}`, `{slot}-{b}-{n}`: (a, b) pairs.
pub fn slots(pairs: &[(String, String)], slot: &str) -> Vec<(String, String)> {
    let names: &[&str; 2] = if slot == "section" {
        &["heading", "body"]
    } else {
        &["src", "alt"]
    };
    (1..=50)
        .map(|n| {
            let get = |k: &str| field(pairs, &format!("{slot}-{k}-{n}"));
            (get(names[0]), get(names[1]))
        })
        .filter(|(a, b)| !a.is_empty() || !b.is_empty())
        .collect()
}

fn put_text(out: &mut Map<String, Value>, name: &str, value: String) {
    let mut value = value.replace("\r\n", "\n");
    if value.is_empty() {
        out.remove(name);
        return;
    }
    // Body text ends with a newline, as people write it in files.
    if name == "body" && !value.ends_with('\n') {
        value.push('\n');
    }
    out.insert(name.into(), json!(value));
}

fn put_list(out: &mut Map<String, Value>, name: &str, values: Vec<String>) {
    if values.is_empty() {
        out.remove(name);
    } else {
        out.insert(name.into(), json!(values));
    }
}

fn put_tables(
    out: &mut Map<String, Value>,
    key: &str,
    rows: &[(String, String)],
    names: [&str; 2],
) {
    let rows: Vec<Value> = rows
        .iter()
        .map(|(a, b)| json!({ names[0]: a, names[1]: b.replace("\r\n", "\n") }))
        .collect();
    if rows.is_empty() {
        out.remove(key);
    } else {
        out.insert(key.into(), Value::Array(rows));
    }
}

/// What must be given before the API is asked (the API checks the rest).
fn required(
    kind: &str,
    out: &Map<String, Value>,
    images: &[(String, String)],
    post: bool,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut need = |key: &str, id: &str, message: &str| {
        if !out.contains_key(key) || out[key].as_str() == Some("") {
            errors.push((id.to_string(), message.to_string()));
        }
    };
    need("id", "id", "Enter an id for the item");
    need("title", "title", "Enter a title");
    need("body", "body", "Enter the text of the item");
    if !post {
        need("channels", "channels", "Select at least one channel");
    }
    if kind == "event" {
        need("start", "start-day", "Enter the date the event starts");
    }
    if kind == "briefing" {
        need(
            "document",
            "document",
            "Enter the address of the briefing document",
        );
    }
    for (i, (src, alt)) in images.iter().enumerate() {
        let n = i + 1;
        if src.is_empty() {
            errors.push((
                format!("image-src-{n}"),
                format!("Enter the file of image {n}"),
            ));
        } else if alt.is_empty() {
            errors.push((
                format!("image-alt-{n}"),
                format!("Enter alt text for image {n}, describing what it shows"),
            ));
        }
    }
    errors
}

/// A date and time field (`at-day`, `at-month`, `at-year`, `at-time`) as
/// items write it (`2027-01-13 10:00`); a schedule that is not one date
/// is kept as written (`at-text`).
pub(super) fn time_of(
    pairs: &[(String, String)],
    name: &str,
) -> Result<Option<String>, FieldError> {
    let written = field(pairs, &format!("{name}-text"));
    if !written.is_empty() {
        return Ok(Some(written));
    }
    let get = |part: &str| field(pairs, &format!("{name}-{part}"));
    let (d, m, y, t) = (get("day"), get("month"), get("year"), get("time"));
    if [&d, &m, &y, &t].iter().all(|s| s.is_empty()) {
        return Ok(None);
    }
    let label = label_of(name);
    let num = |s: &str| s.parse::<u32>().ok();
    let date = match (num(&d), num(&m), y.parse::<i32>().ok()) {
        (Some(d), Some(m), Some(y)) if y >= 1000 => chrono::NaiveDate::from_ymd_opt(y, m, d),
        _ => None,
    };
    let Some(date) = date else {
        let message = format!("{label} must be a real date, for example 27 3 2027");
        return Err((format!("{name}-day"), message));
    };
    let time = chrono::NaiveTime::parse_from_str(&t, "%H:%M")
        .or_else(|_| chrono::NaiveTime::parse_from_str(&t, "%H.%M"));
    match time {
        Ok(time) => Ok(Some(format!(
            "{} {}",
            date.format("%Y-%m-%d"),
            time.format("%H:%M")
        ))),
        Err(_) => Err((
            format!("{name}-time"),
            format!("{label} needs a time on the 24-hour clock, for example 09:30"),
        )),
    }
}

/// The form fields for a written time: a date input when it is one date.
pub(super) fn time_pairs(name: &str, written: &str) -> Pairs {
    let parsed = chrono::NaiveDateTime::parse_from_str(written, "%Y-%m-%d %H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(written, "%Y-%m-%dT%H:%M:%S"));
    match parsed {
        Ok(t) => vec![
            (format!("{name}-day"), t.format("%-d").to_string()),
            (format!("{name}-month"), t.format("%-m").to_string()),
            (format!("{name}-year"), t.format("%Y").to_string()),
            (format!("{name}-time"), t.format("%H:%M").to_string()),
        ],
        Err(_) => vec![(format!("{name}-text"), written.to_string())],
    }
}

/// What a field is called on the page.
pub fn label_of(name: &str) -> &'static str {
    match name {
        "id" => "Id",
        "title" => "Title",
        "summary" => "Summary",
        "body" => "Text",
        "link" => "Link",
        "at" => "Publish date",
        "slot" => "Earliest date and time",
        "start" => "Start",
        "end" => "End",
        "booking_deadline" => "Booking deadline",
        "venue" => "Venue",
        "booking_url" => "Booking page",
        "booking_email" => "Booking email address",
        "edition" => "Edition",
        "document" => "Document",
        "themes" => "Themes",
        "questions" => "Questions",
        "reminders" => "Reminders",
        "hashtags" => "Hashtags",
        "channels" => "Channels",
        "topics" => "Topics",
        "sections" => "Sections",
        "images" => "Images",
        _ => "Other settings",
    }
}

/// The form control an API finding's field (`fields.start`) is about.
pub fn control_of(pairs: &[(String, String)], api_field: Option<&str>) -> String {
    let Some(key) = api_field.and_then(|f| f.strip_prefix("fields.")) else {
        return "compose-form".into();
    };
    let key = key.split(['.', '[']).next().unwrap_or(key);
    // The publish time is at the date input of the choice made.
    let key = match key {
        "at" if schedule::chosen(pairs) == "slot" => "slot",
        "at" if schedule::chosen(pairs) == "cadence" => return "schedule".into(),
        "slot" => return "schedule".into(),
        k => k,
    };
    if ["at", "slot", "start", "end", "booking_deadline"].contains(&key) {
        let text = format!("{key}-text");
        return if field(pairs, &text).is_empty() {
            format!("{key}-day")
        } else {
            text
        };
    }
    match key {
        "sections" => "section-heading-1".into(),
        "images" => "image-src-1".into(),
        "kind" => "compose-form".into(),
        k if label_of(k) == "Other settings" => "compose-form".into(),
        k => k.into(),
    }
}
