//! The figures of a report, worked out from the sums the store aggregates
//! ([`Aggregates`]): plain functions of their inputs, so each formula of docs/metrics.md
//! is written once, here, and tested without a database.

use crate::domain::{Currency, Invalid, Money, UnixMs};
use crate::store::{Aggregates, CodeUses};
use crate::wire::report::{
    CommissionFigures, CostFigures, CreatorRow, CreatorSort, Figures, ProductFigures, PromoFigures, Rate, Uplift,
};
use std::cmp::Ordering;

/// Milliseconds in a minute: "per minute" rates carry it in their numerator.
pub const MINUTE_MS: i64 = 60_000;

/// The latest `to` a report accepts (year 3000): far beyond any real period, and small
/// enough that no sum of milliseconds in a report can overflow.
pub const MAX_TIME: i64 = 32_503_680_000_000;

/// The period `[from, to)` of a report: both optional (the beginning, and now), `from`
/// before `to`, neither negative or past [`MAX_TIME`]. An open end is now, so a live
/// room's report counts the show so far.
pub fn period(from: Option<i64>, to: Option<i64>, now: UnixMs) -> Result<(UnixMs, UnixMs), Invalid> {
    for (field, v) in [("from", from), ("to", to)] {
        if let Some(v) = v.filter(|v| !(0..=MAX_TIME).contains(v)) {
            return Err(Invalid::new(field, format!("must be Unix milliseconds between 0 and {MAX_TIME}, got {v}")));
        }
    }
    let from = from.unwrap_or(0);
    // Now, plus a moment: an order placed in this very millisecond counts.
    let to = to.unwrap_or(now.0.saturating_add(1));
    if from >= to {
        return Err(Invalid::new("from", "must be before to"));
    }
    Ok((UnixMs(from), UnixMs(to)))
}

/// The currency a report counts: the one asked for, else the scope's most used (the store
/// lists them most orders first), else `fallback`.
pub fn currency(asked: Option<Currency>, used: &[Currency], fallback: Currency) -> Currency {
    asked.or_else(|| used.first().copied()).unwrap_or(fallback)
}

/// `amount ÷ count`, rounded down (0 when there is nothing to divide by).
pub fn mean(amount: i64, count: i64) -> i64 {
    if count <= 0 { 0 } else { amount.div_euclid(count) }
}

/// `count` per minute of `ms`: `count × 60,000 ÷ ms`.
pub fn per_minute(count: i64, ms: i64) -> Rate {
    Rate::new(count.saturating_mul(MINUTE_MS), ms)
}

pub fn commission(a: &Aggregates, currency: Currency) -> CommissionFigures {
    let m = |amount| Money::new(amount, currency);
    CommissionFigures {
        accrued: m(a.accrued),
        reversed: m(a.reversed),
        settled: m(a.settled),
        owed: m(a.accrued - a.reversed - a.settled),
        net: m(a.accrued - a.reversed),
    }
}

/// Every figure of docs/metrics.md for one group.
pub fn figures(a: &Aggregates, currency: Currency) -> Figures {
    let m = |amount| Money::new(amount, currency);
    let engaged = a.comments.saturating_add(a.reactions);
    Figures {
        gmv: m(a.gmv),
        net_gmv: m(a.gmv - a.refunded),
        refunded: m(a.refunded),
        discount: m(a.discount),
        orders: a.orders,
        units: a.units,
        aov: m(mean(a.gmv, a.orders)),
        buyers: a.buyers,
        new_buyers: a.new_buyers,
        repeat_buyers: a.repeat_buyers,
        repeat_buyer_rate: Rate::new(a.repeat_buyers, a.buyers),
        promo_redemptions: a.promo_orders,
        unique_viewers: a.unique_viewers,
        peak_viewers: a.peak_viewers,
        watch_ms: a.watch_ms,
        average_watch_ms: mean(a.watch_ms, a.unique_viewers),
        comments: a.comments,
        reactions: a.reactions,
        conversion_rate: Rate::new(a.buyers, a.unique_viewers),
        engagement_rate: Rate::new(engaged, a.unique_viewers),
        engagement_per_viewer_minute: per_minute(engaged, a.watch_ms),
        pin_impressions: a.pin_impressions,
        product_views: a.product_views,
        click_through_rate: Rate::new(a.product_views, a.pin_impressions),
        cart_adders: a.cart_adders,
        cart_add_rate: Rate::new(a.cart_adders, a.unique_viewers),
        checkouts_started: a.checkouts_started,
        checkouts_paid: a.checkouts_paid,
        checkout_success_rate: Rate::new(a.checkouts_paid, a.checkouts_started),
        pinned_ms: a.pinned_ms,
        orders_while_pinned: a.orders_while_pinned,
        sales_velocity: per_minute(a.orders_while_pinned, a.pinned_ms),
        drops: a.drops,
        drop_units: a.drop_units,
        drop_ms: a.drop_ms,
        drop_velocity: per_minute(a.drop_units, a.drop_ms),
        drops_sold_out: a.drops_sold_out,
        sell_out_ms: (a.drops_sold_out > 0).then(|| mean(a.sell_out_ms_total, a.drops_sold_out)),
        commission: commission(a, currency),
    }
}

