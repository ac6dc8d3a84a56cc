//! Charging a placed order and settling it, once, whatever happens.
//!
//! The payment ledger (`payments`) holds one charge per order, opened `pending` in the
//! transaction that places the order. Its provider key is chosen then and kept in the
//! ledger, so every attempt (a retry after `payment_unavailable`, a resume on another
//! node after a crash) is the same charge to the provider. The ledger is written before
//! the provider is called (`pending`, then the provider's reference for the prepared
//! charge, before any money moves) and after it answers: `failed` on its own, and
//! `succeeded` in the settlement's transaction. A charge that succeeded is settled (the
//! order paid, its stock and commission booked) or, when the order can no longer be
//! honoured (its hold ran out, the stock is gone), refunded, and the refund is recorded
//! too.
//!
//! The reconciler finishes what a checkout left: orders charged but not settled, and
//! orders whose hold ran out with a charge of unknown outcome (asking the provider).
//! It holds the buyer's checkout claim while it works, so it never races a retry of the
//! same checkout on any node.

use super::checkout::random_id;
use super::commission::{accruals, reversal};
use super::holds::Left;
use super::inventory::UNVERSIONED;
use super::payments::{Charge, ChargeState, Instrument, PaymentFailure, PaymentProvider, Refund};
use super::{Commerce, CommerceError, StockKey};
use crate::analytics::{Event, Who};
use crate::domain::{Money, OrderId, Refusal, UnixMs};
use crate::store::{
    AccountRow, ChargeOpening, ChargeRow, NewOrder, NewRefund, OrderRecord, PaidLine, Parties, PaymentStatus,
    RefundOpened, RefundRow, SettleOutcome, Store,
};
use crate::telemetry::{Causes, timed};
use crate::wire::ws::{BrandSale, OrderStatus, OrderView, RoomEvent, SaleView};

type Result<T> = std::result::Result<T, CommerceError>;

/// A new charge's provider key, kept in the ledger for every attempt at it. Random, so no
/// two charges ever share one, not even after a restore to an earlier backup issues
/// order ids again.
fn new_charge_key() -> String {
    format!("livecart-c{}-charge", random_id())
}

/// The creators of an order (whose commission a refund reverses): its host, and the
/// co-host who shared the room when it was placed.
pub(super) async fn parties(store: &Store, order: OrderId) -> Result<Parties> {
    Ok(store.order_parties(order).await?.ok_or(Refusal::NotFound("order"))?)
}

/// What a cancelled order tells a buyer who asks about it again.
pub(super) fn cancelled_error(code: Option<&str>) -> CommerceError {
    match code {
        Some("payment_declined") => CommerceError::PaymentDeclined("this checkout was declined".into()),
        Some("sold_out") => CommerceError::SoldOut { title: "this checkout".into(), available: 0 },
        _ => CommerceError::HoldExpired,
    }
}

impl Commerce {
    /// Who charges an order: the test cards for a rehearsal's, the server's provider
    /// otherwise.
    fn provider_for(&self, rehearsal: bool) -> &dyn PaymentProvider {
        if rehearsal { &*self.rehearsal_payments } else { &*self.payments }
    }

    /// How a new order's charge of `subtotal` opens in the ledger: who charges it, under
    /// a new key, and the reference the provider gives it up front, if it does. A free
    /// order is never charged, so it never has a reference to record.
    pub(super) fn charge_opening(&self, rehearsal: bool, subtotal: i64) -> ChargeOpening {
        let provider = self.provider_for(rehearsal);
        let provider_key = new_charge_key();
        let provider_ref = if subtotal > 0 { provider.reference_for(&provider_key) } else { None };
        ChargeOpening { provider: provider.name(), provider_key, provider_ref }
    }

