//! A [`ChannelStore`] for tests of code that must not touch the store (a
//! publisher sends; the dispatcher records). Every method panics, so a test
//! fails loudly if that changes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use crier::delivery::{Delivery, Receipt};
use crier::store::lists::Lists;
use crier::store::{ChannelStore, StoreError};

pub struct UnusedStore;

fn unused(method: &str) -> ! {
    panic!("this test expects no store access, but ChannelStore::{method} was called")
}

#[async_trait]
impl ChannelStore for UnusedStore {
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
    async fn sent_latest(&self, _: &str, _: usize) -> Result<Vec<Delivery>, StoreError> {
        unused("sent_latest")
    }
    async fn sent_in_period(
        &self,
        _: &str,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, StoreError> {
        unused("sent_in_period")
    }
    async fn unsettled(
        &self,
        _: &str,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        unused("unsettled")
    }
    fn lists(&self) -> &dyn Lists {
        unused("lists")
    }
}
