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

use super::StockKey;
use super::cart::Cart;
use super::commission::commission;
use super::payments::{Charge, ChargeOutcome};
use super::pricing::unit_price;
use crate::app::AppState;
use crate::domain::{CardNumber, IdempotencyKey, Money, Price, UnixMs};
use crate::error::{AppError, AppResult};
use crate::room::LiveRoom;
use crate::store::{AccountRow, NewOrder, NewOrderLine, OrderRecord, PlaceOutcome, SettleOutcome};
use crate::telemetry::timed;
use crate::wire::ws::{BrandSale, OrderStatus, OrderView, RoomEvent, RoomStatus, SaleView};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub struct CheckoutRequest {
    pub key: IdempotencyKey,
    pub card: CardNumber,
}

/// Identifies what was bought, so reusing a key for a different purchase is caught.
fn request_hash(room: &LiveRoom, cart: &Cart) -> String {
    let mut h = Sha256::new();
    h.update(room.id.get().to_be_bytes());
    for (product, q) in &cart.lines {
        h.update(product.get().to_be_bytes());
        h.update(i64::from(*q).to_be_bytes());
    }
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Runs one checkout while holding the buyer's claim on its idempotency key, so a second
/// request with the same key, on any node, gets `checkout_in_progress` meanwhile.
pub async fn checkout(
    state: &AppState,
    room: &LiveRoom,
    buyer: &AccountRow,
    req: CheckoutRequest,
) -> AppResult<OrderView> {
    if !state.bus.claim_checkout(buyer.id, req.key.as_str()).await? {
        return Err(AppError::CheckoutInProgress);
    }
    let outcome = claimed_checkout(state, room, buyer, &req).await;
    let label = match &outcome {
        Ok(_) => "paid",
        Err(e) => e.code(),
    };
    metrics::counter!("livecart_checkouts_total", "outcome" => label).increment(1);
    if let Err(e) = state.bus.release_checkout(buyer.id, req.key.as_str()).await {
        tracing::warn!(error = %e, "checkout claim not released; it lapses on its own");
    }
    outcome
}

async fn claimed_checkout(
    state: &AppState,
    room: &LiveRoom,
    buyer: &AccountRow,
    req: &CheckoutRequest,
) -> AppResult<OrderView> {
    let cart = state.carts.get(room.id, buyer.id).await?;
    if let Some(existing) = state.store.order_by_key(buyer.id, req.key.as_str()).await? {
        if existing.view.room_id != room.id
            || (!cart.lines.is_empty() && existing.request_hash != request_hash(room, &cart))
        {
            return Err(AppError::IdempotencyMismatch);
        }
        return resume(state, room, buyer, existing, &req.card).await;
    }
    if cart.lines.is_empty() {
        return Err(AppError::CartEmpty);
    }
    if room.read(|s| s.status) != RoomStatus::Live {
        return Err(AppError::RoomNotLive);
    }

    let now = state.clock.now();
    let lines = price_lines(state, room, &cart, now).await?;
    let currency = lines[0].1;
    let lines: Vec<NewOrderLine> = lines.into_iter().map(|(line, _)| line).collect();
    let mut hold_lines = Vec::with_capacity(lines.len() * 2);
    for l in &lines {
        hold_lines.push((StockKey::Product(l.product_id), l.quantity));
        if let Some(drop) = l.drop_id {
            hold_lines.push((StockKey::Drop(drop), l.quantity));
        }
    }
    let hold_id = new_hold_id();
    let hold_expires_at = now.plus(state.config.hold_ttl);
    let held = state.inventory.hold(&hold_id, &hold_lines, hold_expires_at).await?;
    metrics::counter!("livecart_holds_total", "result" => if held.is_ok() { "held" } else { "refused" }).increment(1);
    if let Err(short) = held {
        let title = lines
            .iter()
            .find(|l| StockKey::Product(l.product_id) == short.key || l.drop_id.map(StockKey::Drop) == Some(short.key))
            .map_or_else(String::new, |l| l.title.clone());
        return Err(AppError::SoldOut { title, available: short.available });
    }

    let order = NewOrder {
        buyer: buyer.id,
        room: room.id,
        creator: room.host,
        currency,
        subtotal: lines.iter().map(|l| l.line_total).sum(),
        commission_total: lines.iter().map(|l| l.commission_amount).sum(),
        idempotency_key: req.key.as_str().to_owned(),
        request_hash: request_hash(room, &cart),
        hold_id: hold_id.clone(),
        hold_expires_at,
        lines,
    };
    match timed("livecart_db_seconds", "place_order", state.store.place_order(&order, now)).await {
        Ok(PlaceOutcome::Placed(view)) => pay(state, room, buyer, view, &hold_id, &req.card).await,
        Ok(PlaceOutcome::KeyTaken) => {
            state.inventory.release(&hold_id).await?;
            match state.store.order_by_key(buyer.id, req.key.as_str()).await? {
                Some(r) if r.view.status == OrderStatus::Paid => Ok(r.view),
                _ => Err(AppError::CheckoutInProgress),
            }
        }
        Err(e) => {
            state.inventory.release(&hold_id).await?;
            Err(e.into())
        }
    }
}

/// A checkout seen before under the same key: replay its outcome, or retry its payment
/// if it is still waiting for one.
async fn resume(
    state: &AppState,
    room: &LiveRoom,
    buyer: &AccountRow,
    existing: OrderRecord,
    card: &CardNumber,
) -> AppResult<OrderView> {
    match existing.view.status {
        OrderStatus::Paid | OrderStatus::Refunded => Ok(existing.view),
        OrderStatus::Cancelled => Err(cancelled_error(existing.view.failure_code.as_deref())),
        OrderStatus::Placed if existing.hold_expires_at <= state.clock.now() => {
            expire_order(state, &existing.view, &existing.hold_id).await?;
            Err(AppError::HoldExpired)
        }
        OrderStatus::Placed => pay(state, room, buyer, existing.view, &existing.hold_id, card).await,
    }
}

fn cancelled_error(code: Option<&str>) -> AppError {
    match code {
        Some("payment_declined") => AppError::PaymentDeclined("this checkout was declined".into()),
        Some("sold_out") => AppError::SoldOut { title: "this checkout".into(), available: 0 },
        _ => AppError::HoldExpired,
    }
}

async fn price_lines(
    state: &AppState,
    room: &LiveRoom,
    cart: &Cart,
    now: UnixMs,
) -> AppResult<Vec<(NewOrderLine, crate::domain::Currency)>> {
    let mut lines = Vec::with_capacity(cart.lines.len());
    for (product, q) in &cart.lines {
        let p = room.product(*product).ok_or(AppError::NotInLineup)?;
        let (price, drop_id) = unit_price(room, *product, now).ok_or(AppError::NotInLineup)?;
        let agreement = state.store.active_agreement(room.host, p.id).await?.ok_or(AppError::NotInLineup)?;
        let quantity = i64::from(*q);
        // Both factors are bounded (Price::MAX × Quantity::MAX), so this cannot overflow.
        let line_total = Price::try_from(price.amount)?.get() * quantity;
        lines.push((
            NewOrderLine {
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
            },
            price.currency,
        ));
    }
    if lines.iter().any(|(_, c)| *c != lines[0].1) {
        return Err(AppError::MixedCurrency);
    }
    Ok(lines)
}

fn new_hold_id() -> String {
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

async fn pay(
    state: &AppState,
    room: &LiveRoom,
    buyer: &AccountRow,
    mut order: OrderView,
    hold_id: &str,
    card: &CardNumber,
) -> AppResult<OrderView> {
    let Some(attempt) = state.store.begin_payment_attempt(order.id, state.clock.now()).await? else {
        // Settled or cancelled while we looked: report what it became.
        let record = state.store.order_record(order.id).await?.ok_or(AppError::NotFound("order"))?;
        return match record.view.status {
            OrderStatus::Paid | OrderStatus::Refunded => Ok(record.view),
            _ => Err(cancelled_error(record.view.failure_code.as_deref())),
        };
    };
    let charge = Charge { order: order.id, amount: order.subtotal, card, attempt };
    let reference = match state.payments.charge(charge).await {
        ChargeOutcome::Approved { reference } => reference,
        ChargeOutcome::Declined { reason } => {
            state.inventory.release(hold_id).await?;
            state.store.cancel_order(order.id, "payment_declined", state.clock.now()).await?;
            return Err(AppError::PaymentDeclined(reason));
        }
        ChargeOutcome::Unavailable => return Err(AppError::PaymentUnavailable),
    };
    let now = state.clock.now();
    if !state.inventory.commit(hold_id, now).await? {
        state.payments.refund(&reference).await;
        expire_order(state, &order, hold_id).await?;
        return Err(AppError::HoldExpired);
    }
    match timed("livecart_db_seconds", "settle_paid", state.store.settle_paid(&order, now)).await? {
        SettleOutcome::Paid => {}
        SettleOutcome::NotPlaced => {
            state.payments.refund(&reference).await;
            resync_stock(state, &order).await?;
            return Err(AppError::HoldExpired);
        }
        SettleOutcome::OutOfStock => {
            state.payments.refund(&reference).await;
            state.store.cancel_order(order.id, "sold_out", now).await?;
            resync_stock(state, &order).await?;
            return Err(AppError::SoldOut { title: order.lines[0].title.clone(), available: 0 });
        }
    }
    order.status = OrderStatus::Paid;
    state.carts.clear(room.id, buyer.id).await?;
    if let Err(e) = announce_sale(state, room, buyer, &order).await {
        // The order is paid and committed; a missed ticker entry must not fail it.
        tracing::warn!(order = %order.id, error = %e, "sale announcement failed");
    }
    Ok(order)
}

/// Cancels a placed order whose hold ran out and gives its units back.
pub async fn expire_order(state: &AppState, order: &OrderView, hold_id: &str) -> AppResult<()> {
    state.inventory.release(hold_id).await?;
    state.store.cancel_order(order.id, "hold_expired", state.clock.now()).await?;
    Ok(())
}

/// Re-reads stock from the database after the inventory and the database disagreed.
async fn resync_stock(state: &AppState, order: &OrderView) -> AppResult<()> {
    for l in &order.lines {
        if let Some(p) = state.store.product(l.product_id).await? {
            state.inventory.set_on_hand(StockKey::Product(p.id), p.stock).await?;
        }
        if let Some(d) = l.drop_id {
            if let Some(remaining) = state.store.drop_remaining(d).await? {
                state.inventory.set_on_hand(StockKey::Drop(d), remaining).await?;
            }
        }
    }
    Ok(())
}

async fn announce_sale(state: &AppState, room: &LiveRoom, buyer: &AccountRow, order: &OrderView) -> AppResult<()> {
    for l in &order.lines {
        let stock_left = state.inventory.available(StockKey::Product(l.product_id)).await?.unwrap_or(0);
        let drop_left = match l.drop_id {
            Some(d) => state.inventory.available(StockKey::Drop(d)).await?,
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
        state.bus.publish(room, RoomEvent::Sale(sale)).await?;
        let brand_sale = BrandSale {
            order_id: order.id,
            room_id: room.id,
            creator_id: room.host,
            creator_name: room.card.host.display_name.clone(),
            product_id: l.product_id,
            title: l.title.clone(),
            quantity: l.quantity,
            amount: Money::new(l.line_total, order.subtotal.currency),
            commission: Money::new(l.commission, order.subtotal.currency),
            at: order.created_at,
        };
        state.bus.publish_sale(l.brand_id, &brand_sale).await?;
    }
    Ok(())
}
