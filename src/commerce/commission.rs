//! What a creator earns, and the append-only ledger that records it.
//!
//! The rule: basis points of the amount actually paid for a line, rounded **down** to
//! the minor unit, plus a flat amount per unit, never more than the line itself. Down,
//! because a creator is owed what the agreement earned, and a fraction of a cent the
//! agreement did not earn is never paid out (the brand keeps less than one minor unit
//! per line; half-even would pay some lines more than their rate).
//!
//! Split rule `cohost-v1`: a room may have a co-host. Each line's commission comes from
//! the host's agreement as above; the co-host earns `floor(commission × share / 10000)` of
//! it, where `share` is the agreement's `co_host_share_bps`, and the host the rest. A room
//! without a co-host gives the host all of it (a share of 10000).
//!
//! Ledger: a paid line accrues its commission, one entry per creator; each refund of
//! some of its units posts, per creator, a reversal of exactly what those units earned
//! that creator, computed as the creator's part of the commission of the units kept
//! before the refund less their part of that of the units kept after. So, for each
//! creator, accrual minus reversals always equals their part of the rule applied to what
//! was finally kept, to the minor unit: never negative, and exactly 0 once every unit is
//! refunded. Once the return window has passed each entry settles (what is left of it
//! becomes payable).

use super::{Commerce, CommerceError};
use crate::domain::Money;
use crate::domain::{AccountId, Refusal, Role};
use crate::store::{AccountRow, CommissionEntry, CommissionKind, NewOrderLine, NewShare, PaidLine, Parties};
use crate::wire::api::{CommissionBalance, ShareRole};
use crate::wire::ws::OrderView;

/// The version of the split rule, stored with each order's shares.
pub const SPLIT_RULE: &str = "cohost-v1";

/// Basis points in a whole.
const WHOLE: i64 = 10_000;

pub fn commission(line_total: i64, quantity: i64, bps: i64, flat_per_unit: i64) -> i64 {
    let rate = line_total.saturating_mul(bps) / 10_000;
    rate.saturating_add(flat_per_unit.saturating_mul(quantity)).min(line_total)
}

/// The co-host's part of a line's commission under `cohost-v1`: `share_bps` basis points
/// of it, rounded down (the host keeps the fraction).
pub fn co_host_part(commission: i64, share_bps: i64) -> i64 {
    commission.saturating_mul(share_bps) / WHOLE
}

/// What a line earns when `kept` of its units stay sold.
fn earned(line: &PaidLine, kept: i64) -> i64 {
    commission(line.unit_price * kept, kept, line.commission_bps, line.commission_flat)
}

/// What the host and the co-host earn when `kept` of the line's units stay sold.
fn split_earned(line: &PaidLine, kept: i64) -> (i64, i64) {
    let total = earned(line, kept);
    let co_host = co_host_part(total, line.co_host_share_bps);
    (total - co_host, co_host)
}

/// The reversals a refund of `units` posts on `line`, whose `refunded_quantity` already
/// counts them, as (host, co-host): what the units kept before the refund earned each
/// creator, less what those kept now do.
pub fn reversal(line: &PaidLine, units: i64) -> (i64, i64) {
    let kept_after = line.quantity - line.refunded_quantity;
    let (host_before, co_host_before) = split_earned(line, kept_after + units);
    let (host_after, co_host_after) = split_earned(line, kept_after);
    (host_before - host_after, co_host_before - co_host_after)
}

/// The accrual entries of a paid order: for each line, one to the host and, when the room
/// had a co-host, one to the co-host.
pub fn accruals(order: &OrderView, parties: &Parties, lines: &[PaidLine]) -> Vec<CommissionEntry> {
    let mut entries = Vec::with_capacity(lines.len() * 2);
    for l in lines {
        let (host, co_host) = split_earned(l, l.quantity);
        let entry = |creator_id, amount| CommissionEntry {
            order_id: order.id,
            product_id: l.product_id,
            creator_id,
            brand_id: l.brand_id,
            kind: CommissionKind::Accrued,
            amount,
            currency: order.subtotal.currency,
        };
        entries.push(entry(parties.host, host));
        if let Some(c) = parties.co_host {
            entries.push(entry(c, co_host));
        }
    }
    entries
}

