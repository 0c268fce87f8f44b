//! No secret value can end up in command output.

use std::process::Command;

use crier::diagnostics::Report;
use crier::workspace::Workspace;

#[test]
fn secret_values_never_appear_in_check_or_preview_output() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = root.join("channels.toml");
    let mut report = Report::default();
    let ws = Workspace::load(&config, &mut report).expect("example loads");
    // Every secret every channel names, set to a value we can search for.
    let mut env = Vec::new();
    for channel in &ws.channels {
        for (i, secret) in channel.secrets().into_iter().enumerate() {
            env.push((
                secret.0.clone(),
                format!("s3cr3t-{}-{i}-value", channel.name()),
            ));
        }
    }
    assert!(
        env.len() >= 10,
        "the example names secrets for every network"
    );
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_crier"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let mut outputs = vec![run(&["check"]), run(&["check", "--format", "json"])];
    for item in &ws.items {
        outputs.push(run(&["preview", &item.id]));
        outputs.push(run(&["preview", &item.id, "--format", "json"]));
    }
    // Sanity: the secrets were set, so check no longer notes them missing.
    assert!(!outputs[0].contains("is not set here"), "{}", outputs[0]);
    for out in &outputs {
        for (_, value) in &env {
            assert!(!out.contains(value.as_str()), "secret leaked:\n{out}");
            assert!(!out.contains("s3cr3t"), "secret leaked:\n{out}");
        }
    }
}
