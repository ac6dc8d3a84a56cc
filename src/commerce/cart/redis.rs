//! Carts in Redis, one hash per buyer and room (product → quantity, plus a version), with
//! a durable copy in the database.
//!
//! Changes are applied by [`Cart::apply`] and written back only if nobody changed the
//! cart meanwhile (compare-and-set on the version), so the rules live in one place. After
//! every change the whole cart is saved to the database with its version (newest wins),
//! and a cart Redis no longer has (a restart without persistence, a flush) is restored
//! from there on first use: a buyer keeps their cart when Redis loses it, as their holds.
//! A buyer with no saved cart gets an empty hash (the version alone), so looking for one
//! costs the database once, not on every join; clearing a cart after an order leaves
//! that empty hash too.
//!
//! The key, `cart:ROOM:BUYER`, has no hash tag: every command and script touches one
//! cart alone, so on a Redis Cluster carts spread over every master.

use super::{Cart, CartChange, CartError, Carts};
use crate::domain::{AccountId, Clock, ProductId, Quantity, RoomId};
use crate::redis::Redis;
use crate::store::Store;
use async_trait::async_trait;
use redis::{AsyncCommands, Script};
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

/// KEYS: cart. ARGV: expected version, ttl, then product / quantity pairs.
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

/// KEYS: cart. ARGV: version, ttl, then product / quantity pairs. Puts a saved cart back
/// unless the key exists again meanwhile.
static RESTORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"#,
    )
});

/// KEYS: cart. ARGV: ttl. Empties the cart and moves its version on, keeping the key: the
/// buyer's next add then finds an empty cart in Redis instead of asking the database
/// whether one was saved (a round trip to each, per order, for a buyer who buys again).
static CLEAR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', v + 1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
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
    /// The durable copy.
    store: Store,
    clock: Clock,
}

fn lines_json(cart: &Cart) -> String {
    let lines: BTreeMap<String, i64> = cart.lines.iter().map(|(p, q)| (p.get().to_string(), i64::from(*q))).collect();
    serde_json::to_string(&lines).unwrap_or_else(|_| "{}".into())
}

/// Lines as the database saved them; anything unreadable is left out.
fn parse_lines(json: &str) -> Cart {
    let raw: BTreeMap<String, i64> = serde_json::from_str(json).unwrap_or_default();
    Cart { lines: raw.into_iter().filter_map(|(p, q)| line(&p, q)).collect() }
}

fn line(product: &str, quantity: i64) -> Option<(ProductId, Quantity)> {
    let product = ProductId::try_from(product.parse::<i64>().ok()?).ok()?;
    Some((product, Quantity::try_from(quantity).ok()?))
}

impl RedisCarts {
    pub fn new(redis: Redis, store: Store, clock: Clock) -> Self {
        Self { redis, store, clock }
    }

    fn key(&self, room: RoomId, buyer: AccountId) -> String {
        self.redis.key(&format!("cart:{room}:{buyer}"))
    }

    /// The cart and its version, restored from the database when Redis has none.
    async fn read(&self, room: RoomId, buyer: AccountId) -> Result<(i64, Cart), CartError> {
        let key = self.key(room, buyer);
        for _ in 0..2 {
            let fields: HashMap<String, String> = self.redis.conn().hgetall(&key).await?;
            if let Some(version) = fields.get("v").and_then(|v| v.parse::<i64>().ok()) {
                let cart = Cart { lines: fields.iter().filter_map(|(p, q)| line(p, q.parse().ok()?)).collect() };
                return Ok((version, cart));
            }
            let (saved, version) = match self.store.saved_cart(room, buyer).await? {
                Some((json, version)) => (parse_lines(&json), version),
                None => (Cart::default(), 0),
            };
            let mut restore = RESTORE.key(&key);
            restore.arg(version).arg(CART_TTL_SECS);
            for (product, q) in &saved.lines {
                restore.arg(product.get()).arg(i64::from(*q));
            }
            if restore.invoke_async::<i64>(&mut self.redis.conn()).await? == 1 {
                return Ok((version, saved));
            }
            // Another change put the cart back first: read what it wrote.
        }
        Err(CartError::Busy)
    }
}

#[async_trait]
impl Carts for RedisCarts {
    async fn get(&self, room: RoomId, buyer: AccountId) -> Result<Cart, CartError> {
        Ok(self.read(room, buyer).await?.1)
    }

    async fn update(&self, room: RoomId, buyer: AccountId, change: CartChange) -> Result<Cart, CartError> {
        let key = self.key(room, buyer);
        for _ in 0..ATTEMPTS {
            let (version, mut cart) = self.read(room, buyer).await?;
            cart.apply(change)?;
            let mut swap = SWAP.key(&key);
            swap.arg(version.to_string()).arg(CART_TTL_SECS);
            for (product, q) in &cart.lines {
                swap.arg(product.get()).arg(i64::from(*q));
            }
            let swapped: i64 = swap.invoke_async(&mut self.redis.conn()).await?;
            if swapped == 1 {
                self.store.save_cart(room, buyer, &lines_json(&cart), version + 1, self.clock.now()).await?;
                return Ok(cart);
            }
        }
        Err(CartError::Busy)
    }

    async fn clear(&self, room: RoomId, buyer: AccountId) -> Result<(), CartError> {
        self.store.empty_saved_cart(room, buyer, self.clock.now()).await?;
        let mut clear = CLEAR.key(self.key(room, buyer));
        clear.arg(CART_TTL_SECS);
        Ok(clear.invoke_async::<i64>(&mut self.redis.conn()).await.map(drop)?)
    }
}
