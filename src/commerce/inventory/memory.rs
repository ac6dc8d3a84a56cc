use super::{Inventory, InventoryError};
use crate::commerce::holds::{HoldBook, Left, Shortfall, StockKey};
use crate::domain::UnixMs;
use crate::store::StockAdjustment;
use async_trait::async_trait;
use std::sync::Mutex;

/// One node's inventory. A single mutex guards the book: every section is a few map
/// operations with no `.await`, far cheaper than the database write each checkout makes.
#[derive(Default)]
pub struct MemoryInventory {
    book: Mutex<HoldBook>,
}

impl MemoryInventory {
    fn with<T>(&self, f: impl FnOnce(&mut HoldBook) -> T) -> Result<T, InventoryError> {
        // A panic elsewhere cannot leave the book half-changed: every operation checks
        // before it changes anything.
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&mut book))
    }
}

#[async_trait]
impl Inventory for MemoryInventory {
    async fn track(&self, key: StockKey, on_hand: i64, version: u64) -> Result<i64, InventoryError> {
        self.with(|b| b.track(key, on_hand, version))
    }

    async fn set_on_hand(&self, key: StockKey, on_hand: i64, version: u64) -> Result<i64, InventoryError> {
        self.with(|b| b.set_on_hand(key, on_hand, version))
    }

    async fn adjust_on_hand(&self, a: &StockAdjustment) -> Result<Option<i64>, InventoryError> {
        self.with(|b| b.adjust_on_hand(StockKey::Product(a.product), a.id, a.units, a.version))
    }

    async fn available(&self, key: StockKey) -> Result<Option<i64>, InventoryError> {
        self.with(|b| b.available(key))
    }

    async fn hold(
        &self,
        id: &str,
        lines: &[(StockKey, i64)],
        expires_at: UnixMs,
    ) -> Result<Result<Left, Shortfall>, InventoryError> {
        self.with(|b| b.hold(id, lines, expires_at))
    }

    async fn commit(&self, id: &str, now: UnixMs) -> Result<bool, InventoryError> {
        self.with(|b| b.commit(id, now))
    }

    async fn release(&self, id: &str) -> Result<bool, InventoryError> {
        self.with(|b| b.release(id))
    }

    async fn expire(&self, now: UnixMs) -> Result<Vec<String>, InventoryError> {
        self.with(|b| b.expire(now))
    }
}