    /// Who took a charge, by the name the ledger keeps for it: a test-card charge on a
    /// server that runs another provider was a rehearsal's, and the test cards' books
    /// hold it.
    fn provider_of(&self, charge: &ChargeRow) -> &dyn PaymentProvider {
        if charge.provider != self.payments.name() && charge.provider == self.rehearsal_payments.name() {
            &*self.rehearsal_payments
        } else {
            &*self.payments
        }
    }
}

/// The placed order a payment is for, and what its sale is announced with.
pub(super) struct Placed<'a> {
    pub order: OrderView,
    /// The charge, when this call's placement opened it in the ledger; `None`: this
    /// attempt opens it or counts itself on it.
    pub charge: Option<ChargeRow>,
    pub hold_id: &'a str,
    /// What the hold left of each key, when this call took it (the per-sale count-down).
    pub left: Option<Left>,
    pub buyer: &'a AccountRow,
    pub host_name: &'a str,
    /// Who earns and on what lines, when this call wrote the order (so settling it
    /// need not read them back); `None`: read from the database.
    pub terms: Option<Terms>,
}

/// An order's commission terms as they were written when it was placed.
pub(super) struct Terms {
    parties: Parties,
    lines: Vec<PaidLine>,
}

impl Terms {
    pub(super) fn of(order: &NewOrder) -> Terms {
        Terms { parties: order.parties(), lines: order.lines.iter().map(PaidLine::from).collect() }
    }
}

impl Commerce {
    /// Charges the order once and settles it. The ledger is written before every step
    /// that can move money, so a crash anywhere leaves something the reconciler finishes.
    pub(super) async fn pay(&self, mut placed: Placed<'_>, instrument: Instrument<'_>) -> Result<OrderView> {
        let order = &placed.order;
        let row = match placed.charge.take() {
            Some(opened) => opened,
            None => {
                let opening = self.charge_opening(order.rehearsal, order.subtotal.amount);
                self.store.open_charge(order.id, order.subtotal, &opening, self.clock.now()).await?
            }
        };
        match row.status {
            PaymentStatus::Succeeded => return self.settle(placed, &row, false).await,
            PaymentStatus::Failed => return Err(CommerceError::PaymentDeclined(row.failure.unwrap_or_default())),
            _ => {}
        }
        let charge = Charge {
            order: order.id,
            key: &row.provider_key,
            amount: order.subtotal,
            instrument,
            first_attempt: row.attempts == 1,
        };
        match self.charge(&row, &charge).await {
            Ok(()) => {}
            Err(PaymentFailure::Declined(reason)) => {
                self.store.end_charge(row.id, PaymentStatus::Failed, Some(&reason), self.clock.now()).await?;
                self.inventory.release(placed.hold_id).await?;
                self.cancel(order, "payment_declined", self.clock.now()).await?;
                return Err(CommerceError::PaymentDeclined(reason));
            }
            // The charge stays pending: a retry with the same key, or the reconciler, finds out.
            Err(PaymentFailure::Unavailable) => return Err(CommerceError::PaymentUnavailable),
        }
        // The ledger records the success with the settlement, in its transaction.
        self.settle(placed, &row, true).await
    }

    /// Records in the ledger that the provider took a charge, on its own: false when
    /// the ledger had given up on it meanwhile, whose money is then on its way back.
    async fn record_charged(&self, charge: &ChargeRow) -> Result<bool> {
        if self.store.end_charge(charge.id, PaymentStatus::Succeeded, None, self.clock.now()).await? {
            return Ok(true);
        }
        if self.store.charge_of(charge.order_id).await?.map(|c| c.status) == Some(PaymentStatus::Succeeded) {
            // A provider webhook recorded the success first.
            return Ok(true);
        }
        self.charged_after_giving_up(charge).await?;
        Ok(false)
    }

    /// The ledger gave up on a charge (the reconciler found nothing charged yet and
    /// cancelled the order), then the provider took it after all: the ledger records the
    /// money that moved, and it goes back.
    async fn charged_after_giving_up(&self, charge: &ChargeRow) -> Result<()> {
        self.store.charge_approved_late(charge.id, self.clock.now()).await?;
        self.refund_charge(charge.order_id, "abandoned").await
    }

