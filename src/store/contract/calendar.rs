//! Counting a calendar: spans counted whole by state, the item filter
//! applied in the query, and clashes.

use super::*;
use crate::delivery::HoldReason;
use crate::store::{Clash, Tally};

fn tally(span: usize, state: State, awaiting: bool, count: u64) -> Tally {
    Tally {
        span,
        state,
        hold_reason: None,
        awaiting_approval: awaiting,
        count,
    }
}

pub async fn tally_counts_each_span_by_state(store: &dyn Store) {
    let mut plan = vec![
        planned("a", "news", "at", 0, "t"),
        planned("b", "news", "at", 5, "t"),
        planned("c", "social", "at", 65, "t"),
        planned("d", "social", "at", 70, "t"),
        planned("late", "news", "at", 200, "t"),
    ];
    plan[3].requires_approval = true;
    store.sync_plan(&plan, at(0)).await.unwrap();
    let a = find(store, "a", "news").await.id;
    lease_one(store, a, at(0)).await;
    store
        .record_sent(a, &Default::default(), at(0), "ok")
        .await
        .unwrap();
    // Two spans of an hour; "late" is after both.
    let bounds = [at(0), at(60), at(120)];
    let all = store.tally(&QueueFilter::default(), &bounds).await.unwrap();
    assert_eq!(
        all,
        vec![
            tally(0, State::Planned, false, 1),
            tally(0, State::Sent, false, 1),
            tally(1, State::Planned, false, 1),
            tally(1, State::Planned, true, 1),
        ]
    );
    // The filter's own range, cursor and limit give way to the bounds.
    let narrowed = QueueFilter {
        channel: Some("social".into()),
        due_from: Some(at(300)),
        limit: Some(1),
        ..QueueFilter::default()
    };
    let social = store.tally(&narrowed, &bounds).await.unwrap();
    assert_eq!(social.iter().map(|t| t.count).sum::<u64>(), 2, "{social:?}");
    let only = QueueFilter {
        items: Some(vec!["b".into(), "d".into(), "nowhere".into()]),
        ..QueueFilter::default()
    };
    let spans: Vec<usize> = store
        .tally(&only, &bounds)
        .await
        .unwrap()
        .iter()
        .map(|t| t.span)
        .collect();
    assert_eq!(spans, vec![0, 1]);
    assert!(store.tally(&only, &bounds[..1]).await.unwrap().is_empty());
}

pub async fn the_items_filter_applies_before_the_limit(store: &dyn Store) {
    let plan: Vec<Planned> = (0..20)
        .map(|i| planned(&format!("busy-{i}"), "news", "at", i, "t"))
        .chain([planned("rare", "news", "at", 30, "t")])
        .collect();
    store.sync_plan(&plan, at(0)).await.unwrap();
    let filter = QueueFilter {
        items: Some(vec!["rare".into()]),
        limit: Some(5),
        ..QueueFilter::default()
    };
    let found = store.list_summaries(&filter).await.unwrap();
    assert_eq!(
        found.iter().map(|d| d.item.as_str()).collect::<Vec<_>>(),
        ["rare"]
    );
    let none = QueueFilter {
        items: Some(Vec::new()),
        ..QueueFilter::default()
    };
    assert!(store.list(&none).await.unwrap().is_empty());
}

pub async fn clashes_are_two_items_in_one_minute_on_a_channel(store: &dyn Store) {
    let mut plan = vec![
        planned("a", "news", "at", 10, "t"),
        planned("b", "news", "at", 10, "t"),
        planned("c", "social", "at", 10, "t"),
        planned("a", "news", "reminder", 40, "t"),
        planned("d", "news", "at", 40, "t"),
        planned("e", "news", "at", 90, "t"),
        planned("f", "news", "at", 90, "t"),
    ];
    // The same item twice in one minute (two occasions) is no clash.
    plan.push(planned("c", "social", "later", 10, "t"));
    store.sync_plan(&plan, at(0)).await.unwrap();
    let cancel = change(&[State::Planned], State::Cancelled, Actor::Daemon, "gone");
    let f = find(store, "f", "news").await.id;
    store.change(f, &cancel, at(1)).await.unwrap();
    let range = QueueFilter {
        due_before: Some(at(60)),
        ..QueueFilter::default()
    };
    let clashes = store.clashes(&range, 10).await.unwrap();
    let clash = |m, items: &[&str]| Clash {
        channel: "news".into(),
        at: at(m),
        items: items.iter().map(|s| s.to_string()).collect(),
    };
    assert_eq!(
        clashes,
        vec![clash(10, &["a", "b"]), clash(40, &["a", "d"])]
    );
    assert_eq!(store.clashes(&range, 1).await.unwrap().len(), 1);
    // A cancelled delivery clashes with nothing (e alone at 90).
    assert!(store
        .clashes(
            &QueueFilter {
                due_from: Some(at(60)),
                ..QueueFilter::default()
            },
            10
        )
        .await
        .unwrap()
        .is_empty());
}

pub async fn tally_counts_as_awaiting_approval_only_what_the_filter_does(store: &dyn Store) {
    let mut plan = vec![
        planned("waits", "news", "at", 5, "t"),
        planned("paused", "news", "at", 6, "t"),
    ];
    plan.iter_mut().for_each(|p| p.requires_approval = true);
    store.sync_plan(&plan, at(0)).await.unwrap();
    let paused = find(store, "paused", "news").await.id;
    store
        .hold(paused, HoldReason::Paused, "paused", Actor::Daemon, at(1))
        .await
        .unwrap();
    let tallies = store
        .tally(&QueueFilter::default(), &[at(0), at(60)])
        .await
        .unwrap();
    let awaiting: u64 = tallies
        .iter()
        .filter(|t| t.awaiting_approval)
        .map(|t| t.count)
        .sum();
    let listed = QueueFilter {
        awaiting_approval: true,
        ..QueueFilter::default()
    };
    assert_eq!(awaiting as usize, store.list(&listed).await.unwrap().len());
    assert_eq!(awaiting, 1, "{tallies:?}");
}
