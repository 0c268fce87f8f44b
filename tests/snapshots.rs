//! Pins every variant of the shipped example for every channel, so any
//! change to templates, shaping or counting shows up as a reviewed diff.

use std::path::Path;

use crier::diagnostics::Report;
use crier::workspace::Workspace;

#[test]
fn every_variant_of_the_shipped_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut report = Report::default();
    let ws = Workspace::load(&root.join("channels.toml"), &mut report).expect("example loads");
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root.join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for item in &ws.items {
            let variants = ws.variants(item, &mut report);
            assert_eq!(variants.len(), item.channels.len(), "item {}", item.id);
            insta::assert_yaml_snapshot!(item.id.clone(), variants);
        }
    });
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
}
