//! The network's own words for an error, tidied: collapsed, truncated and
//! without URLs (a chat webhook's URL is itself a secret).

/// The most of a network's error message kept in an error (in characters).
pub(super) const MAX_MESSAGE: usize = 300;

/// The network's own explanation from an error body: the usual JSON fields
/// (`error`, `error_description`, `message`, `detail`, `errors[0]`), or the
/// text itself. Whitespace is collapsed and the result truncated.
pub fn error_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let message = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(json) => json_message(&json).unwrap_or_else(|| body.to_string()),
        Err(_) => body.to_string(),
    };
    Some(tidy(&message))
}

fn json_message(json: &serde_json::Value) -> Option<String> {
    let text = |v: Option<&serde_json::Value>| -> Option<String> {
        let v = v?;
        match v {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            // Nested shapes: {"error": {"message": ..}}, {"errors": [{"message": ..}]}.
            serde_json::Value::Object(o) => ["message", "detail", "error_description"]
                .iter()
                .find_map(|k| o.get(*k)?.as_str().map(str::to_string)),
            _ => None,
        }
    };
    // A short code such as "invalid_grant" or "InvalidRequest" reads best
    // in front of the sentence that explains it.
    let code = json.get("error").and_then(|v| v.as_str());
    let sentence = text(json.get("error_description"))
        .or_else(|| text(json.get("message")))
        .or_else(|| text(json.get("detail")))
        .or_else(|| text(json.get("errors").and_then(|e| e.get(0))))
        .or_else(|| text(json.get("error")).filter(|_| code.is_none()))
        .or_else(|| text(json.get("title")));
    match (code, sentence) {
        (Some(c), Some(s)) if s != c => Some(format!("{c}: {s}")),
        (Some(c), _) => Some(c.to_string()),
        (None, s) => s,
    }
}

fn tidy(message: &str) -> String {
    let collapsed = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let collapsed = redact_urls(&collapsed);
    match collapsed.char_indices().nth(MAX_MESSAGE) {
        Some((cut, _)) => format!("{}…", &collapsed[..cut]),
        None => collapsed,
    }
}

/// Replaces anything shaped like `scheme://...` with `<url>`.
pub(super) fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .map_or(0, |i| i + 1);
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| c.is_whitespace() || "\"'<>()[]{}`,".contains(c))
            .unwrap_or(after.len());
        out.push_str(&rest[..scheme_start]);
        out.push_str("<url>");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}
