//! Inventory in Redis, shared by every node: the same hold book as the memory backend,
//! with each operation one Lua script, so checking and taking stock cannot race.
//!
//! Keys, all under one hash tag (`<prefix>{inventory}:…`): `stock:{k}` (units available
//! to hold), `held:{k}` (units held), `hold:{id}` (a hash of key → units, plus
//! `expires`), `holds` (hold ids by expiry, for the sweep), `version:{k}` (the product's
//! `card_version` that `stock:{k}` was last counted from the database with),
//! `adjusted:{id}` (a stock adjustment made, for a day, so it is made once) and `ready`,
//! the marker that Redis's inventory has been rebuilt since it was last empty.
//!
//! One tag for the whole hold book, not one per product: a hold takes every line of a
//! checkout (products and drops alike) in one script, together with the book's index and
//! marker, so on a Redis Cluster they must all be in one slot, and the scripts name keys
//! from the book's prefix. The book is small (two counters per product on sale, one hash
//! per checkout in flight), and one master runs tens of thousands of hold scripts a
//! second; room state, carts and claims, the bulk of the traffic, spread over the masters.
//!
//! PostgreSQL is the source of truth. When Redis comes back empty (restart, flush), the
//! first node to notice restores every live hold from the placed orders in the database,
//! then each stock key is re-created on first use as units on hand less units held; the
//! stock adjustments not yet made are in those counts, so the rebuild takes them as made.
//! Nothing restocks from key-expiry notifications: the sweep releases expired holds.

use super::{Inventory, InventoryError, UNVERSIONED};
use crate::commerce::holds::{Left, Shortfall, StockKey};
use crate::domain::{Clock, DropId, ProductId, UnixMs};
use crate::redis::Redis;
use crate::store::{StockAdjustment, Store};
use crate::telemetry::timed;
use async_trait::async_trait;
use redis::{AsyncCommands, Script};
use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

/// Script result when Redis has lost its inventory and it must be restored first.
const NOT_READY: i64 = -2;
/// Script result when a stock key is missing and must be re-created from the database.
const MISSING: i64 = -1;

/// KEYS: ready marker, holds, hold; then stock keys; then held keys.
/// ARGV: hold id, expires at, then one quantity per stock key.
/// Returns {1, units left per stock key…} when held, else {code, key index, available}.
static HOLD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) ~= 'ready' then return {-2, 0, 0} end
local n = (#KEYS - 3) / 2
for i = 1, n do
  local available = redis.call('GET', KEYS[3 + i])
  if not available then return {-1, i, 0} end
  if tonumber(available) < tonumber(ARGV[2 + i]) then return {0, i, tonumber(available)} end
end
local left = {1}
for i = 1, n do
  left[i + 1] = redis.call('DECRBY', KEYS[3 + i], ARGV[2 + i])
  redis.call('INCRBY', KEYS[3 + n + i], ARGV[2 + i])
  redis.call('HSET', KEYS[3], KEYS[3 + i], ARGV[2 + i])
end
redis.call('HSET', KEYS[3], 'expires', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return left
"#,
    )
});

/// Gives a hold's units back (`give_back` = 1) or keeps them sold (0), and forgets it.
/// Stock keys are named inside the hold; their `held:` twins share the suffix.
const SETTLE_HOLD: &str = r#"
local function settle(hold_key, holds_key, id, prefix, give_back)
  local fields = redis.call('HGETALL', hold_key)
  if #fields == 0 then return 0 end
  for i = 1, #fields, 2 do
    if fields[i] ~= 'expires' then
      local suffix = string.sub(fields[i], #prefix + 7)
      if give_back == 1 then redis.call('INCRBY', fields[i], fields[i + 1]) end
      redis.call('DECRBY', prefix .. 'held:' .. suffix, fields[i + 1])
    end
  end
  redis.call('DEL', hold_key)
  redis.call('ZREM', holds_key, id)
  return 1
end
"#;

/// KEYS: hold, holds. ARGV: id, now, prefix. 1 = committed, 0 = unknown or expired.
static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{SETTLE_HOLD}
local expires = redis.call('HGET', KEYS[1], 'expires')
if not expires then return 0 end
if tonumber(expires) > tonumber(ARGV[2]) then return settle(KEYS[1], KEYS[2], ARGV[1], ARGV[3], 0) end
settle(KEYS[1], KEYS[2], ARGV[1], ARGV[3], 1)
return 0
"#
    ))
});