    /// Moves the money: prepares the charge (recording the provider's reference before
    /// anything is charged), then confirms it. A free order is charged nothing.
    async fn charge(&self, row: &ChargeRow, charge: &Charge<'_>) -> std::result::Result<(), PaymentFailure> {
        if charge.amount.amount == 0 {
            return Ok(());
        }
        let provider = self.provider_of(row);
        let reference = match &row.provider_ref {
            Some(reference) => reference.clone(),
            None => {
                let reference = provider.prepare(charge).await?;
                match self.store.set_charge_reference(row.id, &reference, self.clock.now()).await {
                    Ok(true) => {}
                    // Unrecorded, it must not be charged: nobody could find the money again
                    // (to refund it, or to settle it). Given up on meanwhile, likewise: the
                    // reconciler has cancelled the order, so nothing may be charged for it.
                    Ok(false) => {
                        tracing::warn!("charge given up on before its reference was recorded: not charged");
                        return Err(PaymentFailure::Unavailable);
                    }
                    Err(e) => {
                        tracing::warn!(error = %Causes(&e), "charge reference not recorded");
                        return Err(PaymentFailure::Unavailable);
                    }
                }
                reference
            }
        };
        provider.confirm(&reference, charge).await
    }

    /// Books a charged order: commits its hold, then in one transaction records the
    /// charge as succeeded (when `just_charged`: the provider has just taken it), marks
    /// the order paid, takes its units out of stock and accrues its commission. What
    /// cannot be booked is refunded.
    async fn settle(&self, placed: Placed<'_>, row: &ChargeRow, just_charged: bool) -> Result<OrderView> {
        let Placed { mut order, hold_id, left, buyer, host_name, terms, charge: _ } = placed;
        let now = self.clock.now();
        let committed = self.inventory.commit(hold_id, now).await?;
        let mut to_record = just_charged.then_some(row.id);
        if !committed {
            // The rare path reads and refunds on its own, so the ledger must say first
            // what the provider did.
            if to_record.take().is_some() && !self.record_charged(row).await? {
                return Err(CommerceError::HoldExpired);
            }
            // The hold is gone from the inventory: it expired, a racing attempt at the
            // same order committed it, or Redis lost it. The database decides.
            let record = self.store.order_record(order.id).await?.ok_or(Refusal::NotFound("order"))?;
            match record.view.status {
                OrderStatus::Paid | OrderStatus::Refunded => return Ok(record.view),
                // Lost, not expired: the conditional decrement below is the guard.
                OrderStatus::Placed if record.hold_expires_at > now => {}
                _ => {
                    // Cancelled first, so a refund never meets a paid order.
                    self.cancel(&order, "hold_expired", now).await?;
                    self.refund_charge(order.id, "hold_expired").await?;
                    // An earlier attempt may have committed the hold before failing to
                    // settle: the inventory counts those units sold until it re-reads.
                    self.resync_stock(&order).await?;
                    return Err(CommerceError::HoldExpired);
                }
            }
        }
        let settles_at = now.plus(self.return_window);
        // A rehearsal's order earns nothing: with no accrual, no earnings total or payout
        // can count it.
        let accrued = match (order.rehearsal, terms) {
            (true, _) => Vec::new(),
            (false, Some(terms)) => accruals(&order, &terms.parties, &terms.lines),
            (false, None) => {
                accruals(&order, &parties(&self.store, order.id).await?, &self.store.paid_lines(order.id).await?)
            }
        };
        let booked = self.store.settle_paid(&order, to_record, &accrued, settles_at, now);
        let booked = match timed("livecart_db_seconds", "settle_paid", booked).await {
            Ok(booked) => booked,
            Err(e) => {
                if to_record.is_some() {
                    // The failed transaction took the charge's record with it: the money
                    // moved, so the ledger says so on its own, and the reconciler settles
                    // the order (or refunds it) on its next sweep.
                    if let Err(unrecorded) = self.record_charged(row).await {
                        tracing::warn!(error = %Causes(&unrecorded), "charge not recorded after its settlement failed");
                    }
                }
                return Err(e.into());
            }
        };
        match booked {
            SettleOutcome::Paid => {}
            SettleOutcome::ChargeGivenUp => {
                self.charged_after_giving_up(row).await?;
                // The hold was committed above, after the reconciler released it: the
                // inventory counts from the database again.
                self.resync_stock(&order).await?;
                return Err(CommerceError::HoldExpired);
            }
            SettleOutcome::NotPlaced => {
                let record = self.store.order_record(order.id).await?.ok_or(Refusal::NotFound("order"))?;
                if matches!(record.view.status, OrderStatus::Paid | OrderStatus::Refunded) {
                    // Settled by a racing retry of the same checkout: one charge, one order.
                    return Ok(record.view);
                }
                self.refund_charge(order.id, "hold_expired").await?;
                self.resync_stock(&order).await?;
                return Err(CommerceError::HoldExpired);
            }
            SettleOutcome::OutOfStock => {
                self.cancel(&order, "sold_out", now).await?;
                self.refund_charge(order.id, "sold_out").await?;
                self.resync_stock(&order).await?;
                return Err(CommerceError::SoldOut { title: order.lines[0].title.clone(), available: 0 });
            }
        }
        tracing::debug!(charge = row.id, "order settled");
        // The order is paid and committed: nothing after this may fail it, or keep its
        // sale from being announced.
        if !committed {
            // Settled past the inventory: let it count from the database again.
            if let Err(e) = self.resync_stock(&order).await {
                tracing::warn!(error = %Causes(&e), "stock not resynced after settling");
            }
        }
        order.status = OrderStatus::Paid;
        self.analytics.record(Event::CheckoutPaid {
            room: order.room_id,
            who: Who::account(order.buyer_id),
            order: order.id,
            amount: order.subtotal,
        });
        self.record_sell_outs(&order).await;
        if let Some(code) = order.promo_code_id {
            self.analytics.record(Event::PromoRedeemed {
                room: order.room_id,
                who: Who::account(order.buyer_id),
                order: order.id,
                code,
            });
        }
        if let Err(e) = self.carts.clear(order.room_id, buyer.id).await {
            tracing::warn!(error = %Causes(&e), "cart not cleared after settling");
        }
        if let Err(e) = self.announce_sale(&order, buyer, host_name, left.as_deref()).await {
            // The order is paid and committed; a missed ticker entry must not fail it.
            tracing::warn!(error = %Causes(&e), "sale announcement failed");
        }
        Ok(order)
    }

