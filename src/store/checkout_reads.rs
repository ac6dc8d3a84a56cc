//! What a checkout reads before it holds anything, read on one connection.
//!
//! A checkout needs seven answers from the database before it can hold stock: what its
//! key already bought or was refused, the buyer's saved address, and the room, its live
//! drop, the products and the host's agreements that price the cart. Each pooled read
//! costs more than its statement (sqlx pings a connection when it goes back to the
//! pool, a second round trip, to SQLite's worker thread in the embedded store), so they
//! run one after another on one connection: every statement is a round trip anyway, and
//! the connection is handed back once.

use super::catalog::{active_agreement_on, products_on};
use super::orders::order_by_key_on;
use super::refusals::checkout_refusal_on;
use super::rooms::{live_drop_on, room_on};
use super::wallet::shipping_address_on;
use super::{AgreementRow, DropRow, OrderRecord, ProductRow, RefusalRow, RoomRow, Store};
use crate::domain::{AccountId, ProductId, RoomId, ShippingAddress};

/// What a checkout under one key may ask for.
pub struct CheckoutAsk<'a> {
    pub buyer: AccountId,
    pub key: &'a str,
    /// Read the buyer's saved address (the checkout gave none).
    pub saved_address: bool,
    pub room: RoomId,
    /// Whose agreements price the lines: the room's host.
    pub host: AccountId,
    /// The cart's products; none: nothing to price, so the room's facts are not read.
    pub products: &'a [ProductId],
}

/// The answers, as the database had them.
pub struct CheckoutReads {
    /// The order this key placed, if it did.
    pub existing: Option<OrderRecord>,
    /// The refusal this key got, if its first attempt found too few units.
    pub refused: Option<RefusalRow>,
    pub saved_address: Option<ShippingAddress>,
    pub pricing: PricingReads,
}

/// What prices a cart in a room.
#[derive(Default)]
pub struct PricingReads {
    pub room: Option<RoomRow>,
    pub live_drop: Option<DropRow>,
    /// The cart's products that exist, each with the host's active agreement on it.
    pub products: Vec<(ProductRow, Option<AgreementRow>)>,
}

impl Store {
    pub async fn checkout_reads(&self, ask: &CheckoutAsk<'_>) -> Result<CheckoutReads, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let existing = order_by_key_on(&mut *conn, ask.buyer, ask.key).await?;
        let refused = checkout_refusal_on(&mut *conn, ask.buyer, ask.key).await?;
        let saved_address = match ask.saved_address {
            true => shipping_address_on(&mut *conn, ask.buyer).await?.map(|(a, _)| a),
            false => None,
        };
        let mut pricing = PricingReads::default();
        if existing.is_none() && refused.is_none() && !ask.products.is_empty() {
            pricing.room = room_on(&mut *conn, ask.room).await?;
            pricing.live_drop = live_drop_on(&mut *conn, ask.room).await?;
            for p in products_on(&mut *conn, ask.products).await? {
                let agreement = active_agreement_on(&mut *conn, ask.host, p.id).await?;
                pricing.products.push((p, agreement));
            }
        }
        Ok(CheckoutReads { existing, refused, saved_address, pricing })
    }
}
