//! Payment providers: the port every provider implements, the built-in test cards (the
//! embedded default) and Stripe.
//!
//! A charge happens in two steps so that the ledger can record the provider's name for
//! it before any money moves: [`PaymentProvider::prepare`] (nothing is charged; the
//! reference is written to the ledger), then [`PaymentProvider::confirm`] (the money
//! moves, at most once per reference however often it is asked). When an answer is lost,
//! [`PaymentProvider::lookup`] says what became of the charge without moving money.
//! A provider that reports outcomes on its own (webhooks) has them read, verified, by
//! [`PaymentProvider::read_webhook`].
//!
//! One-tap buy: [`PaymentProvider::save_card`] has the provider keep a card for an account
//! and returns the provider's reference to it ([`SavedMethod`]; never the number), which a
//! later charge names instead of a card ([`Instrument::Saved`]);
//! [`PaymentProvider::forget`] lets it go.

mod stripe;
mod test_cards;

pub use stripe::StripeProvider;
pub use test_cards::{TestCards, card_brand};

use crate::domain::{AccountId, CardNumber, Money, OrderId, UnixMs};
use async_trait::async_trait;

/// One charge, as every step of it describes it to the provider.
pub struct Charge<'a> {
    pub order: OrderId,
    /// The provider idempotency key: derived from the order, so every attempt of one
    /// order (a retry, a resume after a crash) is one charge to the provider.
    pub key: &'a str,
    pub amount: Money,
    pub instrument: Instrument<'a>,
    /// No attempt at this charge came before this one (the ledger counts them), so the
    /// provider has no earlier answer to look up first.
    pub first_attempt: bool,
}

/// What a charge is paid with.
#[derive(Debug, Clone, Copy)]
pub enum Instrument<'a> {
    /// A card number the checkout carries.
    Card(&'a CardNumber),
    /// The account's saved payment method.
    Saved(&'a SavedMethod),
}

/// A payment method the provider keeps for an account: its reference to it, and what a
/// buyer is shown of it. Never the card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMethod {
    /// Stripe: the PaymentMethod (`pm_…`); the test cards: a token of their own books.
    pub method_ref: String,
    /// Stripe: the Customer (`cus_…`) the method is attached to.
    pub customer_ref: Option<String>,
    /// `visa`, `mastercard`, … as the provider says.
    pub brand: String,
    pub last4: String,
}

/// Why a step did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentFailure {
    /// The provider refused: no money moved. The reason is for the buyer.
    Declined(String),
    /// No answer (unreachable, timed out, lost): the money may or may not have moved.
    /// Ask again with the same reference, or look it up.
    Unavailable,
}

/// What became of a prepared charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeState {
    Charged,
    /// Prepared, never confirmed: no money moved, and none will unless it is confirmed.
    NotCharged,
    Declined(String),
}

/// A provider's notification (a webhook delivery), verified and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The provider's id for the event: a delivery seen before is a replay.
    pub id: String,
    /// The provider's name for what happened (e.g. `payment_intent.succeeded`).
    pub kind: String,
    /// What the event says became of a charge, when it says so.
    pub charge: Option<ReportedCharge>,
}

/// A charge's outcome, as a webhook reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedCharge {
    /// The charge's reference (what [`PaymentProvider::prepare`] returned).
    pub reference: String,
    pub state: ChargeState,
}

/// Why a webhook delivery was not believed. Nothing it says is acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("this payment provider takes no webhooks")]
    NotAccepted,
    #[error("the webhook carries no signature")]
    Unsigned,
    #[error("the webhook's signature header is malformed")]
    MalformedSignature,
    #[error("the webhook's signature does not match")]
    BadSignature,
    /// Signed too long ago (or ahead of our clock): possibly a replay.
    #[error("the webhook's timestamp is {age_secs} s from now, beyond the tolerance")]
    Stale { age_secs: i64 },
    #[error("the webhook's event cannot be read: {0}")]
    MalformedEvent(String),
}

/// A refund of part or all of a charge.
pub struct Refund<'a> {
    /// The charge's reference.
    pub charge: &'a str,
    /// The provider idempotency key: one per refund in the ledger.
    pub key: &'a str,
    pub amount: Money,
}

#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// The provider's name in the ledger (`payments.provider`).
    fn name(&self) -> &'static str;
    /// Prepares the charge without moving money; returns the provider's reference for it.
    async fn prepare(&self, charge: &Charge<'_>) -> Result<String, PaymentFailure>;
    /// The reference `prepare` would return for the charge of provider key `key`, when
    /// the provider derives it from the key alone: the ledger then records it with the
    /// charge's first row and `prepare` is not called, one write fewer per checkout.
    /// `None` (a provider that must be asked): `prepare` it is.
    fn reference_for(&self, _key: &str) -> Option<String> {
        None
    }
    /// Moves the money of a prepared charge. A reference is charged at most once: asking
    /// again reports what became of it.
    async fn confirm(&self, reference: &str, charge: &Charge<'_>) -> Result<(), PaymentFailure>;
    /// What became of a prepared charge, without moving money.
    async fn lookup(&self, reference: &str) -> Result<ChargeState, PaymentFailure>;
    /// Returns money to the buyer; returns the provider's reference for the refund. The
    /// same key refunds once.
    async fn refund(&self, refund: &Refund<'_>) -> Result<String, PaymentFailure>;
    /// Verifies a webhook delivery (its signature header, if any, and raw body, as
    /// received at `now`) and reads the event. Nothing of an unverified body is trusted.
    fn read_webhook(&self, signature: Option<&str>, body: &[u8], now: UnixMs) -> Result<WebhookEvent, WebhookError>;
    /// Keeps `card` for `account`, to be charged later without its number, under the
    /// account's customer at the provider (`customer`, when it has one already; else the
    /// provider makes one and names it in the answer). Nothing is charged. A card the
    /// provider will not keep is `Declined`.
    async fn save_card(
        &self,
        account: AccountId,
        customer: Option<&str>,
        card: &CardNumber,
    ) -> Result<SavedMethod, PaymentFailure>;
    /// Lets a saved method go: it can no longer be charged.
    async fn forget(&self, method: &SavedMethod) -> Result<(), PaymentFailure>;
}