    /// Returns the whole charge of an order that will not be honoured, and records it.
    /// Never while the order is paid: callers cancel it first.
    async fn refund_charge(&self, order: OrderId, why: &str) -> Result<()> {
        let status = self.store.order_record(order).await?.map(|r| r.view.status);
        if matches!(status, Some(OrderStatus::Paid | OrderStatus::Refunded)) {
            // Honoured after all, by another attempt: the charge pays for it.
            return Ok(());
        }
        let Some(charge) = self.store.charge_of(order).await? else { return Ok(()) };
        let (Some(reference), PaymentStatus::Succeeded) = (charge.provider_ref.as_deref(), charge.status) else {
            return Ok(());
        };
        let provider = self.provider_of(&charge).name();
        let new = NewRefund { order, request_key: why, provider, amount: charge.amount, lines: &[] };
        let refund = match self.store.open_refund(&new, self.clock.now()).await? {
            RefundOpened::Opened(r) | RefundOpened::Existing(r) => r,
            RefundOpened::TooMany => return Ok(()),
        };
        self.complete_refund(&refund, &charge, reference, &parties(&self.store, order).await?).await.map(drop)
    }

    /// Asks the provider that took `charge` (whose reference is `charge_reference`) for a
    /// refund recorded as pending, and records its answer: done (units back in stock,
    /// commission reversed), refused, or still unknown. Of callers racing on one refund
    /// (its requester, a retry, the reconciler), the one whose answer the database
    /// records puts its units back on sale.
    pub(super) async fn complete_refund(
        &self,
        refund: &RefundRow,
        charge: &ChargeRow,
        charge_reference: &str,
        parties: &Parties,
    ) -> Result<PaymentStatus> {
        if refund.status != PaymentStatus::Pending {
            return Ok(refund.status);
        }
        if refund.lines.is_empty() {
            // A whole-charge refund gives back the money of an order that did not happen;
            // never once the order was paid after all (a racing attempt settled it).
            let status = self.store.order_record(refund.order_id).await?.map(|r| r.view.status);
            if matches!(status, Some(OrderStatus::Paid | OrderStatus::Refunded)) {
                self.store.fail_refund(refund, "the order was paid after all", self.clock.now()).await?;
                return Ok(PaymentStatus::RefundFailed);
            }
        }
        let asked = Refund { charge: charge_reference, key: &refund.provider_key, amount: refund.amount };
        let now = self.clock.now();
        match self.provider_of(charge).refund(&asked).await {
            Ok(reference) => {
                if let Some(adjustments) = self.store.finish_refund(refund, &reference, parties, reversal, now).await? {
                    self.refunded(refund, &adjustments).await;
                }
                Ok(PaymentStatus::Refunded)
            }
            Err(PaymentFailure::Declined(reason)) => {
                tracing::warn!(refund = refund.id, reason, "refund refused by the provider");
                self.store.fail_refund(refund, &reason, now).await?;
                Ok(PaymentStatus::RefundFailed)
            }
            Err(PaymentFailure::Unavailable) => Ok(PaymentStatus::Pending),
        }
    }

