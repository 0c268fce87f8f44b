//! Planning from content: one delivery per (item, channel, occasion), with
//! event reminders and posting slots resolved in the organisation's time.

use std::path::Path;

use crier::diagnostics::Report;
use crier::workspace::Workspace;

#[test]
fn event_reminders_become_deliveries_at_local_times() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut report = Report::default();
    let ws = Workspace::load(&root.join("channels.toml"), &mut report).unwrap();
    let plan = crier::plan::plan(&ws, &mut report);
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
    let mut course: Vec<_> = plan
        .iter()
        .filter(|p| p.item == "course-trauma-2027-01" && p.channel == "mastodon")
        .map(|p| (p.occasion.as_str(), p.due_at.to_rfc3339()))
        .collect();
    course.sort();
    assert_eq!(
        course,
        [
            // 10:00 in London in January is 10:00 UTC
            (
                "7 days before booking_deadline at 10:00",
                "2027-01-06T10:00:00+00:00".to_string()
            ),
            ("at", "2026-12-08T09:30:00+00:00".to_string()),
            (
                "at booking_deadline",
                "2027-01-13T17:00:00+00:00".to_string()
            ),
        ]
    );
    // Identity is unique: the store's key never collides.
    let mut keys: Vec<_> = plan
        .iter()
        .map(|p| (&p.item, &p.channel, &p.occasion))
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n);
}

#[test]
fn items_asking_for_a_slot_fill_the_next_free_ones_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("campaigns")).unwrap();
    std::fs::create_dir_all(d.join("templates/document")).unwrap();
    std::fs::write(
        d.join("templates/document/default.txt.hbs"),
        "{{item.title}}",
    )
    .unwrap();
    std::fs::write(
        d.join("channels.toml"),
        "[organisation]\nname = \"T\"\nwebsite = \"https://example.org\"\n[daemon]\npublic_url = \"https://example.org\"\n\
         [channels.out]\nkind = \"discard\"\nslots = [\"Mon-Fri 09:30\", \"Mon-Fri 14:00\"]\n",
    )
    .unwrap();
    // Friday 2026-10-23 afternoon: slots run into the next week, across
    // the clock change on Sunday 25 October.
    let mut items = String::new();
    for (i, at) in [
        "2026-10-23 13:00",
        "2026-10-23 13:00",
        "2026-10-23 13:00",
        "2026-10-23 08:00",
    ]
    .iter()
    .enumerate()
    {
        items += &format!(
            "[[item]]\nid = \"i{i}\"\nkind = \"post\"\ntitle = \"t\"\nbody = \"b\"\nat = \"{at}\"\nslot = true\nchannels = [\"out\"]\n\n"
        );
    }
    std::fs::write(d.join("campaigns/a.toml"), items).unwrap();
    let mut report = Report::default();
    let ws = Workspace::load(&d.join("channels.toml"), &mut report).unwrap();
    let plan = crier::plan::plan(&ws, &mut report);
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
    let mut due: Vec<_> = plan
        .iter()
        .map(|p| (p.item.as_str(), p.due_at.to_rfc3339()))
        .collect();
    due.sort();
    assert_eq!(
        due,
        [
            ("i0", "2026-10-23T13:00:00+00:00".to_string()), // Fri 14:00 BST
            ("i1", "2026-10-26T09:30:00+00:00".to_string()), // Mon 09:30 GMT
            ("i2", "2026-10-26T14:00:00+00:00".to_string()), // Mon 14:00 GMT
            ("i3", "2026-10-23T08:30:00+00:00".to_string()), // Fri 09:30 BST, earliest item first
        ]
    );
}
