//! What a creator earns on a line: basis points of the price actually paid plus a flat
//! amount per unit, rounded down, never more than the line itself.

pub fn commission(line_total: i64, quantity: i64, bps: i64, flat_per_unit: i64) -> i64 {
    let rate = line_total.saturating_mul(bps) / 10_000;
    rate.saturating_add(flat_per_unit.saturating_mul(quantity)).min(line_total)
}

#[cfg(test)]
mod tests {
    use super::commission;

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
}
