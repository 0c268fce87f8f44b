//! The behaviour every [`Store`] backend must show, as plain async functions
//! over `&dyn Store`. A backend runs them with [`contract_tests!`], giving it
//! a function that makes a fresh, empty store (plus anything to keep alive).
//!
//! Times are fixed minutes after [`BASE`]; nothing sleeps. One file per
//! behaviour; the helpers they share live here, and the macro names them all.

mod audit;
mod bounces;
mod bursts;
mod calendar;
mod digests;
mod feeds;
mod fencing;
mod human_changes;
mod leasing;
mod mailing_lists;
mod outcomes;
mod people;
mod plan_sync;
mod reading;
mod reviews;
mod thread_parts;
mod time_guard;
mod upkeep;

pub use audit::*;
pub use bounces::*;
pub use bursts::*;
pub use calendar::*;
pub use digests::*;
pub use feeds::*;
pub use fencing::*;
pub use human_changes::*;
pub use leasing::*;
pub use mailing_lists::*;
pub use outcomes::*;
pub use people::*;
pub use plan_sync::*;
pub use reading::*;
pub use reviews::*;
pub use thread_parts::*;
pub use time_guard::*;
pub use upkeep::*;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::{Change, QueueFilter, Store, StoreError, SyncSummary};
use crate::delivery::{Actor, Delivery, Planned, State};
use crate::variant::Variant;

/// Generates one `#[tokio::test]` per contract behaviour. `$make` is an
/// async fn returning `(store, guard)`; the guard lives as long as the test.
macro_rules! contract_tests {
    (optional $make:path) => {
        $crate::store::contract::contract_tests!(@names optional $make);
    };
    ($make:path) => {
        $crate::store::contract::contract_tests!(@names required $make);
    };
    (@names $mode:ident $make:path) => {
        $crate::store::contract::contract_tests!(@each $mode $make;
            sync_adds_updates_cancels,
            sync_never_touches_settled,
            sync_updates_retrying_and_held,
            sync_rejects_duplicate_keys,
            sync_of_unchanged_content_touches_nothing,
            render_records_read_back_through_their_delivery,
            sync_reports_entries_it_cannot_write_without_their_variant,
            sync_items_touches_only_those_items,
            sync_leaves_a_delivery_that_may_have_gone_out,
            next_wakeup_is_earliest,
            lease_earliest_first_with_limit,
            lease_retry_due_by_next_attempt_at,
            expired_leases_lists_lapsed,
            mark_request_started_needs_live_lease,
            renew_extends_only_a_live_lease,
            lease_due_by_takes_what_falls_due_soon,
            mark_requests_started_marks_the_live_leases_at_once,
            record_sent_keeps_receipt,
            record_sent_after_uncertain_hold,
            record_retry_and_failed,
            record_stopped_resumes_now_without_counting,
            hold_and_release,
            change_checks_state,
            pauses,
            counts_by_channel_and_state,
            history_in_order_with_actors,
            list_filters,
            summaries_are_the_listed_deliveries,
            channel_statuses,
            posted_parts_are_the_resume_point,
            record_sent_clears_last_error,
            sync_moves_overdue_held_into_the_future_back_to_planned,
            times_that_cannot_be_clock_readings_are_refused,
            confirmation_resends_are_limited,
            accounts_are_unique_by_folded_email,
            sessions_expire_idle_and_absolute,
            tokens_by_hash_until_revoked_or_expired,
            links_are_single_use_and_expire,
            signin_attempts_count_within_a_window,
            audit_log_names_people_and_filters,
            content_changes_keep_the_entry_text,
            channel_activity_shows_the_latest_send_and_failure,
            bounces_apply_once_and_suppress_by_kind,
            digest_choices_split_the_audience_by_cadence,
            unsettled_counts_items_of_the_period_still_to_send,
            sent_latest_is_the_channels_newest_sends,
            sent_in_period_is_the_periods_item_sends,
            subscriber_counts_follow_the_consent_history,
            review_links_open_while_live_and_count_views,
            review_links_are_revoked_once,
            tally_counts_each_span_by_state,
            tally_counts_as_awaiting_approval_only_what_the_filter_does,
            the_items_filter_applies_before_the_limit,
            clashes_are_two_items_in_one_minute_on_a_channel,
            forgetting_history_keeps_deliveries_and_what_may_still_be_sent,
        );
    };
    (@each required $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, _guard) = $make().await;
                $crate::store::contract::$name(&store).await;
            }
        )*
    };
    // `$make` returns an `Option`: `None` when the backend's server is not
    // there (the make function says the test is skipped).
    (@each optional $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some((store, _guard)) = $make().await else { return };
                $crate::store::contract::$name(&store).await;
            }
        )*
    };
}
pub(crate) use contract_tests;

/// 2026-12-07 10:00 UTC, a Monday.
pub const BASE: i64 = 1_796_637_600;
pub const LEASE: Duration = Duration::from_secs(300);

/// `BASE` plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(BASE + minutes * 60, 0).unwrap()
}

/// A planned delivery whose fingerprint follows its text and due time.
pub fn planned(item: &str, channel: &str, occasion: &str, due: i64, text: &str) -> Planned {
    Planned {
        item: item.into(),
        channel: channel.into(),
        occasion: occasion.into(),
        due_at: at(due),
        variant: Some(Variant::document(item, channel, "test", text.into()).into()),
        fingerprint: format!("{text}@{due}"),
        requires_approval: false,
    }
}

fn summary(added: usize, updated: usize, cancelled: usize, unchanged: usize) -> SyncSummary {
    SyncSummary {
        added,
        updated,
        cancelled,
        unchanged,
        unrendered: Vec::new(),
    }
}

async fn find(store: &dyn Store, item: &str, channel: &str) -> Delivery {
    let filter = QueueFilter {
        item: Some(item.into()),
        channel: Some(channel.into()),
        ..QueueFilter::default()
    };
    let mut found = store.list(&filter).await.unwrap();
    assert_eq!(found.len(), 1, "{item}/{channel}: {found:?}");
    found.remove(0)
}

async fn state_of(store: &dyn Store, id: i64) -> State {
    store.get(id).await.unwrap().unwrap().state
}

fn ids(ds: &[Delivery]) -> Vec<i64> {
    ds.iter().map(|d| d.id).collect()
}

fn is_wrong_state(r: Result<impl std::fmt::Debug, StoreError>) -> bool {
    matches!(r, Err(StoreError::WrongState { .. }))
}

/// Leases exactly the delivery with id `id` (it must be the only one due at `now`).
async fn lease_one(store: &dyn Store, id: i64, now: DateTime<Utc>) -> Delivery {
    let leased = store.lease_due(now, 1, LEASE).await.unwrap();
    assert_eq!(ids(&leased), vec![id]);
    leased.into_iter().next().unwrap()
}

fn change(from: &[State], to: State, actor: Actor, reason: &str) -> Change {
    Change {
        from: from.to_vec(),
        to,
        hold_reason: None,
        due_at: None,
        approve: false,
        actor,
        reason: reason.into(),
    }
}
