//! Checkout inside the stream: hold → place → pay → settle, attributed to the host.
//!
//! 1. The cart is priced (drop price while the room's drop runs) and every line is
//!    attributed to the creator hosting the room, with the commission of their agreement.
//! 2. Stock is held atomically in the inventory (all lines or none), with an expiry.
//! 3. The order, its lines and commission are written in one transaction as `placed`;
//!    the unique (buyer, idempotency key) makes a duplicate lose here.
//! 4. The card is charged. Approved: the hold is committed and, in one transaction, the
//!    order becomes `paid` and its units leave the database's stock, each decrement
//!    conditional (the last guard against oversell). Declined: the hold is released and
//!    the order cancelled. Unavailable: the order stays `placed` with its hold, so a retry
//!    with the same key pays for the same order; if none comes, the sweeper cancels it
//!    when the hold expires and the units go back on sale.
//!
//! Only then does the buyer get `order_confirmed`, the room a `sale` and the brand its
//! feed entry: an acknowledged order is always a committed one.

use super::cart::Cart;
use super::commission::commission;
use super::payments::{Charge, ChargeOutcome};
use super::pricing::unit_price;
use super::{Commerce, CommerceError, StockKey, Storefront};
use crate::domain::{CardNumber, Currency, IdempotencyKey, Money, Price, Refusal, UnixMs};
use crate::store::{AccountRow, NewOrder, NewOrderLine, OrderRecord, PlaceOutcome, SettleOutcome};
use crate::telemetry::timed;
use crate::wire::ws::{BrandSale, OrderStatus, OrderView, RoomEvent, SaleView};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tracing::Instrument;

pub struct CheckoutRequest {
    pub key: IdempotencyKey,
    pub card: CardNumber,
}

type Result<T> = std::result::Result<T, CommerceError>;

/// Identifies what was bought, so reusing a key for a different purchase is caught.
fn request_hash(shop: &Storefront<'_>, cart: &Cart) -> String {
    let mut h = Sha256::new();
    h.update(shop.room.get().to_be_bytes());
    for (product, q) in &cart.lines {
        h.update(product.get().to_be_bytes());
        h.update(i64::from(*q).to_be_bytes());
    }
    URL_SAFE_NO_PAD.encode(h.finalize())
}

fn cancelled_error(code: Option<&str>) -> CommerceError {
    match code {
        Some("payment_declined") => CommerceError::PaymentDeclined("this checkout was declined".into()),
        Some("sold_out") => CommerceError::SoldOut { title: "this checkout".into(), available: 0 },
        _ => CommerceError::HoldExpired,
    }
}

