//! The HTTP API through the real daemon: fuzzed by schemathesis from the
//! OpenAPI document the daemon serves, with a `test` token (it may read
//! everything and change nothing, so the fuzzing cannot publish).

mod support;

use std::process::Command;

use support::daemon::{in_secs, Workspace};

const CHANNELS: &str = r#"
[channels.log]
kind = "discard"
"#;

fn workspace() -> Workspace {
    let ws = Workspace::new(CHANNELS, "");
    ws.write(
        "campaigns/notices.toml",
        &format!(
            "[[item]]\nid = \"holiday-hours\"\nkind = \"notice\"\ntitle = \"Holiday hours\"\n\
             at = \"{}\"\nchannels = [\"log\"]\nbody = \"Closed from 24 December.\"\n",
            in_secs(3600)
        ),
    );
    ws
}

/// The token `crier tokens create` printed (the line that is one).
fn token(ws: &Workspace, name: &str, role: &str, kind: &str) -> String {
    let out = ws.crier(&["tokens", "create", name, "--role", role, "--kind", kind]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("crier_"))
        .expect("a token in the output")
        .to_string()
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_promise() {
    let Ok(schemathesis) = std::env::var("CRIER_SCHEMATHESIS") else {
        eprintln!("skipped: CRIER_SCHEMATHESIS is not set (scripts/test.sh installs it)");
        return;
    };
    let ws = workspace();
    let daemon = ws.start(&[]);
    let token = token(&ws, "fuzz", "admin", "test");
    let out = Command::new(schemathesis)
        .arg("run")
        .arg(ws.url("/api/v1/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"])
        .args(["--max-examples", "15", "--workers", "1", "--no-color"])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(ws.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(daemon);
}