/// The product figures of one product.
pub fn product_figures(
    product: crate::domain::ProductId,
    title: String,
    a: &Aggregates,
    currency: Currency,
) -> ProductFigures {
    let f = figures(a, currency);
    ProductFigures {
        product_id: product,
        title,
        gmv: f.gmv,
        net_gmv: f.net_gmv,
        refunded: f.refunded,
        discount: f.discount,
        orders: f.orders,
        units: f.units,
        aov: f.aov,
        buyers: f.buyers,
        pin_impressions: f.pin_impressions,
        product_views: f.product_views,
        click_through_rate: f.click_through_rate,
        cart_adders: f.cart_adders,
        pinned_ms: f.pinned_ms,
        orders_while_pinned: f.orders_while_pinned,
        sales_velocity: f.sales_velocity,
        drop_units: f.drop_units,
        drop_velocity: f.drop_velocity,
        commission: f.commission,
    }
}

/// `this ÷ base` of two rates, as an exact fraction: (a/b) ÷ (c/d) = (a·d) ÷ (b·c),
/// reduced. Its denominator is 0 (no value) when either rate has none, or the base is 0.
/// Terms too large for 64 bits after reducing are scaled down together (the value stays
/// within rounding of the exact one).
pub fn ratio(this: &Rate, base: &Rate) -> Rate {
    let mut n = i128::from(this.numerator) * i128::from(base.denominator);
    let mut d = i128::from(this.denominator) * i128::from(base.numerator);
    if this.denominator == 0 || base.denominator == 0 || d == 0 {
        return Rate::new(0, 0);
    }
    if d < 0 {
        (n, d) = (-n, -d);
    }
    let g = gcd(n.unsigned_abs(), d.unsigned_abs());
    if g > 1 {
        (n, d) = (n / g as i128, d / g as i128);
    }
    while n.unsigned_abs() > i64::MAX as u128 || d > i128::from(i64::MAX) {
        (n, d) = (n / 2, (d / 2).max(1));
    }
    Rate::new(n as i64, d as i64)
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// This scope against the creator's baseline (the same figures over `rooms`).
pub fn uplift(this: &Aggregates, baseline: &Aggregates, rooms: Vec<crate::domain::RoomId>) -> Uplift {
    let velocity = |a: &Aggregates| per_minute(a.orders_while_pinned, a.pinned_ms);
    let conversion = |a: &Aggregates| Rate::new(a.buyers, a.unique_viewers);
    Uplift {
        baseline_rooms: rooms,
        sales_velocity: ratio(&velocity(this), &velocity(baseline)),
        conversion_rate: ratio(&conversion(this), &conversion(baseline)),
        baseline_sales_velocity: velocity(baseline),
        baseline_conversion_rate: conversion(baseline),
    }
}

/// What the sales of `a` cost the brand: their net commission plus `flat_fees`, and what
/// that bought.
pub fn cost(a: &Aggregates, flat_fees: i64, currency: Currency) -> CostFigures {
    let cost = (a.accrued - a.reversed).saturating_add(flat_fees);
    let net_gmv = a.gmv - a.refunded;
    CostFigures {
        flat_fees: Money::new(flat_fees, currency),
        cost: Money::new(cost, currency),
        roi: Rate::new(net_gmv - cost, cost),
        cost_per_new_buyer: (a.new_buyers > 0).then(|| Money::new(mean(cost, a.new_buyers), currency)),
    }
}

pub fn promo_figures(rows: Vec<CodeUses>, currency: Currency) -> Vec<PromoFigures> {
    rows.into_iter()
        .map(|r| PromoFigures {
            code_id: r.code_id,
            code: r.code,
            creator_id: r.creator,
            redemptions: r.redemptions,
            gmv: Money::new(r.gmv, currency),
            discount: Money::new(r.discount, currency),
        })
        .collect()
}

/// Compares two rates by value, exactly; a rate without a value is below every other.
pub fn cmp_rates(a: &Rate, b: &Rate) -> Ordering {
    match (a.denominator == 0, b.denominator == 0) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => {
            // a/b vs c/d with positive denominators: a·d vs c·b.
            let norm = |r: &Rate| {
                let s = if r.denominator < 0 { -1 } else { 1 };
                (i128::from(r.numerator) * s, i128::from(r.denominator) * s)
            };
            let ((an, ad), (bn, bd)) = (norm(a), norm(b));
            (an * bd).cmp(&(bn * ad))
        }
    }
}

