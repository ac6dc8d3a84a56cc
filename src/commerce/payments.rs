//! Payment providers. Only the built-in test provider ships: real card processing plugs in
//! behind the same trait.

use crate::domain::{CardNumber, Money, OrderId};
use async_trait::async_trait;

pub struct Charge<'a> {
    pub order: OrderId,
    pub amount: Money,
    pub card: &'a CardNumber,
    /// 1 for the first attempt at this order, 2 for its first retry, …
    pub attempt: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Approved {
        reference: String,
    },
    Declined {
        reason: String,
    },
    /// The provider could not be reached or timed out; retrying may succeed.
    Unavailable,
}

#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    async fn charge(&self, charge: Charge<'_>) -> ChargeOutcome;
    /// Returns an approved charge that can no longer be honoured (its hold expired).
    async fn refund(&self, reference: &str);
}

/// Test cards, in the style payment providers publish them.
pub struct TestCards;

impl TestCards {
    pub const SUCCEEDS: &'static str = "4242424242424242";
    pub const DECLINES: &'static str = "4000000000000002";
    /// Unavailable on an order's first attempt, approved on any retry.
    pub const FAILS_ONCE: &'static str = "4000000000000119";
}

#[async_trait]
impl PaymentProvider for TestCards {
    async fn charge(&self, charge: Charge<'_>) -> ChargeOutcome {
        match charge.card.digits() {
            TestCards::SUCCEEDS => ChargeOutcome::Approved { reference: format!("test_{}", charge.order) },
            TestCards::DECLINES => ChargeOutcome::Declined { reason: "insufficient funds".into() },
            TestCards::FAILS_ONCE if charge.attempt == 1 => ChargeOutcome::Unavailable,
            TestCards::FAILS_ONCE => ChargeOutcome::Approved { reference: format!("test_{}_retry", charge.order) },
            _ => ChargeOutcome::Declined { reason: "unknown test card".into() },
        }
    }

    async fn refund(&self, reference: &str) {
        tracing::info!(reference, "test payment refunded");
    }
}
