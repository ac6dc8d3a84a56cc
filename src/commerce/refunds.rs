//! Refunds of paid orders, by a brand (its own lines) or an admin (any line), in full or
//! per line; never of a rehearsal's order, which sold nothing real. A refund is recorded
//! before the provider is asked; when the provider has refunded, the units go back into
//! stock and the creator's commission on them is reversed, in the same transaction. The
//! same request key refunds once.

use super::commission::reversal;
use super::settlement::parties;
use super::{Commerce, CommerceError};
use crate::analytics::Event;
use crate::domain::{Invalid, Money, OrderId, Refusal, Role};
use crate::store::{
    AccountRow, NewRefund, PaidLine, PaymentStatus, RefundLine, RefundOpened, RefundRow, StockAdjustment,
};
use crate::wire::api::{RefundLineView, RefundRequest, RefundStatus, RefundView};
use crate::wire::ws::OrderStatus;

type Result<T> = std::result::Result<T, CommerceError>;

/// How long a refund may wait for its requester's retry before the reconciler asks.
const REFUND_RETRY_AFTER_MS: i64 = 60_000;

fn view(r: &RefundRow) -> RefundView {
    RefundView {
        id: r.id,
        order_id: r.order_id,
        status: match r.status {
            PaymentStatus::Refunded => RefundStatus::Refunded,
            PaymentStatus::RefundFailed => RefundStatus::RefundFailed,
            _ => RefundStatus::Pending,
        },
        amount: r.amount,
        lines: r
            .lines
            .iter()
            .map(|l| RefundLineView { product_id: l.product_id, quantity: l.quantity, amount: l.amount })
            .collect(),
        failure: r.failure.clone(),
        created_at: r.created_at,
    }
}

/// Whether `who` may refund lines of `brand` in an order.
fn may_refund(who: &AccountRow, line: &PaidLine) -> bool {
    who.role == Role::Admin || (who.role == Role::Brand && who.brand_id == Some(line.brand_id))
}

/// The lines a request refunds, checked against what `who` may refund and what is left.
fn lines_to_refund(who: &AccountRow, paid: &[PaidLine], req: &RefundRequest) -> Result<Vec<RefundLine>> {
    let left = |l: &PaidLine| l.quantity - l.refunded_quantity - l.refund_held;
    let wanted: Vec<(&PaidLine, i64)> = match &req.lines {
        None => paid.iter().filter(|l| may_refund(who, l)).map(|l| (l, left(l))).filter(|(_, q)| *q > 0).collect(),
        Some(lines) if lines.is_empty() => {
            return Err(Invalid::new("lines", "name at least one line, or leave `lines` out to refund all").into());
        }
        Some(lines) => {
            let mut wanted = Vec::with_capacity(lines.len());
            for (i, asked) in lines.iter().enumerate() {
                if lines[..i].iter().any(|earlier| earlier.product_id == asked.product_id) {
                    return Err(Invalid::new("lines", "name each product at most once").into());
                }
                let line =
                    paid.iter().find(|l| l.product_id == asked.product_id).ok_or(Refusal::NotFound("order line"))?;
                if !may_refund(who, line) {
                    return Err(Refusal::Forbidden("a brand refunds only its own products").into());
                }
                let quantity = i64::from(asked.quantity);
                if quantity > left(line) {
                    return Err(Refusal::Conflict("that many units are not left to refund in this order").into());
                }
                wanted.push((line, quantity));
            }
            wanted
        }
    };
    if wanted.is_empty() {
        return Err(Refusal::Conflict("nothing is left to refund in this order").into());
    }
    Ok(wanted
        .into_iter()
        .map(|(l, quantity)| RefundLine { product_id: l.product_id, quantity, amount: l.unit_price * quantity })
        .collect())
}

