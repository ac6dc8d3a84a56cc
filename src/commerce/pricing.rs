//! What things cost in a room right now: the drop price while the room's drop of that
//! product runs, the catalogue price otherwise.

use super::Storefront;
use super::cart::Cart;
use crate::domain::{DropId, Money, ProductId, UnixMs};
use crate::wire::ws::{CartLineView, CartView};

/// The price of one unit of `product` in `room` now, and the drop it is sold through.
pub fn unit_price(shop: &Storefront<'_>, product: ProductId, now: UnixMs) -> Option<(Money, Option<DropId>)> {
    let p = shop.product(product)?;
    let drop = shop.drop.as_ref().filter(|d| d.product_id == product && d.ends_at > now);
    Some(match drop {
        Some(d) => (d.price, Some(d.id)),
        None => (Money::new(p.price, p.currency), None),
    })
}

pub fn cart_view(shop: &Storefront<'_>, cart: &Cart, now: UnixMs) -> CartView {
    let lines: Vec<CartLineView> = cart
        .lines
        .iter()
        .filter_map(|(product, q)| {
            let (price, _) = unit_price(shop, *product, now)?;
            let quantity = i64::from(*q);
            Some(CartLineView {
                product_id: *product,
                title: shop.product(*product)?.title.clone(),
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
