//! `crier preview`: each variant of one item, with its counted length.

use std::path::Path;
use std::process::ExitCode;

use super::Format;
use crate::diagnostics::Severity;
use crate::variant::Variant;

pub fn run(config: &Path, item_id: &str, channel: Option<&str>, format: Format) -> ExitCode {
    let (ws, mut report) = match super::load(config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let Some(item) = ws.item(item_id) else {
        eprintln!(
            "no item `{item_id}` (known: {})",
            ws.items
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::from(1);
    };
    if let Some(name) = channel {
        if !item.channels.iter().any(|c| c == name) {
            eprintln!(
                "item `{item_id}` does not go to channel `{name}` (it goes to: {})",
                item.channels.join(", ")
            );
            return ExitCode::from(1);
        }
    }
    // Only this item's problems matter here; load-time problems elsewhere do not.
    report.diagnostics.clear();
    let variants: Vec<Variant> = ws
        .variants(item, &mut report)
        .into_iter()
        .filter(|v| channel.is_none_or(|c| v.channel == c))
        .collect();
    match format {
        Format::Json => {
            // Each variant as stored, plus where its length limit came from.
            let shown: Vec<serde_json::Value> = variants
                .iter()
                .map(|v| {
                    let mut json = serde_json::to_value(v).expect("JSON of plain data");
                    if let Some(limits) = ws.channel(&v.channel).and_then(|c| c.limits()) {
                        json["limits"] = limits.into();
                    }
                    json
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&shown).expect("JSON of plain data")
            )
        }
        Format::Text => {
            for v in &variants {
                let limits = ws.channel(&v.channel).and_then(|c| c.limits());
                print_variant(v, limits.as_deref());
            }
        }
    }
    for d in &report.diagnostics {
        eprintln!("{d}");
    }
    if report
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error)
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_variant(v: &Variant, limits: Option<&str>) {
    let limit = v.limit.map_or(String::new(), |l| format!("/{l}"));
    println!(
        "=== {} ({}) · {}{} {}",
        v.channel, v.kind, v.length, limit, v.unit
    );
    if let Some(limits) = limits {
        println!("limits: {limits}");
    }
    if let Some(s) = &v.subject {
        println!("Subject: {s}");
    }
    if v.parts.len() > 1 {
        for (i, p) in v.parts.iter().enumerate() {
            println!(
                "--- part {}/{} · {}{} {}",
                i + 1,
                v.parts.len(),
                p.length,
                limit,
                v.unit
            );
            println!("{}", p.text);
        }
    } else {
        println!("{}", v.text);
    }
    if let Some(h) = &v.html {
        println!("--- html");
        println!("{h}");
    }
    for img in &v.images {
        println!("[image {} — alt: {}]", img.src, img.alt);
    }
    println!();
}
