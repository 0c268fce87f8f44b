//! The audit log: who did what, to which item, newest first.

use super::{at, change, find, planned};
use crate::delivery::{Actor, State};
use crate::store::{AuditFilter, ContentChange, Store};

pub async fn audit_log_names_people_and_filters(store: &dyn Store) {
    let ann = Actor::Person("ann@example.org".into());
    store
        .record_content_change(&ContentChange {
            at: at(0),
            actor: ann.clone(),
            item: "a".into(),
            action: "created".into(),
            version: "v1".into(),
            ..content_change("a")
        })
        .await
        .unwrap();
    let plan = [
        planned("a", "news", "at", 60, "t"),
        planned("b", "news", "at", 60, "t"),
    ];
    store.sync_plan(&plan, at(1)).await.unwrap();
    let id = find(store, "a", "news").await.id;
    let cancel = change(
        &[State::Planned],
        State::Cancelled,
        Actor::Token("site".into()),
        "not needed",
    );
    store.change(id, &cancel, at(2)).await.unwrap();

    let all = |f: AuditFilter| async move {
        store.audit(&AuditFilter { limit: 100, ..f }).await.unwrap()
    };
    let log = all(AuditFilter {
        item: Some("a".into()),
        ..AuditFilter::default()
    })
    .await;
    let lines: Vec<(String, Option<State>, String)> = log
        .iter()
        .map(|e| (e.actor.to_stored(), e.to, e.what.clone()))
        .collect();
    assert_eq!(
        lines[0],
        (
            "token:site".into(),
            Some(State::Cancelled),
            "not needed".into()
        )
    );
    assert_eq!(
        lines.last().unwrap(),
        &(
            "person:ann@example.org".into(),
            None,
            "created to version v1".into()
        )
    );
    assert!(log.iter().all(|e| e.item == "a"), "{log:?}");

    let by_ann = all(AuditFilter {
        actor: Some("person:ann@example.org".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(by_ann.len(), 1);
    let on_news = all(AuditFilter {
        channel: Some("news".into()),
        ..AuditFilter::default()
    })
    .await;
    assert!(on_news.iter().all(|e| e.channel.as_deref() == Some("news")) && on_news.len() >= 3);
    let content = all(AuditFilter {
        content_only: true,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(content.len(), 1);
    assert_eq!(content[0].delivery, None);
    let recent = all(AuditFilter {
        since: Some(at(2)),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(recent.len(), 1);
    let page = store
        .audit(&AuditFilter {
            offset: 1,
            limit: 1,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let whole = all(AuditFilter::default()).await;
    assert_eq!(page, whole[1..2]);
}

/// A content change with nothing but its item; tests fill in the rest.
fn content_change(item: &str) -> ContentChange {
    ContentChange {
        at: at(0),
        actor: Actor::Daemon,
        item: item.into(),
        action: "updated".into(),
        version: String::new(),
        file: String::new(),
        before: None,
        after: None,
        reason: None,
        not_in_git: None,
    }
}

/// An item's content changes read back whole, oldest first, with the
/// entry's text either side; one git did not record says why, in the
/// audit log too.
pub async fn content_changes_keep_the_entry_text(store: &dyn Store) {
    let ann = Actor::Person("ann@example.org".into());
    let created = ContentChange {
        actor: ann.clone(),
        action: "created".into(),
        version: "v1".into(),
        file: "courses.toml".into(),
        after: Some("[[item]]\nid = \"a\"\ntitle = \"A\"".into()),
        ..content_change("a")
    };
    let updated = ContentChange {
        at: at(1),
        actor: Actor::Token("site".into()),
        version: "v2".into(),
        file: "courses.toml".into(),
        before: created.after.clone(),
        after: Some("[[item]]\nid = \"a\"\ntitle = \"B\"".into()),
        reason: Some("typo".into()),
        not_in_git: Some("pre-commit hook said no".into()),
        ..content_change("a")
    };
    store.record_content_change(&updated).await.unwrap();
    store.record_content_change(&created).await.unwrap();
    store
        .record_content_change(&content_change("b"))
        .await
        .unwrap();
    let read = store.content_changes("a").await.unwrap();
    assert_eq!(read, [created, updated]);
    assert!(store.content_changes("none").await.unwrap().is_empty());
    let log = store
        .audit(&AuditFilter {
            item: Some("a".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        log[0].what,
        "updated to version v2 (not recorded in git: pre-commit hook said no)"
    );
    assert_eq!(
        log[0].not_in_git.as_deref(),
        Some("pre-commit hook said no")
    );
    assert_eq!(
        (log[1].what.as_str(), log[1].not_in_git.as_deref()),
        ("created to version v1", None)
    );
}

pub async fn channel_activity_shows_the_latest_send_and_failure(store: &dyn Store) {
    assert!(store.channel_activity().await.unwrap().is_empty());
    let plan = [
        planned("a", "news", "at", 0, "t"),
        planned("b", "news", "at", 0, "t"),
        planned("c", "social", "at", 0, "t"),
    ];
    store.sync_plan(&plan, at(0)).await.unwrap();
    let leased = store.lease_due(at(1), 3, super::LEASE).await.unwrap();
    let id = |item: &str| leased.iter().find(|d| d.item == item).unwrap().id;
    let receipt = crate::delivery::Receipt::default();
    store
        .record_sent(id("a"), &receipt, at(2), "posted")
        .await
        .unwrap();
    store
        .record_failed(id("b"), "401 unauthorised", at(3))
        .await
        .unwrap();
    store
        .record_retry(id("c"), at(9), "503 busy", at(4))
        .await
        .unwrap();
    let activity = store.channel_activity().await.unwrap();
    let news = &activity[0];
    assert_eq!(
        (
            news.channel.as_str(),
            news.last_sent,
            news.last_failed,
            news.last_error.as_deref()
        ),
        ("news", Some(at(2)), Some(at(3)), Some("401 unauthorised"))
    );
    let social = &activity[1];
    assert_eq!(
        (
            social.last_sent,
            social.last_failed,
            social.last_error.as_deref()
        ),
        (None, Some(at(4)), Some("503 busy"))
    );
}
