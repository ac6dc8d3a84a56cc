//! What a creator earns, and the append-only ledger that records it.
//!
//! The rule: basis points of the amount actually paid for a line, rounded **down** to
//! the minor unit, plus a flat amount per unit, never more than the line itself. Down,
//! because a creator is owed what the agreement earned, and a fraction of a cent the
//! agreement did not earn is never paid out (the brand keeps less than one minor unit
//! per line; half-even would pay some lines more than their rate).
//!
//! Ledger: a paid line accrues its commission; each refund of some of its units posts a
//! reversal of exactly what those units earned, computed as the commission of the units
//! kept before the refund less that of the units kept after, so accrual minus reversals
//! always equals the rule applied to what was finally kept, to the minor unit; once the
//! return window has passed the line settles (what is left of it becomes payable).

use super::{Commerce, CommerceError};
use crate::domain::Money;
use crate::domain::{AccountId, Refusal, Role};
use crate::store::{AccountRow, CommissionEntry, CommissionKind, PaidLine};
use crate::wire::api::CommissionBalance;
use crate::wire::ws::OrderView;

pub fn commission(line_total: i64, quantity: i64, bps: i64, flat_per_unit: i64) -> i64 {
    let rate = line_total.saturating_mul(bps) / 10_000;
    rate.saturating_add(flat_per_unit.saturating_mul(quantity)).min(line_total)
}

/// What a line earns when `kept` of its units stay sold.
fn earned(line: &PaidLine, kept: i64) -> i64 {
    commission(line.unit_price * kept, kept, line.commission_bps, line.commission_flat)
}

/// The reversal a refund of `units` posts on `line`, whose `refunded_quantity` already
/// counts them: what the units kept before the refund earned, less what those kept now do.
pub fn reversal(line: &PaidLine, units: i64) -> i64 {
    let kept_after = line.quantity - line.refunded_quantity;
    earned(line, kept_after + units) - earned(line, kept_after)
}

/// The accrual entries of a paid order: one per line, to the host it is attributed to.
pub fn accruals(order: &OrderView) -> Vec<CommissionEntry> {
    order
        .lines
        .iter()
        .map(|l| CommissionEntry {
            order_id: order.id,
            product_id: l.product_id,
            creator_id: order.creator_id,
            brand_id: l.brand_id,
            kind: CommissionKind::Accrued,
            amount: l.commission,
            currency: order.subtotal.currency,
        })
        .collect()
}

impl Commerce {
    /// A creator's commission, per currency, read from the ledger: to that creator or an
    /// admin.
    pub async fn earnings(
        &self,
        who: &AccountRow,
        creator: AccountId,
    ) -> Result<Vec<CommissionBalance>, CommerceError> {
        if who.id != creator && who.role != Role::Admin {
            return Err(Refusal::Forbidden("creators see only their own earnings").into());
        }
        let totals = self.store.commission_totals(creator).await?;
        Ok(totals
            .into_iter()
            .map(|t| CommissionBalance {
                accrued: Money::new(t.accrued, t.currency),
                reversed: Money::new(t.reversed, t.currency),
                settled: Money::new(t.settled, t.currency),
                owed: Money::new(t.accrued - t.reversed - t.settled, t.currency),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BrandId, ProductId};
    use proptest::prelude::*;

    #[test]
    fn rate_rounds_down_in_minor_units() {
        assert_eq!(commission(1_999, 1, 1_250, 0), 249);
    }

    #[test]
    fn flat_amount_is_per_unit() {
        assert_eq!(commission(3_000, 3, 0, 150), 450);
    }

    #[test]
    fn commission_never_exceeds_the_line() {
        assert_eq!(commission(100, 1, 10_000, 500), 100);
    }

    fn line(quantity: i64, unit_price: i64, bps: i64, flat: i64) -> PaidLine {
        PaidLine {
            product_id: ProductId::try_from(1).unwrap(),
            brand_id: BrandId::try_from(1).unwrap(),
            quantity,
            unit_price,
            refunded_quantity: 0,
            refund_held: 0,
            commission_bps: bps,
            commission_flat: flat,
        }
    }

    proptest! {
        /// Whatever sequence of refunds a line sees, accrual less reversals is exactly the
        /// rule applied to what was kept, and no reversal is negative.
        #[test]
        fn ledger_equals_the_agreement_applied_to_what_was_kept(
            quantity in 1i64..=99,
            unit_price in 0i64..=1_000_000,
            bps in 0i64..=10_000,
            flat in 0i64..=10_000,
            refunds in proptest::collection::vec(1i64..=99, 0..8),
        ) {
            let mut l = line(quantity, unit_price, bps, flat);
            let accrued = commission(unit_price * quantity, quantity, bps, flat);
            let mut reversed = 0;
            for units in refunds {
                let units = units.min(l.quantity - l.refunded_quantity);
                if units == 0 {
                    continue;
                }
                l.refunded_quantity += units;
                let r = reversal(&l, units);
                prop_assert!(r >= 0);
                reversed += r;
            }
            let kept = quantity - l.refunded_quantity;
            prop_assert_eq!(accrued - reversed, commission(unit_price * kept, kept, bps, flat));
        }
    }
}
