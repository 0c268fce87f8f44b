//! iCalendar (RFC 5545): one VEVENT per event entry, times in UTC so no
//! VTIMEZONE is needed and a course crossing a clock change stays right.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::entry::{Entry, FeedMeta};
use crate::render::long_date;

/// RFC 5545 §3.1: lines are at most 75 octets, not counting the CRLF.
const MAX_OCTETS: usize = 75;

pub fn render(meta: &FeedMeta, entries: &[Entry], tz: Tz) -> String {
    let mut out = String::new();
    let mut line = |name: &str, value: &str| fold_into(&mut out, &format!("{name}:{value}"));
    line("BEGIN", "VCALENDAR");
    line("VERSION", "2.0");
    line("PRODID", "-//crier//crier feeds//EN");
    line("CALSCALE", "GREGORIAN");
    line("X-WR-CALNAME", &text(&meta.title));
    if !meta.description.is_empty() {
        line("X-WR-CALDESC", &text(&meta.description));
    }
    for e in entries {
        let Some(ev) = &e.data.event else { continue };
        line("BEGIN", "VEVENT");
        line("UID", &text(&e.data.id));
        // Without METHOD, DTSTAMP is when the event's information was last
        // revised: for a sent entry, when it was published. Not "now", so
        // the file only changes when an entry does.
        line("DTSTAMP", &utc(e.data.published));
        line("DTSTART", &utc(ev.start));
        line("DTEND", &utc(ev.end));
        line("SUMMARY", &text(&e.title));
        line("LOCATION", &text(&ev.venue));
        line("DESCRIPTION", &text(&description(e, tz)));
        if let Some(url) = e.data.link.as_ref().or(ev.booking_url.as_ref()) {
            line("URL", &uri(url));
        }
        let categories: Vec<String> = e.categories().into_iter().map(text).collect();
        if !categories.is_empty() {
            line("CATEGORIES", &categories.join(","));
        }
        if let Some(email) = &ev.booking_email {
            line("CONTACT", &text(email));
        }
        line("END", "VEVENT");
    }
    line("END", "VCALENDAR");
    out
}

/// The summary, then how to book: calendars show only this text.
fn description(e: &Entry, tz: Tz) -> String {
    let mut d = e.summary.clone();
    let Some(ev) = &e.data.event else { return d };
    if let Some(url) = &ev.booking_url {
        d.push_str(&format!("\n\nBook online: {url}"));
    }
    if let Some(email) = &ev.booking_email {
        d.push_str(&format!("\n\nBook by email: {email}"));
    }
    if let Some(deadline) = ev.booking_deadline {
        let local = deadline.with_timezone(&tz).format("%H:%M");
        d.push_str(&format!(
            "\nBooking closes {} at {local}.",
            long_date(deadline, tz)
        ));
    }
    d
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT values (§3.3.11): backslash, semicolon, comma and newline escaped;
/// other control characters are not allowed at all.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// URI values are not TEXT: no escaping, only no control characters.
fn uri(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Appends one content line, folded at 75 octets with CRLF and a space,
/// never inside a UTF-8 sequence (the space counts on the next line).
pub fn fold_into(out: &mut String, line: &str) {
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > MAX_OCTETS {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(line: &str) -> String {
        let mut out = String::new();
        fold_into(&mut out, line);
        out
    }

    #[test]
    fn escapes_text_values() {
        assert_eq!(text("a\\b; c, d\ne\r\u{7}"), "a\\\\b\\; c\\, d\\ne");
        assert_eq!(uri("https://x.example/a,b;c\n"), "https://x.example/a,b;c");
    }

    #[test]
    fn short_lines_are_not_folded() {
        assert_eq!(fold("SUMMARY:hi"), "SUMMARY:hi\r\n");
        let exactly = format!("S:{}", "x".repeat(73));
        assert_eq!(fold(&exactly), format!("{exactly}\r\n"));
    }

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        // 3-byte and 4-byte characters straddle every possible boundary.
        let line = format!("DESCRIPTION:{}", "é€🎉a".repeat(40));
        let folded = fold(&line);
        assert!(folded.ends_with("\r\n"));
        let physical: Vec<&str> = folded.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(physical.len() > 1);
        for (i, p) in physical.iter().enumerate() {
            assert!(p.len() <= MAX_OCTETS, "line {i} is {} octets", p.len());
            if i > 0 {
                assert!(p.starts_with(' '));
            }
        }
        // Unfolding (drop CRLF + one space) gives the line back.
        assert_eq!(folded.trim_end_matches("\r\n").replace("\r\n ", ""), line);
        // The first line is filled as far as a whole character allows.
        assert!(physical[0].len() > MAX_OCTETS - 4);
    }

    #[test]
    fn utc_times_end_in_z() {
        let t = DateTime::parse_from_rfc3339("2027-03-28T10:00:00+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(utc(t), "20270328T090000Z");
    }
}
