//! What RSS and Atom share: XML escaping and the two date formats.

use chrono::{DateTime, SecondsFormat, Utc};

/// Escapes text for XML content and attribute values alike, dropping the
/// characters XML 1.0 cannot carry at all (a feed with one is unreadable).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A bare CR would be read back as a newline; nothing needs one.
            '\r' => {}
            '\t' | '\n' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// RFC 822 (as updated by RFC 1123: four-digit year) with a numeric zone,
/// which is what RSS 2.0 readers and the W3C validator expect.
pub fn rfc822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// RFC 3339 in UTC, whole seconds: `2026-12-08T09:30:00Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Writes `<name>text</name>` on its own indented line.
pub fn element(out: &mut String, indent: &str, name: &str, text: &str) {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            escape("Tom & Jerry <script>\"x\"</script> it's"),
            "Tom &amp; Jerry &lt;script&gt;&quot;x&quot;&lt;/script&gt; it&apos;s"
        );
        assert_eq!(escape("a\u{0}b\u{8}c\r\n\td\u{FFFF}"), "abc\n\td");
        assert_eq!(escape("Café 🎉 naïve"), "Café 🎉 naïve");
    }

    #[test]
    fn dates_in_both_formats() {
        let t = Utc.with_ymd_and_hms(2027, 3, 7, 9, 5, 0).unwrap();
        assert_eq!(rfc822(t), "Sun, 07 Mar 2027 09:05:00 +0000");
        assert_eq!(rfc3339(t), "2027-03-07T09:05:00Z");
        let with_nanos = t + chrono::TimeDelta::milliseconds(250);
        assert_eq!(rfc3339(with_nanos), "2027-03-07T09:05:00Z");
    }
}
