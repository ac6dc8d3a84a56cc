//! Buying inside the stream: the catalogue, carts, stock holds, checkout and payment,
//! attribution and commission, and reading orders back.
//!
//! [`Commerce`] is the service: it holds the store, the inventory, the carts, the payment
//! provider and the bus ports it announces sales on. It knows rooms only as a
//! [`Storefront`]: the facts of a room that a purchase depends on.

pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod commission;
pub mod disclosure;
pub mod holds;
pub mod inventory;
pub mod offers;
pub mod orders;
pub mod payments;
pub mod pricing;
pub mod promo;
pub mod refunds;
mod restock;
mod settlement;
pub mod sweeper;
mod wallet;
mod webhooks;

pub use cart::{CartChange, CartError, Carts};
pub use checkout::{CheckoutRequest, Payment};
pub use holds::StockKey;
pub use inventory::{Inventory, InventoryError};
pub use payments::PaymentProvider;

use crate::analytics::Recorder;
use crate::bus::{Bus, BusError, CheckoutClaims, RoomEvents, SalesFeed, claims};
use crate::domain::{AccountId, Clock, Invalid, ProductId, Refusal, RoomId};
use crate::store::{ProductRow, Store, StoreError};
use crate::telemetry::Causes;
use crate::wire::ws::DropCard;
use std::sync::Arc;
use std::time::Duration;

