//! The built-in test-card provider, the embedded default: card numbers in the style
//! payment providers publish decide what happens, and the provider keeps its own books
//! (in the database, apart from livecart's ledger), so every promise of the port holds
//! across nodes and crashes: a reference is charged at most once, and a lost answer can
//! be looked up.

use super::{Charge, ChargeState, PaymentFailure, PaymentProvider, Refund, WebhookError, WebhookEvent};
use crate::domain::{Clock, UnixMs};
use crate::store::{Store, TestCardCharge};
use async_trait::async_trait;
use std::time::Duration;

pub struct TestCards {
    books: Store,
    clock: Clock,
}

/// How long the slow card takes to answer.
const SLOW: Duration = Duration::from_secs(2);

impl TestCards {
    pub const SUCCEEDS: &'static str = "4242424242424242";
    pub const DECLINES: &'static str = "4000000000000002";
    /// Unanswered on an order's first attempt, approved when the checkout is retried.
    pub const FAILS_ONCE: &'static str = "4000000000000119";
    /// Approved, but the answer never reaches livecart: the buyer sees
    /// `payment_unavailable`, and a retry (or the reconciler) finds the charge.
    pub const ANSWER_LOST: &'static str = "4000000000000077";
    /// Approved after two seconds: room for a crash between charge and settle.
    pub const SLOW: &'static str = "4000000000004954";
    /// Approved; refunds of it are refused.
    pub const REFUND_REFUSED: &'static str = "4000000000005126";

    pub fn new(books: Store, clock: Clock) -> Self {
        TestCards { books, clock }
    }

    /// What the card decides, the first time a reference is confirmed.
    async fn decide(&self, card: &str) -> (TestCardCharge, Result<(), PaymentFailure>) {
        match card {
            TestCards::SUCCEEDS | TestCards::REFUND_REFUSED => (TestCardCharge::Approved, Ok(())),
            TestCards::SLOW => {
                tokio::time::sleep(SLOW).await;
                (TestCardCharge::Approved, Ok(()))
            }
            TestCards::ANSWER_LOST => (TestCardCharge::Approved, Err(PaymentFailure::Unavailable)),
            TestCards::FAILS_ONCE => (TestCardCharge::Unanswered, Err(PaymentFailure::Unavailable)),
            TestCards::DECLINES => declined("insufficient funds"),
            _ => declined("unknown test card"),
        }
    }
}

fn declined(reason: &str) -> (TestCardCharge, Result<(), PaymentFailure>) {
    (TestCardCharge::Declined(reason.into()), Err(PaymentFailure::Declined(reason.into())))
}

/// The books being unreachable is, to the buyer, the provider being unreachable.
fn unavailable(e: crate::store::StoreError) -> PaymentFailure {
    tracing::warn!(error = &e as &dyn std::error::Error, "test-card books unavailable");
    PaymentFailure::Unavailable
}

#[async_trait]
impl PaymentProvider for TestCards {
    fn name(&self) -> &'static str {
        "test_cards"
    }

    async fn prepare(&self, charge: &Charge<'_>) -> Result<String, PaymentFailure> {
        Ok(format!("tc_{}", charge.key))
    }

    async fn confirm(&self, reference: &str, charge: &Charge<'_>) -> Result<(), PaymentFailure> {
        match self.books.test_card_charge(reference).await.map_err(unavailable)? {
            Some(TestCardCharge::Approved) => return Ok(()),
            Some(TestCardCharge::Declined(reason)) => return Err(PaymentFailure::Declined(reason)),
            Some(TestCardCharge::Unanswered) => {
                self.books.approve_test_card_charge(reference).await.map_err(unavailable)?;
                return Ok(());
            }
            None => {}
        }
        let (outcome, answer) = self.decide(charge.card.digits()).await;
        let recorded = self
            .books
            .record_test_card_charge(reference, charge.amount, charge.card.last4(), &outcome, self.clock.now())
            .await
            .map_err(unavailable)?;
        // Two confirmations raced: the one recorded first decided.
        if recorded != outcome {
            return match recorded {
                TestCardCharge::Approved => Ok(()),
                TestCardCharge::Declined(reason) => Err(PaymentFailure::Declined(reason)),
                TestCardCharge::Unanswered => Err(PaymentFailure::Unavailable),
            };
        }
        answer
    }

    async fn lookup(&self, reference: &str) -> Result<ChargeState, PaymentFailure> {
        Ok(match self.books.test_card_charge(reference).await.map_err(unavailable)? {
            Some(TestCardCharge::Approved) => ChargeState::Charged,
            Some(TestCardCharge::Declined(reason)) => ChargeState::Declined(reason),
            Some(TestCardCharge::Unanswered) | None => ChargeState::NotCharged,
        })
    }

    async fn refund(&self, refund: &Refund<'_>) -> Result<String, PaymentFailure> {
        let refused = self.books.test_card_last4(refund.charge).await.map_err(unavailable)?.as_deref()
            == Some(&TestCards::REFUND_REFUSED[12..]);
        if refused {
            return Err(PaymentFailure::Declined("this test card refuses refunds".into()));
        }
        let done = self
            .books
            .refund_test_card(refund.charge, refund.key, refund.amount.amount, self.clock.now())
            .await
            .map_err(unavailable)?;
        if done {
            Ok(format!("tcr_{}", refund.key))
        } else {
            Err(PaymentFailure::Declined("the refund exceeds what the charge took".into()))
        }
    }

    /// The test cards answer every call themselves; nothing arrives on its own.
    fn read_webhook(&self, _: Option<&str>, _: &[u8], _: UnixMs) -> Result<WebhookEvent, WebhookError> {
        Err(WebhookError::NotAccepted)
    }
}