    /// Cancels a placed order (only a placed one: the database decides), and records the
    /// failed checkout when this call was the one that cancelled it.
    async fn cancel(&self, order: &OrderView, code: &str, now: UnixMs) -> Result<()> {
        if self.store.cancel_order(order.id, code, now).await? {
            let who = Who::account(order.buyer_id);
            self.analytics.record(Event::CheckoutFailed { room: order.room_id, who });
        }
        Ok(())
    }

    /// Cancels a placed order whose hold ran out and gives its units back.
    pub(super) async fn expire_order(&self, order: &OrderView, hold_id: &str) -> Result<()> {
        self.inventory.release(hold_id).await?;
        self.cancel(order, "hold_expired", self.clock.now()).await?;
        Ok(())
    }

    /// Records the drops this paid order sold out (their last unit is gone in the database).
    async fn record_sell_outs(&self, order: &OrderView) {
        for l in &order.lines {
            let Some(drop) = l.drop_id else { continue };
            match self.store.drop_remaining(drop).await {
                Ok(Some(0)) => {
                    self.analytics.record(Event::DropSoldOut { room: order.room_id, drop, product: l.product_id })
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %Causes(&e), "drop not read for analytics"),
            }
        }
    }

    /// Re-reads stock from the database after the inventory and the database disagreed.
    /// The adjustments made so far are in the count read, so none is made again.
    async fn resync_stock(&self, order: &OrderView) -> Result<()> {
        for l in &order.lines {
            if let Some(p) = self.store.product(l.product_id).await? {
                self.inventory.set_on_hand(StockKey::Product(p.id), p.stock, p.card_version).await?;
                self.store.adjustments_counted(Some(p.id), self.clock.now()).await?;
            }
            if let Some(d) = l.drop_id {
                if let Some(remaining) = self.store.drop_remaining(d).await? {
                    self.inventory.set_on_hand(StockKey::Drop(d), remaining, UNVERSIONED).await?;
                }
            }
        }
        Ok(())
    }

