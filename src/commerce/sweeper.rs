//! Gives back stock whose checkout never finished. Expiry is found by sweeping, never by
//! key-expiry notifications, which fire late or not at all.

use super::{Commerce, CommerceError};
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
                tracing::warn!(error = &e as &dyn std::error::Error, "hold sweep failed");
            }
        }
    }

    /// One sweep: expired holds go back on sale, and their placed orders are cancelled.
    pub async fn sweep(&self) -> Result<(), CommerceError> {
        let now = self.clock.now();
        self.inventory.expire(now).await?;
        for (order, hold_id) in self.store.expired_orders(now).await? {
            if let Some(record) = self.store.order_record(order).await? {
                self.expire_order(&record.view, &hold_id).await?;
            }
        }
        Ok(())
    }
}