fn new_hold_id() -> String {
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

impl Commerce {
    /// Runs one checkout while holding the buyer's claim on its idempotency key, so a
    /// second request with the same key, on any node, gets `checkout_in_progress`
    /// meanwhile. Every log line inside names the key and, once placed, the order.
    pub async fn checkout(&self, shop: &Storefront<'_>, buyer: &AccountRow, req: CheckoutRequest) -> Result<OrderView> {
        let span = tracing::info_span!("checkout", room = %shop.room, buyer = %buyer.id, key = req.key.as_str(), order = tracing::field::Empty);
        async {
            if !self.claims.claim(buyer.id, req.key.as_str()).await? {
                return Err(CommerceError::CheckoutInProgress);
            }
            let outcome = self.claimed_checkout(shop, buyer, &req).await;
            if let Err(e) = self.claims.release(buyer.id, req.key.as_str()).await {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "checkout claim not released; it lapses on its own"
                );
            }
            outcome
        }
        .instrument(span)
        .await
    }

    async fn claimed_checkout(
        &self,
        shop: &Storefront<'_>,
        buyer: &AccountRow,
        req: &CheckoutRequest,
    ) -> Result<OrderView> {
        let cart = self.carts.get(shop.room, buyer.id).await?;
        if let Some(existing) = self.store.order_by_key(buyer.id, req.key.as_str()).await? {
            tracing::Span::current().record("order", existing.view.id.get());
            if existing.view.room_id != shop.room
                || (!cart.lines.is_empty() && existing.request_hash != request_hash(shop, &cart))
            {
                return Err(CommerceError::IdempotencyMismatch);
            }
            return self.resume(shop, buyer, existing, &req.card).await;
        }
        if cart.lines.is_empty() {
            return Err(CommerceError::CartEmpty);
        }
        if !shop.live {
            return Err(CommerceError::RoomNotLive);
        }

        let now = self.clock.now();
        let (lines, currency) = self.price_lines(shop, &cart, now).await?;
        let mut hold_lines = Vec::with_capacity(lines.len() * 2);
        for l in &lines {
            hold_lines.push((StockKey::Product(l.product_id), l.quantity));
            if let Some(drop) = l.drop_id {
                hold_lines.push((StockKey::Drop(drop), l.quantity));
            }
        }
        let hold_id = new_hold_id();
        let hold_expires_at = now.plus(self.hold_ttl);
        let held = self.inventory.hold(&hold_id, &hold_lines, hold_expires_at).await?;
        metrics::counter!("livecart_holds_total", "result" => if held.is_ok() { "held" } else { "refused" })
            .increment(1);
        if let Err(short) = held {
            let title = lines
                .iter()
                .find(|l| {
                    StockKey::Product(l.product_id) == short.key || l.drop_id.map(StockKey::Drop) == Some(short.key)
                })
                .map_or_else(String::new, |l| l.title.clone());
            return Err(CommerceError::SoldOut { title, available: short.available });
        }

        let order = NewOrder {
            buyer: buyer.id,
            room: shop.room,
            creator: shop.host,
            currency,
            subtotal: lines.iter().map(|l| l.line_total).sum(),
            commission_total: lines.iter().map(|l| l.commission_amount).sum(),
            idempotency_key: req.key.as_str().to_owned(),
            request_hash: request_hash(shop, &cart),
            hold_id: hold_id.clone(),
            hold_expires_at,
            lines,
        };
        match timed("livecart_db_seconds", "place_order", self.store.place_order(&order, now)).await {
            Ok(PlaceOutcome::Placed(view)) => {
                tracing::Span::current().record("order", view.id.get());
                self.pay(shop, buyer, view, &hold_id, &req.card).await
            }
            Ok(PlaceOutcome::KeyTaken) => {
                self.inventory.release(&hold_id).await?;
                match self.store.order_by_key(buyer.id, req.key.as_str()).await? {
                    Some(r) if r.view.status == OrderStatus::Paid => Ok(r.view),
                    _ => Err(CommerceError::CheckoutInProgress),
                }
            }
            Err(e) => {
                self.inventory.release(&hold_id).await?;
                Err(e.into())
            }
        }
    }

    /// A checkout seen before under the same key: replay its outcome, or retry its
    /// payment if it is still waiting for one.
    async fn resume(
        &self,
        shop: &Storefront<'_>,
        buyer: &AccountRow,
        existing: OrderRecord,
        card: &CardNumber,
    ) -> Result<OrderView> {
        match existing.view.status {
            OrderStatus::Paid | OrderStatus::Refunded => Ok(existing.view),
            OrderStatus::Cancelled => Err(cancelled_error(existing.view.failure_code.as_deref())),
            OrderStatus::Placed if existing.hold_expires_at <= self.clock.now() => {
                self.expire_order(&existing.view, &existing.hold_id).await?;
                Err(CommerceError::HoldExpired)
            }
            OrderStatus::Placed => self.pay(shop, buyer, existing.view, &existing.hold_id, card).await,
        }
    }

    /// Prices every cart line now and attributes it to the host, with the commission of
    /// their agreement; all lines must share one currency.
    async fn price_lines(
        &self,
        shop: &Storefront<'_>,
        cart: &Cart,
        now: UnixMs,
    ) -> Result<(Vec<NewOrderLine>, Currency)> {
        let mut lines = Vec::with_capacity(cart.lines.len());
        let mut currencies = Vec::with_capacity(cart.lines.len());
        for (product, q) in &cart.lines {
            let p = shop.product(*product).ok_or(CommerceError::NotInLineup)?;
            let (price, drop_id) = unit_price(shop, *product, now).ok_or(CommerceError::NotInLineup)?;
            let agreement = self.store.active_agreement(shop.host, p.id).await?.ok_or(CommerceError::NotInLineup)?;
            let quantity = i64::from(*q);
            // Both factors are bounded (Price::MAX × Quantity::MAX), so this cannot overflow.
            let line_total = Price::try_from(price.amount)?.get() * quantity;
            lines.push(NewOrderLine {
                product_id: p.id,
                brand_id: p.brand_id,
                drop_id,
                title: p.title.clone(),
                quantity,
                unit_price: price.amount,
                line_total,
                commission_bps: agreement.commission_bps,
                commission_flat: agreement.commission_flat,
                commission_amount: commission(
                    line_total,
                    quantity,
                    agreement.commission_bps,
                    agreement.commission_flat,
                ),
            });
            currencies.push(price.currency);
        }
        match currencies.first() {
            Some(first) if currencies.iter().all(|c| c == first) => Ok((lines, *first)),
            Some(_) => Err(CommerceError::MixedCurrency),
            None => Err(CommerceError::CartEmpty),
        }
    }

    async fn pay(
        &self,
        shop: &Storefront<'_>,
        buyer: &AccountRow,
        mut order: OrderView,
        hold_id: &str,
        card: &CardNumber,
    ) -> Result<OrderView> {
        let Some(attempt) = self.store.begin_payment_attempt(order.id, self.clock.now()).await? else {
            // Settled or cancelled while we looked: report what it became.
            let record = self.store.order_record(order.id).await?.ok_or(Refusal::NotFound("order"))?;
            return match record.view.status {
                OrderStatus::Paid | OrderStatus::Refunded => Ok(record.view),
                _ => Err(cancelled_error(record.view.failure_code.as_deref())),
            };
        };
        let charge = Charge { order: order.id, amount: order.subtotal, card, attempt };
        let reference = match self.payments.charge(charge).await {
            ChargeOutcome::Approved { reference } => reference,
            ChargeOutcome::Declined { reason } => {
                self.inventory.release(hold_id).await?;
                self.store.cancel_order(order.id, "payment_declined", self.clock.now()).await?;
                return Err(CommerceError::PaymentDeclined(reason));
            }
            ChargeOutcome::Unavailable => return Err(CommerceError::PaymentUnavailable),
        };
        let now = self.clock.now();
        if !self.inventory.commit(hold_id, now).await? {
            self.payments.refund(&reference).await;
            self.expire_order(&order, hold_id).await?;
            return Err(CommerceError::HoldExpired);
        }
        match timed("livecart_db_seconds", "settle_paid", self.store.settle_paid(&order, now)).await? {
            SettleOutcome::Paid => {}
            SettleOutcome::NotPlaced => {
                self.payments.refund(&reference).await;
                self.resync_stock(&order).await?;
                return Err(CommerceError::HoldExpired);
            }
            SettleOutcome::OutOfStock => {
                self.payments.refund(&reference).await;
                self.store.cancel_order(order.id, "sold_out", now).await?;
                self.resync_stock(&order).await?;
                return Err(CommerceError::SoldOut { title: order.lines[0].title.clone(), available: 0 });
            }
        }
        order.status = OrderStatus::Paid;
        self.carts.clear(shop.room, buyer.id).await?;
        if let Err(e) = self.announce_sale(shop, buyer, &order).await {
            // The order is paid and committed; a missed ticker entry must not fail it.
            tracing::warn!(error = &e as &dyn std::error::Error, "sale announcement failed");
        }
        Ok(order)
    }

    /// Cancels a placed order whose hold ran out and gives its units back.
    pub(super) async fn expire_order(&self, order: &OrderView, hold_id: &str) -> Result<()> {
        self.inventory.release(hold_id).await?;
        self.store.cancel_order(order.id, "hold_expired", self.clock.now()).await?;
        Ok(())
    }

    /// Re-reads stock from the database after the inventory and the database disagreed.
    async fn resync_stock(&self, order: &OrderView) -> Result<()> {
        for l in &order.lines {
            if let Some(p) = self.store.product(l.product_id).await? {
                self.inventory.set_on_hand(StockKey::Product(p.id), p.stock).await?;
            }
            if let Some(d) = l.drop_id {
                if let Some(remaining) = self.store.drop_remaining(d).await? {
                    self.inventory.set_on_hand(StockKey::Drop(d), remaining).await?;
                }
            }
        }
        Ok(())
    }

    async fn announce_sale(&self, shop: &Storefront<'_>, buyer: &AccountRow, order: &OrderView) -> Result<()> {
        for l in &order.lines {
            let stock_left = self.inventory.available(StockKey::Product(l.product_id)).await?.unwrap_or(0);
            let drop_left = match l.drop_id {
                Some(d) => self.inventory.available(StockKey::Drop(d)).await?,
                None => None,
            };
            let sale = SaleView {
                buyer: buyer.display_name.clone(),
                product_id: l.product_id,
                title: l.title.clone(),
                quantity: l.quantity,
                stock_left,
                drop_left,
            };
            self.events.publish(shop.room, &RoomEvent::Sale(sale)).await?;
            let brand_sale = BrandSale {
                order_id: order.id,
                room_id: shop.room,
                creator_id: shop.host,
                creator_name: shop.host_name.to_owned(),
                product_id: l.product_id,
                title: l.title.clone(),
                quantity: l.quantity,
                amount: Money::new(l.line_total, order.subtotal.currency),
                commission: Money::new(l.commission, order.subtotal.currency),
                at: order.created_at,
            };
            self.sales.publish(l.brand_id, &brand_sale).await?;
        }
        Ok(())
    }
}