/// KEYS: hold, holds. ARGV: id, prefix.
static RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{SETTLE_HOLD}\nreturn settle(KEYS[1], KEYS[2], ARGV[1], ARGV[2], 1)\n")));

/// KEYS: holds. ARGV: now, prefix. Releases up to 500 expired holds; returns their ids.
static EXPIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{SETTLE_HOLD}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 500)
for _, id in ipairs(ids) do settle(ARGV[2] .. 'hold:' .. id, KEYS[1], id, ARGV[2], 1) end
return ids
"#
    ))
});

/// KEYS: ready marker, stock, the adjustment's marker, the count's version. ARGV: units
/// (negative: fewer), how long the marker lives (ms), the adjustment's version. The new
/// count, never below zero, or -1 when the key is not tracked; an adjustment whose marker
/// is there, or whose version the key was counted with (or before), is not made (again).
static ADJUST_ON_HAND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) ~= 'ready' then return -2 end
local available = redis.call('GET', KEYS[2])
local first = redis.call('SET', KEYS[3], 1, 'NX', 'PX', ARGV[2])
if not available then return -1 end
if not first then return tonumber(available) end
local counted = redis.call('GET', KEYS[4])
if counted and tonumber(ARGV[3]) <= tonumber(counted) then return tonumber(available) end
available = tonumber(available) + tonumber(ARGV[1])
if available < 0 then available = 0 end
redis.call('SET', KEYS[2], available)
return available
"#,
    )
});

/// How long Redis remembers that it made a stock adjustment: far longer than the sweeper
/// takes to ask again for one whose maker could not record that it was made.
const ADJUSTMENT_REMEMBERED: Duration = Duration::from_secs(24 * 3600);

/// KEYS: ready marker, stock, held, the count's version. ARGV: on hand, 'nx' to keep an
/// existing value, the product version on hand was read with.
static SET_ON_HAND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) ~= 'ready' then return -2 end
if ARGV[2] == 'nx' and redis.call('EXISTS', KEYS[2]) == 1 then return tonumber(redis.call('GET', KEYS[2])) end
local available = tonumber(ARGV[1]) - tonumber(redis.call('GET', KEYS[3]) or '0')
if available < 0 then available = 0 end
redis.call('SET', KEYS[2], available)
redis.call('SET', KEYS[4], ARGV[3])
return available
"#,
    )
});

/// KEYS: holds, hold. ARGV: id, expires, prefix, then key suffix / units pairs. Re-creates
/// a hold from the database unless it exists; the units count as held.
static RESTORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[3] .. 'stock:' .. ARGV[i], ARGV[i + 1])
  redis.call('INCRBY', ARGV[3] .. 'held:' .. ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[2], 'expires', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
"#,
    )
});

/// The hash tag of every key of the hold book.
const BOOK_TAG: &str = "inventory";

pub struct RedisInventory {
    redis: Redis,
    /// The source of truth the inventory is rebuilt from.
    store: Store,
    clock: Clock,
}

fn suffix(key: StockKey) -> String {
    match key {
        StockKey::Product(p) => format!("p{p}"),
        StockKey::Drop(d) => format!("d{d}"),
    }
}

impl RedisInventory {
    pub fn new(redis: Redis, store: Store, clock: Clock) -> Self {
        Self { redis, store, clock }
    }

    /// What every key of the hold book starts with; the scripts build keys from it.
    fn book(&self) -> String {
        self.redis.tagged(BOOK_TAG, "")
    }

    fn stock_key(&self, key: StockKey) -> String {
        self.redis.tagged(BOOK_TAG, &format!("stock:{}", suffix(key)))
    }

    fn held_key(&self, key: StockKey) -> String {
        self.redis.tagged(BOOK_TAG, &format!("held:{}", suffix(key)))
    }

    fn hold_key(&self, id: &str) -> String {
        self.redis.tagged(BOOK_TAG, &format!("hold:{id}"))
    }

