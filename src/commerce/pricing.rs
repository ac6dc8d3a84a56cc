//! What things cost in a room right now: the drop price while the room's drop of that
//! product runs, the catalogue price otherwise.

use super::Storefront;
use super::cart::Cart;
use crate::domain::{DropId, Money, UnixMs};
use crate::store::ProductRow;
use crate::wire::ws::{CartLineView, CartView, DropCard};

/// The price of one unit of `p` now, and the drop it is sold through: the drop's price
/// while `drop` (the room's running drop, if any) is of this product and has not ended.
pub fn unit_price(p: &ProductRow, drop: Option<&DropCard>, now: UnixMs) -> (Money, Option<DropId>) {
    match drop.filter(|d| d.product_id == p.id && d.ends_at > now) {
        Some(d) => (d.price, Some(d.id)),
        None => (Money::new(p.price, p.currency), None),
    }
}

pub fn cart_view(shop: &Storefront<'_>, cart: &Cart, now: UnixMs) -> CartView {
    let lines: Vec<CartLineView> = cart
        .lines
        .iter()
        .filter_map(|(product, q)| {
            let p = shop.product(*product)?;
            let (price, _) = unit_price(p, shop.drop.as_ref(), now);
            let quantity = i64::from(*q);
            Some(CartLineView {
                product_id: *product,
                title: p.title.clone(),
                quantity,
                unit_price: price,
                line_total: Money::new(price.amount * quantity, price.currency),
            })
        })
        .collect();
    let total = lines
        .first()
        .map(|first| Money::new(lines.iter().map(|l| l.line_total.amount).sum(), first.line_total.currency));
    CartView { lines, total }
}
