use super::{Cart, CartChange, CartError, Carts};
use crate::domain::{AccountId, RoomId};
use async_trait::async_trait;
use dashmap::DashMap;

#[derive(Default)]
pub struct MemoryCarts {
    carts: DashMap<(RoomId, AccountId), Cart>,
}

#[async_trait]
impl Carts for MemoryCarts {
    async fn get(&self, room: RoomId, buyer: AccountId) -> Result<Cart, CartError> {
        Ok(self.carts.get(&(room, buyer)).map(|c| c.clone()).unwrap_or_default())
    }

    async fn update(&self, room: RoomId, buyer: AccountId, change: CartChange) -> Result<Cart, CartError> {
        let mut cart = self.carts.entry((room, buyer)).or_default();
        let mut next = cart.clone();
        next.apply(change)?;
        *cart = next.clone();
        Ok(next)
    }

    async fn clear(&self, room: RoomId, buyer: AccountId) -> Result<(), CartError> {
        self.carts.remove(&(room, buyer));
        Ok(())
    }
}
