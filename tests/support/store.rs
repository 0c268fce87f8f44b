//! A [`Store`] for tests of code that must not touch the store (a
//! publisher sends; the dispatcher records). Every method panics, so a test
//! fails loudly if that changes.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use crier::delivery::{Actor, Delivery, HoldReason, Planned, Receipt, State, Transition};
use crier::store::{Change, Paused, QueueFilter, Store, StoreError, SyncSummary};

pub struct UnusedStore;

fn unused(method: &str) -> ! {
    panic!("this test expects no store access, but Store::{method} was called")
}

#[async_trait]
impl Store for UnusedStore {
    async fn sync_plan(&self, _: &[Planned], _: DateTime<Utc>) -> Result<SyncSummary, StoreError> {
        unused("sync_plan")
    }
    async fn next_wakeup(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        unused("next_wakeup")
    }
    async fn lease_due(
        &self,
        _: DateTime<Utc>,
        _: usize,
        _: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        unused("lease_due")
    }
    async fn mark_request_started(&self, _: i64, _: DateTime<Utc>) -> Result<(), StoreError> {
        unused("mark_request_started")
    }
    async fn record_sent(
        &self,
        _: i64,
        _: &Receipt,
        _: DateTime<Utc>,
        _: &str,
    ) -> Result<(), StoreError> {
        unused("record_sent")
    }
    async fn record_retry(
        &self,
        _: i64,
        _: DateTime<Utc>,
        _: &str,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        unused("record_retry")
    }
    async fn record_failed(&self, _: i64, _: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
        unused("record_failed")
    }
    async fn hold(
        &self,
        _: i64,
        _: HoldReason,
        _: &str,
        _: Actor,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        unused("hold")
    }
    async fn release(&self, _: i64, _: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
        unused("release")
    }
    async fn expired_leases(&self, _: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        unused("expired_leases")
    }
    async fn get(&self, _: i64) -> Result<Option<Delivery>, StoreError> {
        unused("get")
    }
    async fn list(&self, _: &QueueFilter) -> Result<Vec<Delivery>, StoreError> {
        unused("list")
    }
    async fn history(&self, _: i64) -> Result<Vec<Transition>, StoreError> {
        unused("history")
    }
    async fn change(&self, _: i64, _: &Change, _: DateTime<Utc>) -> Result<Delivery, StoreError> {
        unused("change")
    }
    async fn set_paused(
        &self,
        _: Option<&str>,
        _: bool,
        _: Actor,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        unused("set_paused")
    }
    async fn paused(&self) -> Result<Paused, StoreError> {
        unused("paused")
    }
    async fn counts(&self) -> Result<Vec<(String, State, u64)>, StoreError> {
        unused("counts")
    }
    async fn set_channel_status(
        &self,
        _: &str,
        _: Option<&str>,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        unused("set_channel_status")
    }
    async fn channel_statuses(&self) -> Result<Vec<(String, String)>, StoreError> {
        unused("channel_statuses")
    }
    async fn record_part(
        &self,
        _: i64,
        _: usize,
        _: &Receipt,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        unused("record_part")
    }
    async fn posted_parts(&self, _: i64) -> Result<Vec<Receipt>, StoreError> {
        unused("posted_parts")
    }
    async fn renew_lease(
        &self,
        _: i64,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        unused("renew_lease")
    }
    async fn release_reconciled(
        &self,
        _: i64,
        _: &str,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        unused("release_reconciled")
    }
    async fn record_stopped(&self, _: i64, _: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
        unused("record_stopped")
    }
    fn lists(&self) -> &dyn crier::store::lists::Lists {
        unused("lists")
    }
}