    /// Tells the room (a `sale` per line, with what the hold left) and each brand's feed
    /// (not of a rehearsal's order).
    async fn announce_sale(
        &self,
        order: &OrderView,
        buyer: &AccountRow,
        host_name: &str,
        left: Option<&[(StockKey, i64)]>,
    ) -> Result<()> {
        for l in &order.lines {
            let left_of = |key: StockKey| left.and_then(|left| left.iter().find(|(k, _)| *k == key).map(|(_, n)| *n));
            let product = StockKey::Product(l.product_id);
            let stock_left = match left_of(product) {
                Some(n) => n,
                None => self.inventory.available(product).await?.unwrap_or(0),
            };
            let drop_left = match l.drop_id.map(StockKey::Drop) {
                Some(key) => match left_of(key) {
                    Some(n) => Some(n),
                    None => self.inventory.available(key).await?,
                },
                None => None,
            };
            let sale = SaleView {
                buyer: buyer.display_name.clone(),
                product_id: l.product_id,
                title: l.title.clone(),
                quantity: l.quantity,
                stock_left,
                drop_left,
                at: self.clock.now(),
            };
            self.events.publish(order.room_id, &RoomEvent::Sale(sale)).await?;
            if order.rehearsal {
                // Brands watch real sales: a rehearsal sells none.
                continue;
            }
            let brand_sale = BrandSale {
                order_id: order.id,
                room_id: order.room_id,
                creator_id: order.creator_id,
                creator_name: host_name.to_owned(),
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

    /// The provider says (a webhook) what became of a charge: record it and finish its
    /// order, unless a checkout of it is running right now (which will finish it).
    pub async fn charge_reported(&self, reference: &str, state: ChargeState) -> Result<()> {
        let Some(charge) = self.store.charge_by_reference(self.payments.name(), reference).await? else {
            return Ok(());
        };
        let Some(record) = self.store.order_record(charge.order_id).await? else { return Ok(()) };
        let work = async {
            let now = self.clock.now();
            match state {
                ChargeState::Charged => self.store.end_charge(charge.id, PaymentStatus::Succeeded, None, now).await?,
                ChargeState::Declined(reason) => {
                    self.store.end_charge(charge.id, PaymentStatus::Failed, Some(&reason), now).await?
                }
                ChargeState::NotCharged => false,
            };
            self.reconcile_claimed(charge.order_id).await
        };
        self.claimed(record.view.buyer_id, &record.view.idempotency_key, work).await?.unwrap_or(Ok(()))
    }

    /// Reconciles every placed order that needs it (see the module's documentation).
    pub async fn reconcile_all(&self) -> Result<()> {
        for order in self.store.orders_to_reconcile(self.clock.now()).await? {
            if let Err(e) = self.reconcile(order).await {
                tracing::warn!(%order, error = %Causes(&e), "order not reconciled");
            }
        }
        Ok(())
    }

    /// Finishes one placed order, holding its buyer's checkout claim so no retry of the
    /// same checkout runs meanwhile, on any node.
    pub(super) async fn reconcile(&self, order: OrderId) -> Result<()> {
        let Some(record) = self.store.order_record(order).await? else { return Ok(()) };
        let key = &record.view.idempotency_key;
        self.claimed(record.view.buyer_id, key, self.reconcile_claimed(order)).await?.unwrap_or(Ok(()))
    }

    /// Reconciles one placed order; the caller holds the buyer's claim on its key.
    pub(super) async fn reconcile_claimed(&self, order: OrderId) -> Result<()> {
        // Read again under the claim: a checkout may have finished it meanwhile.
        let Some(record) = self.store.order_record(order).await? else { return Ok(()) };
        match record.view.status {
            OrderStatus::Placed => {}
            OrderStatus::Cancelled => return self.return_money(order).await,
            OrderStatus::Paid | OrderStatus::Refunded => return Ok(()),
        }
        let now = self.clock.now();
        let expired = record.hold_expires_at <= now;
        let Some(charge) = self.store.charge_of(order).await? else {
            return if expired { self.expire_order(&record.view, &record.hold_id).await } else { Ok(()) };
        };
        match charge.status {
            PaymentStatus::Succeeded => self.settle_found(record, &charge).await,
            PaymentStatus::Failed => {
                self.inventory.release(&record.hold_id).await?;
                self.cancel(&record.view, "payment_declined", now).await?;
                Ok(())
            }
            _ if !expired => Ok(()),
            _ => {
                let state = match &charge.provider_ref {
                    // Never prepared: no money can have moved.
                    None => Ok(ChargeState::NotCharged),
                    Some(reference) => self.provider_of(&charge).lookup(reference).await,
                };
                match state {
                    Ok(ChargeState::Charged) => {
                        self.store.end_charge(charge.id, PaymentStatus::Succeeded, None, now).await?;
                        self.settle_found(record, &charge).await
                    }
                    Ok(ChargeState::NotCharged) => {
                        self.store.end_charge(charge.id, PaymentStatus::Failed, Some("abandoned"), now).await?;
                        self.expire_order(&record.view, &record.hold_id).await
                    }
                    Ok(ChargeState::Declined(reason)) => {
                        self.store.end_charge(charge.id, PaymentStatus::Failed, Some(&reason), now).await?;
                        self.inventory.release(&record.hold_id).await?;
                        self.cancel(&record.view, "payment_declined", now).await?;
                        Ok(())
                    }
                    // The provider does not answer: ask again on the next sweep.
                    Err(_) => Ok(()),
                }
            }
        }
    }

    /// A cancelled order keeps no money: a charge of unknown outcome is looked up, and
    /// what was charged goes back, through the refund already opened for it if there is
    /// one (asked again while pending), else a new one.
    async fn return_money(&self, order: OrderId) -> Result<()> {
        let Some(charge) = self.store.charge_of(order).await? else { return Ok(()) };
        if charge.status == PaymentStatus::Pending {
            let state = match &charge.provider_ref {
                None => Ok(ChargeState::NotCharged),
                Some(reference) => self.provider_of(&charge).lookup(reference).await,
            };
            let now = self.clock.now();
            match state {
                Ok(ChargeState::Charged) => {
                    self.store.end_charge(charge.id, PaymentStatus::Succeeded, None, now).await?;
                }
                Ok(ChargeState::NotCharged) => {
                    self.store.end_charge(charge.id, PaymentStatus::Failed, Some("abandoned"), now).await?;
                    return Ok(());
                }
                Ok(ChargeState::Declined(reason)) => {
                    self.store.end_charge(charge.id, PaymentStatus::Failed, Some(&reason), now).await?;
                    return Ok(());
                }
                // The provider does not answer: ask again on the next sweep.
                Err(_) => return Ok(()),
            }
        }
        let refunds = self.store.refunds_of_order(order).await?;
        let whole: Vec<&RefundRow> = refunds.iter().filter(|r| r.lines.is_empty()).collect();
        if whole.iter().any(|r| r.status != PaymentStatus::Pending) {
            // Refunded, or refused by the provider (which needs a person).
            return Ok(());
        }
        let why = whole.first().map_or("cancelled", |r| r.request_key.as_str());
        self.refund_charge(order, why).await
    }

    /// Settles a charge the checkout did not finish (it crashed, or lost its database).
    async fn settle_found(&self, record: OrderRecord, charge: &ChargeRow) -> Result<()> {
        let buyer = self.store.account(record.view.buyer_id).await?.ok_or(Refusal::NotFound("buyer"))?;
        let host = self.store.account(record.view.creator_id).await?.ok_or(Refusal::NotFound("host"))?;
        let placed = Placed {
            order: record.view,
            charge: None,
            hold_id: &record.hold_id,
            left: None,
            buyer: &buyer,
            host_name: &host.display_name,
            terms: None,
        };
        match self.settle(placed, charge, false).await {
            Ok(_) | Err(CommerceError::HoldExpired | CommerceError::SoldOut { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
