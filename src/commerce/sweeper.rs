//! Gives back stock whose checkout never finished. Expiry is found by sweeping, never by
//! key-expiry notifications, which fire late or not at all.

use super::checkout::expire_order;
use crate::app::AppState;
use tokio::time::{MissedTickBehavior, interval};

pub async fn run(state: AppState) {
    let mut tick = interval(state.config.tick);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = sweep(&state).await {
            tracing::warn!(error = %e, "hold sweep failed");
        }
    }
}

/// One sweep: expired holds go back on sale, and their placed orders are cancelled.
pub async fn sweep(state: &AppState) -> crate::error::AppResult<()> {
    let now = state.clock.now();
    state.inventory.expire(now).await?;
    for (order, hold_id) in state.store.expired_orders(now).await? {
        if let Some(record) = state.store.order_record(order).await? {
            expire_order(state, &record.view, &hold_id).await?;
        }
    }
    Ok(())
}