/// Each creator's share of a new order's commission: the host's, and the co-host's when
/// the room has one. `share_bps` is the co-host's share of every line when the lines
/// agree on it; when they do not (lines under agreements with different shares), it is
/// the co-host's part of the order's commission in basis points, rounded down (each line
/// keeps its own share).
pub fn shares(host: AccountId, co_host: Option<AccountId>, lines: &[NewOrderLine]) -> Vec<NewShare> {
    let total: i64 = lines.iter().map(|l| l.commission_amount).sum();
    let Some(co_host) = co_host else {
        return vec![NewShare {
            creator: host,
            role: ShareRole::Host,
            share_bps: WHOLE,
            commission_amount: total,
            rule_version: SPLIT_RULE,
        }];
    };
    let co_host_amount: i64 = lines.iter().map(|l| co_host_part(l.commission_amount, l.co_host_share_bps)).sum();
    let first = lines.first().map_or(0, |l| l.co_host_share_bps);
    let co_host_bps = if lines.iter().all(|l| l.co_host_share_bps == first) || total == 0 {
        first
    } else {
        co_host_amount * WHOLE / total
    };
    vec![
        NewShare {
            creator: host,
            role: ShareRole::Host,
            share_bps: WHOLE - co_host_bps,
            commission_amount: total - co_host_amount,
            rule_version: SPLIT_RULE,
        },
        NewShare {
            creator: co_host,
            role: ShareRole::CoHost,
            share_bps: co_host_bps,
            commission_amount: co_host_amount,
            rule_version: SPLIT_RULE,
        },
    ]
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
        split_line(quantity, unit_price, bps, flat, 0)
    }

    fn split_line(quantity: i64, unit_price: i64, bps: i64, flat: i64, share: i64) -> PaidLine {
        PaidLine {
            product_id: ProductId::try_from(1).unwrap(),
            brand_id: BrandId::try_from(1).unwrap(),
            quantity,
            unit_price,
            refunded_quantity: 0,
            refund_held: 0,
            commission_bps: bps,
            commission_flat: flat,
            co_host_share_bps: share,
        }
    }

    #[test]
    fn the_co_host_part_rounds_down_and_the_host_keeps_the_fraction() {
        // 10% of 1,999 is 199 (rounded down); 33.33% of 199 is 66.33: 66 to the co-host.
        let l = split_line(1, 1_999, 1_000, 0, 3_333);
        let order = order_of(&[]);
        let parties = Parties { host: id(1), co_host: Some(id(2)) };
        let entries = accruals(&order, &parties, &[l]);
        assert_eq!(entries.iter().map(|e| (e.creator_id, e.amount)).collect::<Vec<_>>(), [(id(1), 133), (id(2), 66)]);
    }

    #[test]
    fn without_a_co_host_the_host_earns_every_line_whole() {
        let l = split_line(3, 1_000, 1_000, 50, 0);
        let entries = accruals(&order_of(&[]), &Parties { host: id(1), co_host: None }, &[l]);
        assert_eq!(entries.iter().map(|e| (e.creator_id, e.amount)).collect::<Vec<_>>(), [(id(1), 450)]);
    }

    #[test]
    fn shares_sum_to_the_commission_and_record_the_rule() {
        let new_line = |commission_amount, co_host_share_bps| NewOrderLine {
            product_id: ProductId::try_from(1).unwrap(),
            brand_id: BrandId::try_from(1).unwrap(),
            drop_id: None,
            title: String::new(),
            quantity: 1,
            list_price: 0,
            unit_price: 0,
            line_total: 0,
            commission_bps: 0,
            commission_flat: 0,
            commission_amount,
            co_host_share_bps,
        };
        let even = shares(id(1), Some(id(2)), &[new_line(199, 5_000), new_line(101, 5_000)]);
        assert_eq!(
            even.iter().map(|s| (s.share_bps, s.commission_amount)).collect::<Vec<_>>(),
            [(5_000, 151), (5_000, 149)]
        );
        assert!(even.iter().all(|s| s.rule_version == "cohost-v1"));
        let mixed = shares(id(1), Some(id(2)), &[new_line(100, 2_000), new_line(100, 6_000)]);
        assert_eq!(
            mixed.iter().map(|s| (s.share_bps, s.commission_amount)).collect::<Vec<_>>(),
            [(6_000, 120), (4_000, 80)]
        );
        let alone = shares(id(1), None, &[new_line(300, 5_000)]);
        assert_eq!(
            alone.iter().map(|s| (s.creator, s.share_bps, s.commission_amount)).collect::<Vec<_>>(),
            [(id(1), 10_000, 300)]
        );
    }

    fn id(n: i64) -> AccountId {
        AccountId::try_from(n).unwrap()
    }

    fn order_of(lines: &[crate::wire::ws::OrderLineView]) -> OrderView {
        let eur = crate::domain::Currency::try_from("EUR").unwrap();
        OrderView {
            id: crate::domain::OrderId::try_from(1).unwrap(),
            reference: crate::domain::OrderId::from_row(1).reference(),
            room_id: crate::domain::RoomId::try_from(1).unwrap(),
            creator_id: id(1),
            buyer_id: id(3),
            status: crate::wire::ws::OrderStatus::Placed,
            lines: lines.to_vec(),
            subtotal: Money::new(0, eur),
            commission: Money::new(0, eur),
            refunded: Money::new(0, eur),
            promo_code: None,
            promo_code_id: None,
            discount: Money::new(0, eur),
            idempotency_key: "k".into(),
            failure_code: None,
            created_at: crate::domain::UnixMs(0),
            shipping: None,
            rehearsal: false,
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
                let (r, co_host) = reversal(&l, units);
                prop_assert!(r >= 0);
                prop_assert_eq!(co_host, 0, "no co-host share, no co-host reversal");
                reversed += r;
            }
            let kept = quantity - l.refunded_quantity;
            prop_assert_eq!(accrued - reversed, commission(unit_price * kept, kept, bps, flat));
        }

        /// The same under `cohost-v1`, for each creator: accrual less reversals is their
        /// part of the rule applied to what was kept, no reversal is negative or takes a
        /// creator below zero, the two parts always add up to the line's commission, and a
        /// full refund leaves each creator exactly 0.
        #[test]
        fn each_creator_keeps_exactly_their_part_of_what_was_kept(
            quantity in 1i64..=99,
            unit_price in 0i64..=1_000_000,
            bps in 0i64..=10_000,
            flat in 0i64..=10_000,
            share in prop_oneof![Just(0i64), Just(5_000), Just(10_000), 0i64..=10_000],
            refunds in proptest::collection::vec(1i64..=99, 0..8),
            refund_all in any::<bool>(),
        ) {
            let mut l = split_line(quantity, unit_price, bps, flat, share);
            let parties = Parties { host: id(1), co_host: Some(id(2)) };
            let accrued = accruals(&order_of(&[]), &parties, std::slice::from_ref(&l));
            let (mut host, mut co_host) = (accrued[0].amount, accrued[1].amount);
            prop_assert_eq!(host + co_host, commission(unit_price * quantity, quantity, bps, flat));
            prop_assert_eq!(co_host, co_host_part(host + co_host, share));
            let mut steps: Vec<i64> = refunds;
            if refund_all {
                steps.push(99);
            }
            for units in steps {
                let units = units.min(l.quantity - l.refunded_quantity);
                if units == 0 {
                    continue;
                }
                l.refunded_quantity += units;
                let (h, c) = reversal(&l, units);
                prop_assert!(h >= 0 && c >= 0, "reversals ({h}, {c}) must not be negative");
                host -= h;
                co_host -= c;
                prop_assert!(host >= 0 && co_host >= 0, "never reversed more than accrued");
                let kept = quantity - l.refunded_quantity;
                let total = commission(unit_price * kept, kept, bps, flat);
                prop_assert_eq!(co_host, co_host_part(total, share));
                prop_assert_eq!(host, total - co_host_part(total, share));
            }
            if l.refunded_quantity == quantity {
                prop_assert_eq!((host, co_host), (0, 0));
            }
        }
    }
}
