//! Exponential back-off after failures, shared by every node: after a few free failures,
//! each further one doubles how long the next attempt must wait (up to a cap), until a
//! quiet period forgets them. Login uses it per account and address, and per address.

use super::BusError;
use crate::domain::UnixMs;
use crate::redis::Redis;
use async_trait::async_trait;
use dashmap::DashMap;
use redis::{AsyncCommands, Script};
use std::sync::LazyLock;
use std::time::Duration;

/// How failures of one kind are answered.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Failures allowed before any wait.
    pub free: u32,
    /// The wait after the first failure past the free ones; each further one doubles it.
    pub base: Duration,
    pub cap: Duration,
    /// Failures are forgotten after this long without one.
    pub forget_after: Duration,
}

impl Rule {
    /// How long after the last of `failures` failures the next attempt may come.
    pub fn wait(&self, failures: u32) -> Duration {
        let Some(over) = failures.checked_sub(self.free).filter(|n| *n > 0) else { return Duration::ZERO };
        let doubling = 1u32.checked_shl(over - 1).unwrap_or(u32::MAX);
        self.base.saturating_mul(doubling).min(self.cap)
    }

    /// How long from `now` an attempt must wait, given `failures` and when the last was.
    fn wait_from(&self, failures: u32, last: UnixMs, now: UnixMs) -> Option<Duration> {
        let until = last.plus(self.wait(failures));
        (until > now).then(|| Duration::from_millis((until.0 - now.0) as u64))
    }
}

#[async_trait]
pub trait Backoffs: Send + Sync + 'static {
    /// How long an attempt for `key` must still wait, if it must.
    async fn wait(&self, key: &str, rule: Rule, now: UnixMs) -> Result<Option<Duration>, BusError>;
    /// Counts a failure for `key`.
    async fn failed(&self, key: &str, rule: Rule, now: UnixMs) -> Result<(), BusError>;
    /// Forgets `key`'s failures (it succeeded).
    async fn forget(&self, key: &str) -> Result<(), BusError>;
}

/// Keys kept before the forgotten ones are swept.
const MEMORY_KEYS: usize = 10_000;

#[derive(Default)]
pub struct MemoryBackoffs {
    /// key → (failures, time of the last one)
    failures: DashMap<String, (u32, UnixMs)>,
}

#[async_trait]
impl Backoffs for MemoryBackoffs {
    async fn wait(&self, key: &str, rule: Rule, now: UnixMs) -> Result<Option<Duration>, BusError> {
        Ok(self.failures.get(key).and_then(|f| rule.wait_from(f.0, f.1, now)))
    }

    async fn failed(&self, key: &str, rule: Rule, now: UnixMs) -> Result<(), BusError> {
        if self.failures.len() > MEMORY_KEYS {
            self.failures.retain(|_, (_, last)| last.plus(rule.forget_after) > now);
        }
        let mut entry = self.failures.entry(key.to_owned()).or_insert((0, now));
        let (failures, last) = *entry;
        *entry = (if last.plus(rule.forget_after) > now { failures + 1 } else { 1 }, now);
        Ok(())
    }

    async fn forget(&self, key: &str) -> Result<(), BusError> {
        self.failures.remove(key);
        Ok(())
    }
}

/// KEYS: the key's hash. ARGV: now, forget after (ms). Counts one failure, starting over
/// when the last was long ago.
static FAILED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if last + tonumber(ARGV[2]) <= tonumber(ARGV[1]) then n = 0 end
redis.call('HSET', KEYS[1], 'n', n + 1, 'last', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n + 1
"#,
    )
});

/// Key `backoff:{key}`: a hash of the failure count and the time of the last failure,
/// expiring when it would be forgotten anyway.
pub struct RedisBackoffs {
    redis: Redis,
}

impl RedisBackoffs {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    fn key(&self, key: &str) -> String {
        self.redis.key(&format!("backoff:{key}"))
    }
}

#[async_trait]
impl Backoffs for RedisBackoffs {
    async fn wait(&self, key: &str, rule: Rule, now: UnixMs) -> Result<Option<Duration>, BusError> {
        let (n, last): (Option<u32>, Option<i64>) =
            redis::cmd("HMGET").arg(self.key(key)).arg("n").arg("last").query_async(&mut self.redis.conn()).await?;
        Ok(match (n, last) {
            (Some(n), Some(last)) => rule.wait_from(n, UnixMs(last), now),
            _ => None,
        })
    }

    async fn failed(&self, key: &str, rule: Rule, now: UnixMs) -> Result<(), BusError> {
        FAILED
            .key(self.key(key))
            .arg(now.0)
            .arg(rule.forget_after.as_millis() as u64)
            .invoke_async::<i64>(&mut self.redis.conn())
            .await?;
        Ok(())
    }

    async fn forget(&self, key: &str) -> Result<(), BusError> {
        Ok(self.redis.conn().del::<_, ()>(self.key(key)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::testing;

    const RULE: Rule = Rule {
        free: 3,
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
        forget_after: Duration::from_secs(3_600),
    };

    #[test]
    fn the_wait_doubles_past_the_free_failures_up_to_the_cap() {
        let waits: Vec<u64> = (0..12).map(|n| RULE.wait(n).as_secs()).collect();
        assert_eq!(waits, vec![0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(RULE.wait(u32::MAX), RULE.cap);
    }

    async fn each(check: impl AsyncFn(&dyn Backoffs)) {
        check(&MemoryBackoffs::default()).await;
        if let Some(r) = testing::redis().await {
            check(&RedisBackoffs::new(r.redis.clone())).await;
        }
    }

    #[tokio::test]
    async fn failures_past_the_free_ones_make_the_next_attempt_wait_until_forgotten() {
        each(async |b: &dyn Backoffs| {
            let t = |s: i64| UnixMs(1_800_000_000_000 + s * 1_000);
            for _ in 0..4 {
                b.failed("k", RULE, t(0)).await.unwrap();
            }
            assert_eq!(b.wait("k", RULE, t(0)).await.unwrap(), Some(Duration::from_secs(1)));
            assert_eq!(b.wait("k", RULE, t(1)).await.unwrap(), None, "waited out");
            assert_eq!(b.wait("other", RULE, t(0)).await.unwrap(), None, "per key");
            b.failed("k", RULE, t(1)).await.unwrap();
            assert_eq!(b.wait("k", RULE, t(1)).await.unwrap(), Some(Duration::from_secs(2)));
            b.failed("k", RULE, t(7_200)).await.unwrap();
            assert_eq!(b.wait("k", RULE, t(7_200)).await.unwrap(), None, "an hour of quiet forgot them");
            b.forget("k").await.unwrap();
            assert_eq!(b.wait("k", RULE, t(7_200)).await.unwrap(), None);
        })
        .await;
    }
}