    fn version_key(&self, key: StockKey) -> String {
        self.redis.tagged(BOOK_TAG, &format!("version:{}", suffix(key)))
    }

    fn holds_key(&self) -> String {
        self.redis.tagged(BOOK_TAG, "holds")
    }

    fn ready_key(&self) -> String {
        self.redis.tagged(BOOK_TAG, "ready")
    }

    /// Restores live holds from the database after Redis lost them. One node restores;
    /// the others wait for its marker.
    async fn restore(&self) -> Result<(), InventoryError> {
        let mut conn = self.redis.conn();
        for _ in 0..200 {
            let claimed: Option<String> = redis::cmd("SET")
                .arg(self.ready_key())
                .arg("restoring")
                .arg("NX")
                .arg("PX")
                .arg(30_000)
                .query_async(&mut conn)
                .await?;
            if claimed.is_some() {
                // Every stock key is counted from the database from here on, so the
                // adjustments made so far are in those counts and none is made again.
                self.store.adjustments_counted(None, self.clock.now()).await?;
                for hold in self.store.live_holds(self.clock.now()).await? {
                    let mut restore = RESTORE.key(self.holds_key());
                    restore
                        .key(self.hold_key(&hold.hold_id))
                        .arg(&hold.hold_id)
                        .arg(hold.expires_at.0)
                        .arg(self.book());
                    for line in &hold.lines {
                        if let Some(p) = line.product {
                            restore.arg(suffix(StockKey::Product(p))).arg(line.units);
                        }
                        if let Some(d) = line.drop {
                            restore.arg(suffix(StockKey::Drop(d))).arg(line.units);
                        }
                    }
                    restore.invoke_async::<i64>(&mut conn).await?;
                }
                conn.set::<_, _, ()>(self.ready_key(), "ready").await?;
                tracing::info!("inventory rebuilt in redis from the database");
                return Ok(());
            }
            let marker: Option<String> = conn.get(self.ready_key()).await?;
            if marker.as_deref() == Some("ready") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(InventoryError::RebuildTimedOut)
    }

    /// Units on hand for a key, from the database, with the version they were read with.
    async fn on_hand(&self, key: StockKey) -> Result<(i64, u64), InventoryError> {
        match key {
            StockKey::Product(p) => Ok(self.product_stock(p).await?),
            StockKey::Drop(d) => Ok((self.drop_remaining(d).await?, UNVERSIONED)),
        }
    }

    async fn product_stock(&self, p: ProductId) -> Result<(i64, u64), InventoryError> {
        Ok(self.store.product(p).await?.map_or((0, UNVERSIONED), |p| (p.stock, p.card_version)))
    }

    async fn drop_remaining(&self, d: DropId) -> Result<i64, InventoryError> {
        Ok(self.store.drop_remaining(d).await?.unwrap_or(0))
    }

    async fn write_on_hand(
        &self,
        key: StockKey,
        on_hand: i64,
        version: u64,
        keep: bool,
    ) -> Result<i64, InventoryError> {
        let keys = [self.ready_key(), self.stock_key(key), self.held_key(key), self.version_key(key)];
        let args = [on_hand.to_string(), if keep { "nx" } else { "" }.to_owned(), version.to_string()];
        self.when_ready(&SET_ON_HAND, &keys, &args).await
    }

    /// Runs `script`, whose first key is the ready marker, on an inventory that is ready:
    /// at once, or again once it has been restored.
    async fn when_ready(&self, script: &Script, keys: &[String], args: &[String]) -> Result<i64, InventoryError> {
        for _ in 0..2 {
            let mut invocation = script.prepare_invoke();
            for key in keys {
                invocation.key(key);
            }
            for arg in args {
                invocation.arg(arg);
            }
            let answer: i64 = invocation.invoke_async(&mut self.redis.conn()).await?;
            if answer != NOT_READY {
                return Ok(answer);
            }
            self.restore().await?;
        }
        Err(InventoryError::RebuildTimedOut)
    }
}

#[async_trait]
impl Inventory for RedisInventory {
    async fn track(&self, key: StockKey, on_hand: i64, version: u64) -> Result<i64, InventoryError> {
        self.write_on_hand(key, on_hand, version, true).await
    }