/// Orders creator rows by `sort`, highest first; ties (and rates without a value, last)
/// by creator id.
pub fn sort_creators(rows: &mut [CreatorRow], sort: CreatorSort) {
    rows.sort_by(|a, b| {
        let by = match sort {
            CreatorSort::NetGmv => b.figures.net_gmv.amount.cmp(&a.figures.net_gmv.amount),
            CreatorSort::Aov => b.figures.aov.amount.cmp(&a.figures.aov.amount),
            CreatorSort::ConversionRate => cmp_rates(&b.figures.conversion_rate, &a.figures.conversion_rate),
            CreatorSort::SalesVelocity => cmp_rates(&b.figures.sales_velocity, &a.figures.sales_velocity),
            CreatorSort::Roi => cmp_rates(&b.cost.roi, &a.cost.roi),
        };
        by.then(a.creator.id.cmp(&b.creator.id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountId, Tier};
    use crate::wire::report::CreatorSummary;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::try_from("EUR").unwrap()
    }

    #[test]
    fn a_period_is_the_beginning_to_now_by_default_and_never_empty() {
        let now = UnixMs(1_000);
        assert_eq!(period(None, None, now), Ok((UnixMs(0), UnixMs(1_001))));
        assert_eq!(period(Some(5), Some(10), now), Ok((UnixMs(5), UnixMs(10))));
        assert!(period(Some(10), Some(10), now).is_err());
        assert!(period(Some(-1), None, now).is_err());
        assert!(period(None, Some(MAX_TIME + 1), now).is_err());
        assert!(period(Some(2_000), None, now).is_err());
    }

    #[test]
    fn the_currency_is_the_asked_one_else_the_most_used_else_the_fallback() {
        let usd = Currency::try_from("USD").unwrap();
        assert_eq!(currency(Some(usd), &[eur()], eur()), usd);
        assert_eq!(currency(None, &[usd, eur()], eur()), usd);
        assert_eq!(currency(None, &[], eur()), eur());
    }

    #[test]
    fn averages_round_down_and_are_zero_without_a_divisor() {
        assert_eq!(mean(2_999, 2), 1_499);
        assert_eq!(mean(10, 0), 0);
    }

    #[test]
    fn figures_follow_the_formulas() {
        let a = Aggregates {
            gmv: 10_000,
            refunded: 1_500,
            orders: 3,
            buyers: 2,
            repeat_buyers: 1,
            unique_viewers: 40,
            watch_ms: 1_200_000,
            comments: 7,
            reactions: 13,
            pin_impressions: 90,
            product_views: 9,
            cart_adders: 4,
            checkouts_started: 5,
            checkouts_paid: 3,
            pinned_ms: 90_000,
            orders_while_pinned: 3,
            drops: 1,
            drop_units: 10,
            drop_ms: 30_000,
            drops_sold_out: 1,
            sell_out_ms_total: 30_000,
            accrued: 1_000,
            reversed: 150,
            settled: 200,
            ..Aggregates::default()
        };
        let f = figures(&a, eur());
        assert_eq!(f.net_gmv.amount, 8_500);
        assert_eq!(f.aov.amount, 3_333);
        assert_eq!(f.conversion_rate, Rate::new(2, 40));
        assert_eq!(f.conversion_rate.value.as_deref(), Some("0.0500"));
        assert_eq!(f.engagement_rate.value.as_deref(), Some("0.5000"));
        assert_eq!(f.engagement_per_viewer_minute.value.as_deref(), Some("1.0000"));
        assert_eq!(f.average_watch_ms, 30_000);
        assert_eq!(f.click_through_rate.value.as_deref(), Some("0.1000"));
        assert_eq!(f.cart_add_rate.value.as_deref(), Some("0.1000"));
        assert_eq!(f.checkout_success_rate.value.as_deref(), Some("0.6000"));
        assert_eq!(f.sales_velocity.value.as_deref(), Some("2.0000"));
        assert_eq!(f.drop_velocity.value.as_deref(), Some("20.0000"));
        assert_eq!(f.sell_out_ms, Some(30_000));
        assert_eq!(f.repeat_buyer_rate.value.as_deref(), Some("0.5000"));
        assert_eq!(f.commission.owed.amount, 650);
        assert_eq!(f.commission.net.amount, 850);
    }

    #[test]
    fn an_empty_scope_has_no_rate_values_and_no_sell_out() {
        let f = figures(&Aggregates::default(), eur());
        assert_eq!(f.conversion_rate.value, None);
        assert_eq!(f.sales_velocity.value, None);
        assert_eq!(f.sell_out_ms, None);
        assert_eq!(f.aov.amount, 0);
    }

    #[test]
    fn uplift_is_this_over_the_baseline() {
        let this = Aggregates {
            buyers: 6,
            unique_viewers: 50,
            orders_while_pinned: 6,
            pinned_ms: 120_000,
            ..Default::default()
        };
        let base = Aggregates {
            buyers: 10,
            unique_viewers: 100,
            orders_while_pinned: 10,
            pinned_ms: 600_000,
            ..Default::default()
        };
        let u = uplift(&this, &base, vec![]);
        assert_eq!(u.conversion_rate.value.as_deref(), Some("1.2000"));
        assert_eq!(u.sales_velocity.value.as_deref(), Some("3.0000"));
        let none = uplift(&this, &Aggregates::default(), vec![]);
        assert_eq!(none.conversion_rate.value, None);
    }

    #[test]
    fn cost_is_net_commission_and_fees_and_roi_is_what_it_returned() {
        let a = Aggregates {
            gmv: 12_000,
            refunded: 2_000,
            accrued: 1_200,
            reversed: 200,
            new_buyers: 3,
            ..Default::default()
        };
        let c = cost(&a, 1_500, eur());
        assert_eq!(c.cost.amount, 2_500);
        assert_eq!(c.roi, Rate::new(7_500, 2_500));
        assert_eq!(c.roi.value.as_deref(), Some("3.0000"));
        assert_eq!(c.cost_per_new_buyer.map(|m| m.amount), Some(833));
        assert_eq!(cost(&Aggregates::default(), 0, eur()).roi.value, None);
    }

    fn row(id: i64, conversion: (i64, i64), aov: i64) -> CreatorRow {
        let a = Aggregates {
            buyers: conversion.0,
            unique_viewers: conversion.1,
            gmv: aov,
            orders: 1,
            ..Default::default()
        };
        CreatorRow {
            creator: CreatorSummary {
                id: AccountId::try_from(id).unwrap(),
                display_name: String::new(),
                followers: 0,
                tier: Tier::Nano,
            },
            rooms: 1,
            figures: figures(&a, eur()),
            cost: cost(&a, 0, eur()),
        }
    }

    #[test]
    fn creators_sort_highest_first_with_no_value_last_and_ties_by_id() {
        let mut rows = vec![row(1, (1, 3), 500), row(2, (0, 0), 900), row(3, (2, 5), 500), row(4, (1, 3), 100)];
        sort_creators(&mut rows, CreatorSort::ConversionRate);
        let ids: Vec<i64> = rows.iter().map(|r| r.creator.id.get()).collect();
        assert_eq!(ids, [3, 1, 4, 2]);
        sort_creators(&mut rows, CreatorSort::Aov);
        let ids: Vec<i64> = rows.iter().map(|r| r.creator.id.get()).collect();
        assert_eq!(ids, [2, 1, 3, 4]);
    }

    proptest! {
        /// A rate's value is the exact fraction rounded half away from zero: within half a
        /// unit of the last decimal, and on the far side only at exactly half.
        #[test]
        fn values_are_the_exact_fraction_rounded(n in -1_000_000_000i64..1_000_000_000, d in 1i64..1_000_000_000) {
            let value = Rate::new(n, d).value.unwrap();
            let negative = value.starts_with('-');
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            let shown = digits.parse::<i128>().unwrap() * if negative { -1 } else { 1 };
            // shown/10^4 vs n/d: |shown·d − n·10^4| ≤ d/2.
            let err = (shown * i128::from(d) - i128::from(n) * 10_000).abs();
            prop_assert!(2 * err <= i128::from(d), "{n}/{d} shown as {value}");
        }

        /// Comparing rates agrees with comparing their exact values.
        #[test]
        fn rates_compare_exactly(a in 0i64..1_000, b in 1i64..1_000, c in 0i64..1_000, d in 1i64..1_000) {
            let exact = (i128::from(a) * i128::from(d)).cmp(&(i128::from(c) * i128::from(b)));
            prop_assert_eq!(cmp_rates(&Rate::new(a, b), &Rate::new(c, d)), exact);
        }

        /// The ratio of two rates is exactly the quotient of their values.
        #[test]
        fn ratios_are_exact(a in 0i64..1_000_000, b in 1i64..1_000_000, c in 1i64..1_000_000, d in 1i64..1_000_000) {
            let r = ratio(&Rate::new(a, b), &Rate::new(c, d));
            prop_assert_eq!(i128::from(r.numerator) * i128::from(b) * i128::from(c), i128::from(a) * i128::from(d) * i128::from(r.denominator));
        }
    }
}
