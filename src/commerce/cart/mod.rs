//! A viewer's cart in one room. The memory backend serves one node; the Redis backend
//! (shared by every node) implements the same trait.

mod memory;
mod redis;

pub use memory::MemoryCarts;
pub use redis::RedisCarts;

use super::pricing::cart_view;
use super::{Commerce, CommerceError, Storefront};
use crate::analytics::{Event, Who};
use crate::domain::{AccountId, Invalid, ProductId, Quantity, RoomId};
use crate::redis::RedisError;
use crate::store::AccountRow;
use crate::wire::ws::CartView;
use async_trait::async_trait;
use std::collections::BTreeMap;

/// A cart holds at most this many different products, so a cart (and its checkout)
/// stays a bounded amount of work.
pub const MAX_CART_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("a cart holds at most {MAX_CART_LINES} products")]
    TooManyLines,
    /// Several changes to one cart kept racing (scaled out, a compare-and-set lost).
    #[error("the cart is changing too fast; try again")]
    Busy,
    #[error("redis carts")]
    Redis(#[from] RedisError),
    #[error("saved carts")]
    Store(#[from] crate::store::StoreError),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    pub lines: BTreeMap<ProductId, Quantity>,
}

#[derive(Debug, Clone, Copy)]
pub enum CartChange {
    Add(ProductId, Quantity),
    Set(ProductId, Quantity),
    Remove(ProductId),
}

impl Cart {
    /// Applies a change, or refuses it and leaves the cart as it was.
    pub fn apply(&mut self, change: CartChange) -> Result<(), CartError> {
        let (product, quantity) = match change {
            CartChange::Remove(product) => {
                self.lines.remove(&product);
                return Ok(());
            }
            CartChange::Set(product, q) => (product, q),
            CartChange::Add(product, q) => {
                let current = self.lines.get(&product).map_or(0, |q| i64::from(*q));
                (product, Quantity::try_from(current + i64::from(q))?)
            }
        };
        if !self.lines.contains_key(&product) && self.lines.len() >= MAX_CART_LINES {
            return Err(CartError::TooManyLines);
        }
        self.lines.insert(product, quantity);
        Ok(())
    }
}

#[async_trait]
pub trait Carts: Send + Sync + 'static {
    async fn get(&self, room: RoomId, buyer: AccountId) -> Result<Cart, CartError>;
    async fn update(&self, room: RoomId, buyer: AccountId, change: CartChange) -> Result<Cart, CartError>;
    async fn clear(&self, room: RoomId, buyer: AccountId) -> Result<(), CartError>;
}

impl Commerce {
    /// Changes a buyer's cart in a room: only products the room lines up.
    pub async fn change_cart(
        &self,
        shop: &Storefront<'_>,
        buyer: &AccountRow,
        change: CartChange,
    ) -> Result<CartView, CommerceError> {
        let product = match change {
            CartChange::Add(p, _) | CartChange::Set(p, _) | CartChange::Remove(p) => p,
        };
        if shop.product(product).is_none() {
            return Err(CommerceError::NotInLineup);
        }
        let cart = self.carts.update(shop.room, buyer.id, change).await?;
        if let CartChange::Add(product, quantity) = change {
            let who = Who::account(buyer.id);
            let quantity = i64::from(quantity);
            self.analytics.record(Event::CartAdded { room: shop.room, who, product, quantity });
        }
        Ok(cart_view(shop, &cart, self.clock.now()))
    }

    /// The buyer's cart in the room, priced as of now.
    pub async fn cart(&self, shop: &Storefront<'_>, buyer: &AccountRow) -> Result<CartView, CommerceError> {
        let cart = self.carts.get(shop.room, buyer.id).await?;
        Ok(cart_view(shop, &cart, self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: i64) -> ProductId {
        ProductId::try_from(id).unwrap()
    }

    fn q(n: i64) -> Quantity {
        Quantity::try_from(n).unwrap()
    }

    #[test]
    fn adding_past_the_line_limit_changes_nothing() {
        let mut cart = Cart::default();
        cart.apply(CartChange::Add(p(1), q(90))).unwrap();
        assert!(cart.apply(CartChange::Add(p(1), q(10))).is_err());
        assert_eq!(cart.lines[&p(1)], q(90));
    }

    #[test]
    fn a_cart_holds_a_bounded_number_of_products() {
        let mut cart = Cart::default();
        for id in 1..=MAX_CART_LINES as i64 {
            cart.apply(CartChange::Set(p(id), q(1))).unwrap();
        }
        assert!(cart.apply(CartChange::Set(p(999), q(1))).is_err());
        assert!(cart.apply(CartChange::Set(p(1), q(2))).is_ok());
    }
}