impl Commerce {
    /// Refunds units of a paid order. Answers with the refund as it stands: `refunded`,
    /// `refund_failed` (the provider refused), or `pending` (no answer: retry the request).
    pub async fn refund(&self, who: &AccountRow, order: OrderId, req: RefundRequest) -> Result<RefundView> {
        if !matches!(who.role, Role::Admin | Role::Brand) {
            return Err(Refusal::Forbidden("only the brand or an admin can refund an order").into());
        }
        let record = self.store.order_record(order).await?.ok_or(Refusal::NotFound("order"))?;
        if who.role == Role::Brand && !record.view.lines.iter().any(|l| Some(l.brand_id) == who.brand_id) {
            // Not the brand's order: it learns no more than of an order that does not exist.
            return Err(Refusal::NotFound("order").into());
        }
        if record.view.rehearsal {
            return Err(Refusal::Conflict("a rehearsal's order is not refunded: nothing real was sold").into());
        }
        let charge = self.store.charge_of(order).await?;
        let charged = charge.as_ref().and_then(|c| Some((c, c.provider_ref.as_deref()?)));
        let existing = self.store.refund_by_request(order, req.idempotency_key.as_str()).await?;
        let refund = match existing {
            Some(existing) => existing,
            None => {
                if !matches!(record.view.status, OrderStatus::Paid | OrderStatus::Refunded) {
                    return Err(Refusal::Conflict("only a paid order can be refunded").into());
                }
                let paid = self.store.paid_lines(order).await?;
                let lines = lines_to_refund(who, &paid, &req)?;
                let amount = Money::new(lines.iter().map(|l| l.amount).sum(), record.view.subtotal.currency);
                let new = NewRefund {
                    order,
                    request_key: req.idempotency_key.as_str(),
                    provider: self.payments.name(),
                    amount,
                    lines: &lines,
                };
                match self.store.open_refund(&new, self.clock.now()).await? {
                    RefundOpened::Opened(r) | RefundOpened::Existing(r) => r,
                    RefundOpened::TooMany => {
                        return Err(Refusal::Conflict("that many units are not left to refund in this order").into());
                    }
                }
            }
        };
        let parties = parties(&self.store, order).await?;
        if refund.status == PaymentStatus::Pending {
            match charged {
                Some((charge, reference)) => {
                    self.complete_refund(&refund, charge, reference, &parties).await?;
                }
                // A free order: nothing was charged, so nothing goes back through the provider.
                None => {
                    let now = self.clock.now();
                    if let Some(adjustments) =
                        self.store.finish_refund(&refund, "free", &parties, reversal, now).await?
                    {
                        self.refunded(&refund, &adjustments).await;
                    }
                }
            }
        }
        let refund = self.store.refund(refund.id).await?.ok_or(Refusal::NotFound("refund"))?;
        Ok(view(&refund))
    }

    /// The refunds of an order, to whoever may see the order (or refund it).
    pub async fn refunds(&self, who: &AccountRow, order: OrderId) -> Result<Vec<RefundView>> {
        let record = self.store.order_record(order).await?.ok_or(Refusal::NotFound("order"))?;
        let brand_line = |l: &crate::wire::ws::OrderLineView| Some(l.brand_id) == who.brand_id;
        let co_host = self.store.order_parties(order).await?.and_then(|p| p.co_host);
        let sees = record.view.buyer_id == who.id
            || record.view.creator_id == who.id
            || co_host == Some(who.id)
            || who.role == Role::Admin
            || (who.role == Role::Brand && record.view.lines.iter().any(brand_line));
        if !sees {
            return Err(Refusal::NotFound("order").into());
        }
        Ok(self.store.refunds_of_order(order).await?.iter().map(view).collect())
    }

    /// Asks the provider again about refunds nobody retried (their requester went away,
    /// or the provider did not answer): the units they hold and the money they owe must
    /// not wait for ever.
    pub async fn retry_waiting_refunds(&self) -> Result<()> {
        let before = crate::domain::UnixMs(self.clock.now().0 - REFUND_RETRY_AFTER_MS);
        for refund in self.store.refunds_waiting(before).await? {
            let Some(parties) = self.store.order_parties(refund.order_id).await? else { continue };
            let Some(charge) = self.store.charge_of(refund.order_id).await? else { continue };
            let Some(reference) = charge.provider_ref.as_deref() else { continue };
            self.complete_refund(&refund, &charge, reference, &parties).await?;
        }
        Ok(())
    }

    /// A refund of units is done, once, by the call that recorded it (`finish_refund`
    /// said so): it is recorded for the reports, and its units are back on sale through
    /// the stock adjustments the database wrote with it ([`Commerce::restock`]), added to
    /// what the inventory offers as the database added them to its stock (not set to the
    /// database's new count, which still holds the units of sales committed in the
    /// inventory and not yet taken there: `HoldBook::adjust_on_hand`). A whole-charge
    /// refund gives back an order that never happened: nothing was sold, so nothing is
    /// put back or reported.
    pub(super) async fn refunded(&self, refund: &RefundRow, adjustments: &[StockAdjustment]) {
        if refund.lines.is_empty() {
            return;
        }
        self.analytics.record(Event::Refunded { order: refund.order_id, amount: refund.amount });
        self.restock(adjustments).await;
    }
}
