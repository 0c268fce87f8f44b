//! twitter-text conformance for X counting and URL extraction.
//!
//! The suite is not shipped with crier: set `CRIER_CONFORMANCE_DIR` to a
//! folder holding twitter-text's `validate.yml` (and `extract.yml`) to run it.
//! Without it the tests print why they skip and pass.

use serde_yaml::Value;
use std::path::PathBuf;

fn suite(file: &str) -> Option<Value> {
    let Some(dir) = std::env::var_os("CRIER_CONFORMANCE_DIR") else {
        eprintln!("skipping: CRIER_CONFORMANCE_DIR not set");
        return None;
    };
    let path = PathBuf::from(dir).join(file);
    let raw = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Some(serde_yaml::from_str(&raw).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display())))
}

fn cases<'a>(doc: &'a Value, section: &str) -> &'a [Value] {
    doc["tests"][section]
        .as_sequence()
        .unwrap_or_else(|| panic!("no section {section}"))
        .as_slice()
}

fn num(v: &Value, key: &str) -> usize {
    v[key].as_u64().unwrap_or_else(|| panic!("missing {key}")) as usize
}

/// Runs one validate.yml section and fails once, listing every mismatch.
fn check_parse_section(section: &str) {
    let Some(doc) = suite("validate.yml") else {
        return;
    };
    let cases = cases(&doc, section);
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let e = &case["expected"];
        let want = crier_text::x::XParseResult {
            weighted_length: num(e, "weightedLength"),
            valid: e["valid"].as_bool().expect("valid"),
            permillage: num(e, "permillage"),
            display_range: (num(e, "displayRangeStart"), num(e, "displayRangeEnd")),
            valid_range: (num(e, "validRangeStart"), num(e, "validRangeEnd")),
        };
        let got = crier_text::x::parse(text);
        if got != want {
            failures.push(format!(
                "{:?}\n  want {want:?}\n  got  {got:?}",
                case["description"].as_str().unwrap_or("?")
            ));
        }
    }
    eprintln!(
        "{section}: {}/{} passed",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn weighted_tweets_with_discounted_emoji() {
    check_parse_section("WeightedTweetsWithDiscountedEmojiCounterTest");
}

#[test]
fn unicode_directional_markers() {
    check_parse_section("UnicodeDirectionalMarkerCounterTest");
}

#[test]
fn extract_urls() {
    let Some(doc) = suite("extract.yml") else {
        return;
    };
    let cases = cases(&doc, "urls");
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let want: Vec<&str> = case["expected"]
            .as_sequence()
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let got: Vec<&str> = crier_text::urls(text)
            .into_iter()
            .map(|r| &text[r])
            .collect();
        if got != want {
            failures.push(format!(
                "{:?}\n  want {want:?}\n  got  {got:?}",
                case["description"].as_str().unwrap_or("?")
            ));
        }
    }
    eprintln!(
        "urls: {}/{} passed",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
