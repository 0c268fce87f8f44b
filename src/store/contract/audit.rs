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
