//! One process per SQLite file (the data folder's lock): it is always the
//! leader, its clock is the only one, and a change is seen where it is made.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::SqliteStore;
use crate::store::{Coordination, StoreError};

#[async_trait]
impl Coordination for SqliteStore {
    fn shared(&self) -> bool {
        false
    }

    async fn lead(&self, _owner: &str, _ttl: Duration) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn resign(&self, _owner: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn clock_skew(&self) -> Result<chrono::TimeDelta, StoreError> {
        Ok(chrono::TimeDelta::zero())
    }

    fn watch_changes(&self, _wake: Arc<Notify>) {}
}
