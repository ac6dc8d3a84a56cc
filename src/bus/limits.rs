//! Rate limits shared by every node: a token bucket per key (today, a viewer's comments
//! in a room), so a viewer cannot multiply their allowance by connecting to several nodes.

use super::BusError;
use crate::domain::{RateLimit, TokenBucket, UnixMs};
use crate::redis::Redis;
use async_trait::async_trait;
use dashmap::DashMap;
use redis::Script;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

#[async_trait]
pub trait RateLimits: Send + Sync + 'static {
    /// Takes one token for `key`; false when the caller must slow down.
    async fn allow(&self, key: &str, limit: RateLimit, now: UnixMs) -> Result<bool, BusError>;
}

/// Buckets kept before the first sweep of full ones (which hold nothing a new bucket
/// would not).
const FIRST_SWEEP: usize = 10_000;

/// Each key's bucket with the limit it is kept under: one map holds several kinds of
/// limit (comments, slow mode, bids), and whether a bucket is full depends on its own.
#[derive(Default)]
pub struct MemoryRateLimits {
    buckets: DashMap<String, (TokenBucket, RateLimit)>,
    /// Buckets held when the next sweep runs: twice what the last one left.
    sweep_at: AtomicUsize,
}

impl MemoryRateLimits {
    /// Forgets full buckets, once the buckets held have doubled since the last time, so
    /// an `allow` costs a constant on average however many keys there are.
    fn forget_full(&self, now: UnixMs) {
        if self.buckets.len() < self.sweep_at.load(Ordering::Relaxed).max(FIRST_SWEEP) {
            return;
        }
        self.buckets.retain(|_, (bucket, limit)| !bucket.is_full(*limit, now));
        self.sweep_at.store(2 * self.buckets.len(), Ordering::Relaxed);
    }
}

#[async_trait]
impl RateLimits for MemoryRateLimits {
    async fn allow(&self, key: &str, limit: RateLimit, now: UnixMs) -> Result<bool, BusError> {
        self.forget_full(now);
        let mut entry = self.buckets.entry(key.to_owned()).or_insert_with(|| (TokenBucket::full(limit, now), limit));
        let (bucket, kept_under) = entry.value_mut();
        *kept_under = limit;
        Ok(bucket.try_take(limit, now))
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

    /// A sweep judges each bucket by its own limit: many comment buckets (refilled each
    /// second) do not make a slow-mode bucket (an hour) look full and be forgotten.
    #[tokio::test]
    async fn a_sweep_keeps_a_bucket_that_is_not_full_under_its_own_limit() {
        let limits = MemoryRateLimits::default();
        let slow = RateLimit { burst: 1, refill_ms: 3_600_000 };
        let comments = RateLimit { burst: 5, refill_ms: 1_000 };
        let at = |ms: i64| UnixMs(1_800_000_000_000 + ms);
        assert!(limits.allow("slow:v", slow, at(0)).await.unwrap());
        // One new commenter a millisecond: each bucket is full again a second later.
        for key in 0..=2 * FIRST_SWEEP {
            limits.allow(&format!("c{key}"), comments, at(10_000 + key as i64)).await.unwrap();
        }
        assert!(limits.buckets.len() <= 2 * FIRST_SWEEP, "full buckets are forgotten: {}", limits.buckets.len());
        assert!(!limits.allow("slow:v", slow, at(40_000)).await.unwrap(), "slow mode still holds");
    }
}
