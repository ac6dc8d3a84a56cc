//! Carts in Redis, one hash per buyer and room (product → quantity, plus a version).
//! Changes are applied by [`Cart::apply`] and written back only if nobody changed the
//! cart meanwhile (compare-and-set on the version), so the rules live in one place.

use super::{Cart, CartChange, CartError, Carts};
use crate::domain::{AccountId, ProductId, Quantity, RoomId};
use crate::redis::Redis;
use async_trait::async_trait;
use redis::{AsyncCommands, Script};
use std::collections::HashMap;
use std::sync::LazyLock;

static SWAP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', tonumber(ARGV[1]) + 1)
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"#,
    )
});

/// A cart nobody touches for this long is forgotten.
const CART_TTL_SECS: u64 = 7 * 24 * 3600;
/// Attempts at a change that keeps losing races with the same buyer's other changes.
const ATTEMPTS: usize = 8;

pub struct RedisCarts {
    redis: Redis,
}

impl RedisCarts {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    fn key(&self, room: RoomId, buyer: AccountId) -> String {
        self.redis.key(&format!("cart:{room}:{buyer}"))
    }

    async fn read(&self, key: &str) -> Result<(String, Cart), CartError> {
        let mut conn = self.redis.conn();
        let fields: HashMap<String, String> = conn.hgetall(key).await?;
        let mut cart = Cart::default();
        for (field, value) in &fields {
            let (Ok(product), Ok(q)) = (field.parse::<i64>(), value.parse::<i64>()) else { continue };
            if let (Ok(product), Ok(q)) = (ProductId::try_from(product), Quantity::try_from(q)) {
                cart.lines.insert(product, q);
            }
        }
        Ok((fields.get("v").cloned().unwrap_or_else(|| "0".into()), cart))
    }
}

#[async_trait]
impl Carts for RedisCarts {
    async fn get(&self, room: RoomId, buyer: AccountId) -> Result<Cart, CartError> {
        Ok(self.read(&self.key(room, buyer)).await?.1)
    }

    async fn update(&self, room: RoomId, buyer: AccountId, change: CartChange) -> Result<Cart, CartError> {
        let key = self.key(room, buyer);
        for _ in 0..ATTEMPTS {
            let (version, mut cart) = self.read(&key).await?;
            cart.apply(change)?;
            let mut swap = SWAP.key(&key);
            swap.arg(&version).arg(CART_TTL_SECS);
            for (product, q) in &cart.lines {
                swap.arg(product.get()).arg(i64::from(*q));
            }
            let mut conn = self.redis.conn();
            let swapped: i64 = swap.invoke_async(&mut conn).await?;
            if swapped == 1 {
                return Ok(cart);
            }
        }
        Err(CartError::Busy)
    }

    async fn clear(&self, room: RoomId, buyer: AccountId) -> Result<(), CartError> {
        Ok(self.redis.conn().del::<_, ()>(self.key(room, buyer)).await?)
    }
}
