//! Refunds of paid orders, by a brand (its own lines) or an admin (any line), in full or
//! per line. A refund is recorded before the provider is asked; when the provider has
//! refunded, the units go back into stock and the creator's commission on them is
//! reversed, in the same transaction. The same request key refunds once.

use super::commission::reversal;
use super::{Commerce, CommerceError, StockKey};
use crate::domain::{Money, OrderId, Refusal, Role};
use crate::store::{AccountRow, NewRefund, PaidLine, PaymentStatus, RefundLine, RefundOpened, RefundRow};
use crate::wire::api::{RefundLineView, RefundRequest, RefundStatus, RefundView};
use crate::wire::ws::OrderStatus;

type Result<T> = std::result::Result<T, CommerceError>;

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
    if !paid.iter().any(|l| may_refund(who, l)) {
        return Err(Refusal::Forbidden("a brand refunds only its own products").into());
    }
    let wanted: Vec<(&PaidLine, i64)> = match &req.lines {
        None => paid.iter().filter(|l| may_refund(who, l)).map(|l| (l, left(l))).filter(|(_, q)| *q > 0).collect(),
        Some(lines) => {
            let mut wanted = Vec::with_capacity(lines.len());
            for asked in lines {
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
        let charge = self.store.charge_of(order).await?;
        let reference = charge.as_ref().and_then(|c| c.provider_ref.clone());
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
        let status = match (&reference, refund.status) {
            (Some(reference), PaymentStatus::Pending) => {
                self.complete_refund(&refund, reference, record.view.creator_id).await?
            }
            // A free order: nothing was charged, so nothing goes back through the provider.
            (None, PaymentStatus::Pending) => {
                self.store.finish_refund(&refund, "free", record.view.creator_id, reversal, self.clock.now()).await?;
                PaymentStatus::Refunded
            }
            (_, status) => status,
        };
        if status == PaymentStatus::Refunded {
            self.restocked(&refund).await?;
        }
        let refund = self.store.refund(refund.id).await?.ok_or(Refusal::NotFound("refund"))?;
        Ok(view(&refund))
    }

    /// The refunds of an order, to whoever may see the order (or refund it).
    pub async fn refunds(&self, who: &AccountRow, order: OrderId) -> Result<Vec<RefundView>> {
        let record = self.store.order_record(order).await?.ok_or(Refusal::NotFound("order"))?;
        let brand_line = |l: &crate::wire::ws::OrderLineView| Some(l.brand_id) == who.brand_id;
        let sees = record.view.buyer_id == who.id
            || record.view.creator_id == who.id
            || who.role == Role::Admin
            || (who.role == Role::Brand && record.view.lines.iter().any(brand_line));
        if !sees {
            return Err(Refusal::NotFound("order").into());
        }
        Ok(self.store.refunds_of_order(order).await?.iter().map(view).collect())
    }

    /// Units back in stock: the inventory learns the database's new count, and rooms
    /// selling the product are told.
    async fn restocked(&self, refund: &RefundRow) -> Result<()> {
        for l in &refund.lines {
            if let Some(p) = self.store.product(l.product_id).await? {
                self.inventory.set_on_hand(StockKey::Product(p.id), p.stock).await?;
                self.announce_product(&p).await?;
            }
        }
        Ok(())
    }
}
