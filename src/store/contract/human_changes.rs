//! What people do to the queue: approve, cancel, retry, send now, pause.

use super::{at, change, find, ids, lease_one, planned, state_of, LEASE};
use crate::delivery::{Actor, HoldReason, State};
use crate::store::{Paused, Store, StoreError};

pub async fn change_checks_state(store: &dyn Store) {
    store
        .sync_plan(&[planned("d", "news", "at", 60, "t")], at(0))
        .await
        .unwrap();
    let id = find(store, "d", "news").await.id;
    store
        .hold(
            id,
            HoldReason::Approval,
            "needs sign-off",
            Actor::Daemon,
            at(0),
        )
        .await
        .unwrap();

    let mut approve = change(
        &[State::Held],
        State::Planned,
        Actor::Person("ann@example.org".into()),
        "approved by comms lead",
    );
    approve.approve = true;
    let d = store.change(id, &approve, at(1)).await.unwrap();
    assert_eq!(
        (d.state, d.hold_reason, d.approved),
        (State::Planned, None, true)
    );
    assert_eq!(store.get(id).await.unwrap().unwrap(), d);

    match store.change(id, &approve, at(2)).await {
        Err(StoreError::WrongState {
            id: got,
            actual,
            expected,
        }) => {
            assert_eq!(
                (got, actual.as_str(), expected.as_str()),
                (id, "planned", "held")
            );
        }
        other => panic!("expected WrongState, got {other:?}"),
    }
    assert!(matches!(
        store.change(9999, &approve, at(2)).await,
        Err(StoreError::NotFound(9999))
    ));

    let mut send_now = change(&[State::Planned], State::Planned, Actor::cli(), "send now");
    send_now.due_at = Some(at(2));
    assert_eq!(
        store.change(id, &send_now, at(2)).await.unwrap().due_at,
        at(2)
    );

    let to_flight = change(&[State::Planned], State::InFlight, Actor::cli(), "force");
    assert!(store.change(id, &to_flight, at(2)).await.is_err());
    assert_eq!(state_of(store, id).await, State::Planned);

    lease_one(store, id, at(3)).await;
    store.record_failed(id, "503", at(3)).await.unwrap();
    let mut retry = change(&[State::Failed], State::Retrying, Actor::cli(), "try again");
    retry.due_at = Some(at(10));
    let d = store.change(id, &retry, at(4)).await.unwrap();
    assert_eq!(
        (d.state, d.next_attempt_at),
        (State::Retrying, Some(at(10)))
    );
    assert_eq!(
        ids(&store.lease_due(at(10), 1, LEASE).await.unwrap()),
        vec![id]
    );
}

pub async fn pauses(store: &dyn Store) {
    assert_eq!(store.paused().await.unwrap(), Paused::default());
    store
        .set_paused(None, true, Actor::cli(), at(0))
        .await
        .unwrap();
    store
        .set_paused(
            Some("news"),
            true,
            Actor::Person("ann@example.org".into()),
            at(0),
        )
        .await
        .unwrap();
    store
        .set_paused(
            Some("social"),
            true,
            Actor::Person("ann@example.org".into()),
            at(0),
        )
        .await
        .unwrap();
    store
        .set_paused(
            Some("social"),
            true,
            Actor::Person("ann@example.org".into()),
            at(1),
        )
        .await
        .unwrap();
    let p = store.paused().await.unwrap();
    assert!(p.all && p.covers("anything"));
    // The banner says since when and by whom everything was paused.
    assert_eq!(p.since, Some(at(0)));
    assert_eq!(p.by, Some(Actor::cli().to_stored()));
    assert_eq!(p.channels, vec!["news".to_string(), "social".to_string()]);
    store
        .set_paused(None, false, Actor::cli(), at(2))
        .await
        .unwrap();
    store
        .set_paused(Some("news"), false, Actor::cli(), at(2))
        .await
        .unwrap();
    store
        .set_paused(Some("never-paused"), false, Actor::cli(), at(2))
        .await
        .unwrap();
    let p = store.paused().await.unwrap();
    assert_eq!(
        p,
        Paused {
            all: false,
            channels: vec!["social".into()],
            since: None,
            by: None,
        }
    );
    assert!(p.covers("social") && !p.covers("news"));
}
