//! Inventory: the fast gate in front of the database's stock constraint. The memory
//! backend serves one node; the Redis backend (shared by every node) implements the same
//! trait.

mod memory;
mod redis;

pub use memory::MemoryInventory;
pub use redis::RedisInventory;

use super::holds::{Left, Shortfall, StockKey};
use crate::domain::UnixMs;

/// The version a drop's count is read with: no stock adjustment names a drop (its units
/// move only with its sales and cancellations, which holds follow), so none is compared.
pub const UNVERSIONED: u64 = 0;
use crate::redis::RedisError;
use crate::store::{StockAdjustment, StoreError};
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("redis")]
    Redis(#[from] RedisError),
    /// Rebuilding the inventory needs the database's placed orders and stock.
    #[error("database")]
    Store(#[from] StoreError),
    #[error("the inventory rebuild by another node did not finish in time")]
    RebuildTimedOut,
    #[error("stock keys kept disappearing while holding (is Redis being flushed?)")]
    KeysKeepVanishing,
}

#[async_trait]
pub trait Inventory: Send + Sync + 'static {
    /// Starts tracking `key` with `on_hand` units unless tracked. `version` is the
    /// product's `card_version` read with `on_hand` ([`UNVERSIONED`] for a drop): the
    /// stock adjustments of that version and before are in that count, and
    /// [`Inventory::adjust_on_hand`] does not add them again.
    async fn track(&self, key: StockKey, on_hand: i64, version: u64) -> Result<i64, InventoryError>;
    /// Counts `on_hand` units (read from the database with `version`, as for
    /// [`Inventory::track`]) less the units held now.
    async fn set_on_hand(&self, key: StockKey, on_hand: i64, version: u64) -> Result<i64, InventoryError>;
    /// Moves what is on hand of the adjusted product by the adjustment's units, as the
    /// database's count moved, once however often it is asked, and not at all when the
    /// product's count was read with the adjustment's version or a later one; `None` when
    /// the product is not tracked.
    /// See [`HoldBook::adjust_on_hand`](super::holds::HoldBook::adjust_on_hand)
    /// for why a restock goes this way rather than through `set_on_hand`.
    async fn adjust_on_hand(&self, adjustment: &StockAdjustment) -> Result<Option<i64>, InventoryError>;
    async fn available(&self, key: StockKey) -> Result<Option<i64>, InventoryError>;
    /// Takes units for every line or none; returns what each key has left after it.
    async fn hold(
        &self,
        id: &str,
        lines: &[(StockKey, i64)],
        expires_at: UnixMs,
    ) -> Result<Result<Left, Shortfall>, InventoryError>;
    async fn commit(&self, id: &str, now: UnixMs) -> Result<bool, InventoryError>;
    async fn release(&self, id: &str) -> Result<bool, InventoryError>;
    async fn expire(&self, now: UnixMs) -> Result<Vec<String>, InventoryError>;
}