    async fn set_on_hand(&self, key: StockKey, on_hand: i64, version: u64) -> Result<i64, InventoryError> {
        self.write_on_hand(key, on_hand, version, false).await
    }

    async fn adjust_on_hand(&self, a: &StockAdjustment) -> Result<Option<i64>, InventoryError> {
        let marker = self.redis.tagged(BOOK_TAG, &format!("adjusted:{}", a.id));
        let product = StockKey::Product(a.product);
        let keys = [self.ready_key(), self.stock_key(product), marker, self.version_key(product)];
        let args = [a.units.to_string(), ADJUSTMENT_REMEMBERED.as_millis().to_string(), a.version.to_string()];
        let available = self.when_ready(&ADJUST_ON_HAND, &keys, &args).await?;
        Ok((available != MISSING).then_some(available))
    }

    async fn available(&self, key: StockKey) -> Result<Option<i64>, InventoryError> {
        let mut conn = self.redis.conn();
        Ok(conn.get(self.stock_key(key)).await?)
    }

    async fn hold(
        &self,
        id: &str,
        lines: &[(StockKey, i64)],
        expires_at: UnixMs,
    ) -> Result<Result<Left, Shortfall>, InventoryError> {
        let mut need: BTreeMap<String, (StockKey, i64)> = BTreeMap::new();
        for (key, units) in lines {
            need.entry(suffix(*key)).or_insert((*key, 0)).1 += units;
        }
        let need: Vec<(StockKey, i64)> = need.into_values().collect();
        for _ in 0..4 {
            let mut hold = HOLD.key(self.ready_key());
            hold.key(self.holds_key()).key(self.hold_key(id));
            for (key, _) in &need {
                hold.key(self.stock_key(*key));
            }
            for (key, _) in &need {
                hold.key(self.held_key(*key));
            }
            hold.arg(id).arg(expires_at.0);
            for (_, units) in &need {
                hold.arg(*units);
            }
            let mut conn = self.redis.conn();
            // {1, left per key…} when held; {code, index of the key, available} otherwise.
            let answer: Vec<i64> = timed("livecart_redis_seconds", "hold", hold.invoke_async(&mut conn)).await?;
            let at = |i: usize| answer.get(i).copied().unwrap_or(0);
            // The script numbers keys from 1, in the order of `need`.
            let key_at = |i: i64| need.get((i as usize).saturating_sub(1)).map(|(key, _)| *key);
            match (at(0), key_at(at(1))) {
                (1, _) => {
                    return Ok(Ok(need.iter().map(|(key, _)| *key).zip(answer.iter().skip(1).copied()).collect()));
                }
                (0, Some(key)) => return Ok(Err(Shortfall { key, available: at(2) })),
                (MISSING, Some(key)) => {
                    let (on_hand, version) = self.on_hand(key).await?;
                    self.write_on_hand(key, on_hand, version, true).await?;
                }
                _ => self.restore().await?,
            }
        }
        Err(InventoryError::KeysKeepVanishing)
    }

    async fn commit(&self, id: &str, now: UnixMs) -> Result<bool, InventoryError> {
        let mut conn = self.redis.conn();
        let committed: i64 = COMMIT
            .key(self.hold_key(id))
            .key(self.holds_key())
            .arg(id)
            .arg(now.0)
            .arg(self.book())
            .invoke_async(&mut conn)
            .await?;
        Ok(committed == 1)
    }

    async fn release(&self, id: &str) -> Result<bool, InventoryError> {
        let mut conn = self.redis.conn();
        let released: i64 = RELEASE
            .key(self.hold_key(id))
            .key(self.holds_key())
            .arg(id)
            .arg(self.book())
            .invoke_async(&mut conn)
            .await?;
        Ok(released == 1)
    }

    async fn expire(&self, now: UnixMs) -> Result<Vec<String>, InventoryError> {
        let mut conn = self.redis.conn();
        Ok(EXPIRE.key(self.holds_key()).arg(now.0).arg(self.book()).invoke_async(&mut conn).await?)
    }
}
