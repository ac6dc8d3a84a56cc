//! The built-in test-card provider, the embedded default: card numbers in the style
//! payment providers publish decide what happens, and the provider keeps its own books
//! (in the database, apart from livecart's ledger), so every promise of the port holds
//! across nodes and crashes: a reference is charged at most once, and a lost answer can
//! be looked up. A saved card is kept in the same books under a random token (the
//! processor's vault); livecart's wallet holds only the token and the last four digits.

use super::{
    Charge, ChargeState, Instrument, PaymentFailure, PaymentProvider, Refund, SavedMethod, WebhookError, WebhookEvent,
};
use crate::domain::{AccountId, CardNumber, Clock, UnixMs};
use crate::store::{Store, TestCardCharge};
use crate::telemetry::Causes;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
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
    /// Saved without complaint, declined whenever it is charged (as Stripe's card of
    /// the same number): a saved card that stopped working.
    pub const SAVED_THEN_DECLINES: &'static str = "4000000000000341";

    /// Every published test number: the only cards a rehearsal takes.
    pub const ALL: [&'static str; 7] = [
        TestCards::SUCCEEDS,
        TestCards::DECLINES,
        TestCards::FAILS_ONCE,
        TestCards::ANSWER_LOST,
        TestCards::SLOW,
        TestCards::REFUND_REFUSED,
        TestCards::SAVED_THEN_DECLINES,
    ];

    pub fn new(books: Store, clock: Clock) -> Self {
        TestCards { books, clock }
    }

    /// Whether `digits` is one of the published test numbers (any other number is a
    /// card that could be real).
    pub fn is_test_card(digits: &str) -> bool {
        TestCards::ALL.contains(&digits)
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
            TestCards::SAVED_THEN_DECLINES => declined("your card was declined"),
            _ => declined("unknown test card"),
        }
    }
}

/// The network a card number belongs to, from its first digits, as a buyer is shown it.
pub fn card_brand(digits: &str) -> &'static str {
    match digits.as_bytes() {
        [b'4', ..] => "visa",
        [b'5', b'1'..=b'5', ..] | [b'2', ..] => "mastercard",
        [b'3', b'4' | b'7', ..] => "amex",
        [b'6', ..] => "discover",
        _ => "card",
    }
}

fn declined(reason: &str) -> (TestCardCharge, Result<(), PaymentFailure>) {
    (TestCardCharge::Declined(reason.into()), Err(PaymentFailure::Declined(reason.into())))
}

/// The test cards name a charge after its key: nothing to ask, nothing to wait for.
fn reference(key: &str) -> String {
    format!("tc_{key}")
}

/// The books being unreachable is, to the buyer, the provider being unreachable.
fn unavailable(e: crate::store::StoreError) -> PaymentFailure {
    tracing::warn!(error = %Causes(&e), "test-card books unavailable");
    PaymentFailure::Unavailable
}

#[async_trait]
impl PaymentProvider for TestCards {
    fn name(&self) -> &'static str {
        "test_cards"
    }

    async fn prepare(&self, charge: &Charge<'_>) -> Result<String, PaymentFailure> {
        Ok(reference(charge.key))
    }

    fn reference_for(&self, key: &str) -> Option<String> {
        Some(reference(key))
    }

    async fn confirm(&self, reference: &str, charge: &Charge<'_>) -> Result<(), PaymentFailure> {
        // A first attempt has nothing on the books yet (a racing one would be recorded
        // first, and the insert below reads what it recorded), so only a retry looks.
        let earlier = match charge.first_attempt {
            true => None,
            false => self.books.test_card_charge(reference).await.map_err(unavailable)?,
        };
        match earlier {
            Some(TestCardCharge::Approved) => return Ok(()),
            Some(TestCardCharge::Declined(reason)) => return Err(PaymentFailure::Declined(reason)),
            Some(TestCardCharge::Unanswered) => {
                self.books.approve_test_card_charge(reference).await.map_err(unavailable)?;
                return Ok(());
            }
            None => {}
        }
        let number = match charge.instrument {
            Instrument::Card(card) => card.digits().to_owned(),
            Instrument::Saved(method) => {
                match self.books.test_card_method(&method.method_ref).await.map_err(unavailable)? {
                    Some(number) => number,
                    None => return Err(PaymentFailure::Declined("the saved card was removed".into())),
                }
            }
        };
        let (outcome, answer) = self.decide(&number).await;
        let last4 = &number[number.len().saturating_sub(4)..];
        let recorded = self
            .books
            .record_test_card_charge(reference, charge.amount, last4, &outcome, self.clock.now())
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

    /// Keeps any test card that can be charged (and the one that is declined only when
    /// charged), as Stripe attaches them; refuses the declined card and unknown numbers.
    async fn save_card(
        &self,
        account: AccountId,
        _customer: Option<&str>,
        card: &CardNumber,
    ) -> Result<SavedMethod, PaymentFailure> {
        match card.digits() {
            TestCards::DECLINES => return Err(PaymentFailure::Declined("your card was declined".into())),
            TestCards::SUCCEEDS
            | TestCards::FAILS_ONCE
            | TestCards::ANSWER_LOST
            | TestCards::SLOW
            | TestCards::REFUND_REFUSED
            | TestCards::SAVED_THEN_DECLINES => {}
            _ => return Err(PaymentFailure::Declined("unknown test card".into())),
        }
        let mut raw = [0u8; 18];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = format!("tcpm_{}", URL_SAFE_NO_PAD.encode(raw));
        self.books.save_test_card(&token, account, card.digits(), self.clock.now()).await.map_err(unavailable)?;
        Ok(SavedMethod {
            method_ref: token,
            customer_ref: None,
            brand: card_brand(card.digits()).to_owned(),
            last4: card.last4().to_owned(),
        })
    }

    async fn forget(&self, method: &SavedMethod) -> Result<(), PaymentFailure> {
        self.books.forget_test_card(&method.method_ref).await.map_err(unavailable)
    }

    /// The test cards answer every call themselves; nothing arrives on its own.
    fn read_webhook(&self, _: Option<&str>, _: &[u8], _: UnixMs) -> Result<WebhookEvent, WebhookError> {
        Err(WebhookError::NotAccepted)
    }
}