/// Why a purchase (or a catalogue change) did not happen. The domain's words only; the
/// edge decides what each means on the wire.
#[derive(Debug, thiserror::Error)]
pub enum CommerceError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("the room is not live")]
    RoomNotLive,
    #[error("that product is not in this room's lineup")]
    NotInLineup,
    #[error("sold out: {title} has {available} left")]
    SoldOut { title: String, available: i64 },
    #[error("the cart is empty")]
    CartEmpty,
    /// The checkout would take the buyer past the drop's per-buyer limit.
    #[error("this drop allows {per_buyer} per buyer, and you have {held} in orders already")]
    DropLimit { per_buyer: i64, held: i64 },
    #[error("the cart mixes currencies; check out one currency at a time")]
    MixedCurrency,
    #[error(transparent)]
    Cart(#[from] CartError),
    #[error("the card was declined: {0}")]
    PaymentDeclined(String),
    #[error("the payment provider is unavailable; retry with the same idempotency key")]
    PaymentUnavailable,
    #[error("the stock hold for this checkout expired; start a new checkout")]
    HoldExpired,
    /// The offer was paid, or its time ran out (the unit went to the next in line).
    #[error("this offer is closed: it was paid, or its time ran out")]
    OfferClosed,
    #[error("this idempotency key was already used for a different checkout")]
    IdempotencyMismatch,
    #[error("a checkout with this idempotency key is still in progress")]
    CheckoutInProgress,
    /// `"payment":"saved"`, but the account has no saved payment method (never saved,
    /// removed, or saved with another payment provider).
    #[error("no saved payment method: check out with a card (and \"save\": true to keep it)")]
    NoSavedPaymentMethod,
    /// A rehearsal's checkout named a card that is not a published test card, or the
    /// saved method: nothing real is charged in a rehearsal.
    #[error("this is a rehearsal: pay with a test card (4242 4242 4242 4242 is approved)")]
    TestCardRequired,
    /// The promo code was not accepted; nothing was held or written.
    #[error(transparent)]
    Promo(#[from] promo::PromoRefusal),
    /// A payment webhook that could not be verified or read: nothing it says was done.
    #[error("webhook refused: {0}")]
    WebhookRefused(payments::WebhookError),
    #[error("database")]
    Store(#[from] StoreError),
    #[error("inventory")]
    Inventory(#[from] InventoryError),
    #[error("bus")]
    Bus(#[from] BusError),
}

impl From<Invalid> for CommerceError {
    fn from(e: Invalid) -> Self {
        CommerceError::Refused(e.into())
    }
}

/// The room a purchase happens in, as this node knows it: who hosts it (every sale is
/// attributed to them), what it lines up, and the drop running. Carts are priced from it;
/// checkout takes its decisions (is the room live, what does a unit cost now) from the
/// database instead, so every node charges the same.
pub struct Storefront<'a> {
    pub room: RoomId,
    pub host: AccountId,
    pub host_name: &'a str,
    pub lineup: Arc<Vec<ProductRow>>,
    pub drop: Option<DropCard>,
    /// A private rehearsal (docs/protocol.md, 9.10): only test cards pay, and what it
    /// sells takes no real stock and counts in no report, payout or sales feed.
    pub rehearsal: bool,
}

impl Storefront<'_> {
    pub fn product(&self, id: ProductId) -> Option<&ProductRow> {
        self.lineup.iter().find(|p| p.id == id)
    }
}

/// The commerce service; cheap to clone.
#[derive(Clone)]
pub struct Commerce {
    /// The durable record of the catalogue and of every order: the source of truth.
    store: Store,
    /// The fast stock gate in front of the database's constraint.
    inventory: Arc<dyn Inventory>,
    carts: Arc<dyn Carts>,
    payments: Arc<dyn PaymentProvider>,
    /// The test cards, which charge every rehearsal's order whatever `payments` is.
    rehearsal_payments: Arc<dyn PaymentProvider>,
    /// Which idempotency keys have a checkout running, on any node.
    claims: Arc<dyn CheckoutClaims>,
    /// Where sales are announced: the room's ticker and the brands' feeds.
    events: Arc<dyn RoomEvents>,
    sales: Arc<dyn SalesFeed>,
    /// What shoppers do, for the reports (never waited on).
    analytics: Recorder,
    clock: Clock,
    /// How long a checkout may hold stock before the units go back on sale.
    hold_ttl: Duration,
    /// How long after payment a sale can still be returned; its commission settles then.
    return_window: Duration,
}

/// Where commerce keeps its fast state (memory or Redis) and who moves the money.
pub struct CommerceBackends {
    pub inventory: Arc<dyn Inventory>,
    pub carts: Arc<dyn Carts>,
    pub payments: Arc<dyn PaymentProvider>,
    /// What charges rehearsals' orders: the test cards.
    pub rehearsal_payments: Arc<dyn PaymentProvider>,
}

/// How commerce behaves on this deployment.
#[derive(Debug, Clone, Copy)]
pub struct CommerceSettings {
    pub hold_ttl: Duration,
    pub return_window: Duration,
}

impl Commerce {
    /// Runs `work` while holding the buyer's checkout claim on `key`, renewing its lease
    /// until the work ends; `None` when a checkout with that key runs (on any node).
    async fn claimed<T>(
        &self,
        buyer: AccountId,
        key: &str,
        work: impl std::future::Future<Output = T>,
    ) -> Result<Option<T>, CommerceError> {
        let Some(claim) = self.claims.claim(buyer, key).await? else { return Ok(None) };
        let renew = async {
            let mut every = tokio::time::interval(claims::LEASE / 3);
            every.tick().await;
            loop {
                every.tick().await;
                match self.claims.renew(buyer, key, &claim).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!("checkout claim lapsed while its work ran"),
                    Err(e) => tracing::warn!(error = %Causes(&e), "checkout claim not renewed"),
                }
            }
        };
        let out = tokio::select! {
            out = work => out,
            never = renew => never,
        };
        if let Err(e) = self.claims.release(buyer, key, &claim).await {
            tracing::warn!(error = %Causes(&e), "checkout claim not released; its lease lapses");
        }
        Ok(Some(out))
    }

    pub fn new(
        store: Store,
        bus: &Bus,
        backends: CommerceBackends,
        analytics: Recorder,
        clock: Clock,
        settings: CommerceSettings,
    ) -> Self {
        let CommerceBackends { inventory, carts, payments, rehearsal_payments } = backends;
        Commerce {
            store,
            inventory,
            carts,
            payments,
            rehearsal_payments,
            claims: Arc::clone(&bus.claims),
            events: Arc::clone(&bus.events),
            sales: Arc::clone(&bus.sales),
            analytics,
            clock,
            hold_ttl: settings.hold_ttl,
            return_window: settings.return_window,
        }
    }
}
