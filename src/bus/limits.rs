//! Rate limits shared by every node: a token bucket per key (today, a viewer's comments
//! in a room), so a viewer cannot multiply their allowance by connecting to several nodes.

use super::BusError;
use crate::domain::{RateLimit, TokenBucket, UnixMs};
use crate::redis::Redis;
use async_trait::async_trait;
use dashmap::DashMap;
use redis::Script;
use std::sync::LazyLock;

#[async_trait]
pub trait RateLimits: Send + Sync + 'static {
    /// Takes one token for `key`; false when the caller must slow down.
    async fn allow(&self, key: &str, limit: RateLimit, now: UnixMs) -> Result<bool, BusError>;
}

/// Buckets kept before the full ones (which hold nothing a new bucket would not) are
/// forgotten.
const MEMORY_BUCKETS: usize = 10_000;

#[derive(Default)]
pub struct MemoryRateLimits {
    buckets: DashMap<String, TokenBucket>,
}

#[async_trait]
impl RateLimits for MemoryRateLimits {
    async fn allow(&self, key: &str, limit: RateLimit, now: UnixMs) -> Result<bool, BusError> {
        if self.buckets.len() > MEMORY_BUCKETS {
            self.buckets.retain(|_, b| !b.is_full(limit, now));
        }
        Ok(self.buckets.entry(key.to_owned()).or_insert_with(|| TokenBucket::full(limit, now)).try_take(limit, now))
    }
}

/// The same bucket arithmetic as [`TokenBucket`], in one script so nodes cannot race.
static BUCKET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local burst = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(b[1]) or burst
local updated = tonumber(b[2]) or now
local periods = math.floor(math.max(0, now - updated) / refill)
if periods > 0 then
  tokens = math.min(burst, tokens + periods)
  updated = updated + periods * refill
end
local ok = 0
if tokens > 0 then tokens = tokens - 1; ok = 1 end
redis.call('HSET', KEYS[1], 't', tokens, 'u', updated)
redis.call('PEXPIRE', KEYS[1], burst * refill + refill)
return ok
"#,
    )
});

/// Key `rate:{key}`: a hash of tokens and the time of the last refill.
pub struct RedisRateLimits {
    redis: Redis,
}

impl RedisRateLimits {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }
}

#[async_trait]
impl RateLimits for RedisRateLimits {
    async fn allow(&self, key: &str, limit: RateLimit, now: UnixMs) -> Result<bool, BusError> {
        let ok: i64 = BUCKET
            .key(self.redis.key(&format!("rate:{key}")))
            .arg(limit.burst)
            .arg(limit.refill_ms)
            .arg(now.0)
            .invoke_async(&mut self.redis.conn())
            .await?;
        Ok(ok == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::testing;

    async fn each(check: impl AsyncFn(&dyn RateLimits)) {
        check(&MemoryRateLimits::default()).await;
        if let Some(r) = testing::redis().await {
            check(&RedisRateLimits::new(r.redis.clone())).await;
        }
    }

    #[tokio::test]
    async fn a_burst_is_allowed_then_one_more_per_refill_period() {
        each(async |limits: &dyn RateLimits| {
            let limit = RateLimit { burst: 3, refill_ms: 1_000 };
            let at = |ms: i64| UnixMs(1_800_000_000_000 + ms);
            for _ in 0..3 {
                assert!(limits.allow("v", limit, at(0)).await.unwrap());
            }
            assert!(!limits.allow("v", limit, at(999)).await.unwrap());
            assert!(limits.allow("other", limit, at(999)).await.unwrap(), "buckets are per key");
            assert!(limits.allow("v", limit, at(1_000)).await.unwrap());
            assert!(!limits.allow("v", limit, at(1_500)).await.unwrap());
        })
        .await;
    }
}
