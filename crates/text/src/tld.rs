//! Top-level domain check. Networks only link `word.tld` when `tld` is a real
//! top-level domain; the Public Suffix List's ICANN section holds every one
//! (ASCII and internationalised), so we ask it rather than keep our own list.

/// True if `label` (one label, no dots) is a top-level domain. ASCII letters
/// are compared case-insensitively.
pub(crate) fn is_tld(label: &str) -> bool {
    if label.is_empty() || label.contains('.') {
        return false;
    }
    let lower = label.to_ascii_lowercase();
    let known = |name: &str| {
        psl::suffix(name.as_bytes())
            .is_some_and(|s| s.is_known() && s.as_bytes() == name.as_bytes())
    };
    // Some ccTLDs appear in the list only through their second-level rules
    // (`co.za`) or a wildcard (`*.ck`), never on their own.
    known(&lower)
        || ["co", "com", "org", "ac", "gov", "net", "edu", "x"]
            .iter()
            .any(|sld| known(&format!("{sld}.{lower}")))
}

#[cfg(test)]
mod tests {
    use super::is_tld;

    #[test]
    fn known_and_unknown() {
        for yes in [
            "com",
            "COM",
            "co",
            "uk",
            "jp",
            "org",
            "wales",
            "cymru",
            "پاکستان",
            "xn--mgbai9azgqp6j",
            "za",
            "ck",
            "みんな",
        ] {
            assert!(is_tld(yes), "{yes} should be a TLD");
        }
        for no in ["baz", "comm", "x", "txt", "somecom", "", "co.uk"] {
            assert!(!is_tld(no), "{no} should not be a TLD");
        }
    }
}
