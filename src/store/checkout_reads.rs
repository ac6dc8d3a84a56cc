//! What a checkout reads before it holds anything, in one round trip where it can.
//!
//! A checkout needs seven answers from the database before it can hold stock: what its
//! key already bought or was refused, the buyer's saved address, and the room, its live
//! drop, the products and the host's agreements that price the cart, the last four as
//! two joins ([`super::columns`]). They go as one list of five reads ([`super::reads`]):
//! one command to SQLite's worker thread, one statement after another on one connection
//! to PostgreSQL. All of them are read, even for a key seen before (whose pricing is
//! then unused): a retry is rare, and one round trip costs less than deciding between
//! two.

use super::catalog::{priced_product, priced_products_read};
use super::orders::{order_by_key_read, records};
use super::refusals::{refusal, refusal_read};
use super::rooms::{room_with_live_drop, room_with_live_drop_read};
use super::wallet::{saved_address, shipping_address_read};
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
        let mut reads = vec![order_by_key_read(ask.buyer, ask.key), refusal_read(ask.buyer, ask.key)];
        if ask.saved_address {
            reads.push(shipping_address_read(ask.buyer));
        }
        let priced = !ask.products.is_empty();
        if priced {
            reads.push(room_with_live_drop_read(ask.room));
            reads.push(priced_products_read(ask.host, ask.products));
        }
        let mut answers = self.read_all(&reads).await?.into_iter();
        let mut next = || answers.next().unwrap_or_default();
        let existing = records(&next())?.pop();
        let refused = next().first().map(refusal).transpose()?;
        let saved_address = match ask.saved_address {
            true => next().first().map(saved_address).transpose()?.map(|(a, _)| a),
            false => None,
        };
        let mut pricing = PricingReads::default();
        if priced {
            if let Some((room, live_drop)) = next().first().map(room_with_live_drop).transpose()? {
                (pricing.room, pricing.live_drop) = (Some(room), live_drop);
            }
            pricing.products = next().iter().map(priced_product).collect::<Result<_, _>>()?;
        }
        Ok(CheckoutReads { existing, refused, saved_address, pricing })
    }
}
