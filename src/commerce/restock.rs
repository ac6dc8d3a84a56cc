//! Stock adjustments reaching the inventory: a refund's units back on sale, a brand's
//! restock or recount. The database records each in the transaction that changes the
//! stock; the call that made it makes it in the inventory, and the sweeper makes those
//! that call did not get to (a node stopped, Redis did not answer). The inventory makes
//! each once however often it is asked, so the two may meet.

use super::{Commerce, CommerceError};
use crate::domain::UnixMs;
use crate::store::StockAdjustment;
use crate::telemetry::Causes;

/// How old an adjustment not yet in the inventory is before the sweeper makes it: the
/// call that wrote it has had time to, and a sweep does not race it for nothing.
const SWEEP_AFTER_MS: i64 = 2_000;

/// How many adjustments one sweep makes at most.
const SWEEP_AT_MOST: i64 = 200;

impl Commerce {
    /// Makes each adjustment in the inventory, records that it did, and tells rooms
    /// selling the product its new card. One the inventory cannot take now is left to the
    /// sweeper: the change in the database stands either way.
    pub(super) async fn restock(&self, adjustments: &[StockAdjustment]) {
        for a in adjustments {
            if let Err(e) = self.adjust(a).await {
                tracing::warn!(adjustment = a.id.get(), error = %Causes(&e), "stock adjustment left to the sweeper");
            }
        }
    }

    /// Makes the adjustments whose makers did not get to it.
    pub async fn apply_waiting_adjustments(&self) -> Result<(), CommerceError> {
        let before = UnixMs(self.clock.now().0 - SWEEP_AFTER_MS);
        for a in self.store.waiting_adjustments(before, SWEEP_AT_MOST).await? {
            self.adjust(&a).await?;
        }
        Ok(())
    }

    async fn adjust(&self, a: &StockAdjustment) -> Result<(), CommerceError> {
        self.inventory.adjust_on_hand(a).await?;
        self.store.adjustment_applied(a.id, self.clock.now()).await?;
        if let Some(p) = self.store.product(a.product).await? {
            self.announce_product(&p).await?;
        }
        Ok(())
    }
}
