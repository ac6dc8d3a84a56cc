//! The commerce upkeep, every tick: stock whose checkout never finished goes back on sale,
//! orders a checkout left half-way are reconciled (settled, refunded or cancelled), stock
//! adjustments (refunds, restocks) their makers did not get to reach the inventory, and
//! commission whose return window has passed settles. Expiry is found by sweeping, never
//! by key-expiry notifications, which fire late or not at all.

use super::{Commerce, CommerceError};
use crate::telemetry::Causes;
use std::time::Duration;
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;

impl Commerce {
    /// Sweeps every `period` until `shutdown`.
    pub async fn run_sweeper(self, period: Duration, shutdown: CancellationToken) {
        let mut tick = interval(period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.sweep().await {
                tracing::warn!(error = %Causes(&e), "hold sweep failed");
            }
        }
    }

    /// One sweep.
    pub async fn sweep(&self) -> Result<(), CommerceError> {
        let now = self.clock.now();
        self.inventory.expire(now).await?;
        self.reconcile_all().await?;
        self.retry_waiting_refunds().await?;
        self.apply_waiting_adjustments().await?;
        let settled = self.store.settle_due_commissions(now).await?;
        if settled > 0 {
            tracing::info!(lines = settled, "commission settled");
        }
        Ok(())
    }
}
