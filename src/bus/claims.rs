//! Checkout claims: while a buyer's checkout for an idempotency key runs on some node, a
//! second request with the same key, on any node, is told it is in progress.

use super::BusError;
use crate::domain::AccountId;
use crate::redis::Redis;
use async_trait::async_trait;
use dashmap::DashSet;
use redis::AsyncCommands;

#[async_trait]
pub trait CheckoutClaims: Send + Sync + 'static {
    /// Claims the buyer's key; false when a checkout with it is already running.
    async fn claim(&self, buyer: AccountId, key: &str) -> Result<bool, BusError>;
    async fn release(&self, buyer: AccountId, key: &str) -> Result<(), BusError>;
}

#[derive(Default)]
pub struct MemoryClaims {
    running: DashSet<(AccountId, String)>,
}

#[async_trait]
impl CheckoutClaims for MemoryClaims {
    async fn claim(&self, buyer: AccountId, key: &str) -> Result<bool, BusError> {
        Ok(self.running.insert((buyer, key.to_owned())))
    }

    async fn release(&self, buyer: AccountId, key: &str) -> Result<(), BusError> {
        self.running.remove(&(buyer, key.to_owned()));
        Ok(())
    }
}

/// A running checkout's claim lapses after this, should its node die mid-way.
const CLAIM_TTL_MS: u64 = 60_000;

/// Key `claim:{buyer}:{key}`, set if absent with an expiry.
pub struct RedisClaims {
    redis: Redis,
}

impl RedisClaims {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    fn key(&self, buyer: AccountId, key: &str) -> String {
        self.redis.key(&format!("claim:{buyer}:{key}"))
    }
}

#[async_trait]
impl CheckoutClaims for RedisClaims {
    async fn claim(&self, buyer: AccountId, key: &str) -> Result<bool, BusError> {
        let claimed: Option<String> = redis::cmd("SET")
            .arg(self.key(buyer, key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(CLAIM_TTL_MS)
            .query_async(&mut self.redis.conn())
            .await?;
        Ok(claimed.is_some())
    }

    async fn release(&self, buyer: AccountId, key: &str) -> Result<(), BusError> {
        Ok(self.redis.conn().del::<_, ()>(self.key(buyer, key)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::testing;

    /// The shared suite: memory, and Redis when the environment names one.
    async fn each(check: impl AsyncFn(&dyn CheckoutClaims)) {
        check(&MemoryClaims::default()).await;
        if let Some(r) = testing::redis().await {
            check(&RedisClaims::new(r.redis.clone())).await;
        }
    }

    #[tokio::test]
    async fn a_key_is_claimed_once_until_it_is_released() {
        each(async |claims: &dyn CheckoutClaims| {
            let (ana, bo) = (AccountId::try_from(1).unwrap(), AccountId::try_from(2).unwrap());
            assert!(claims.claim(ana, "k").await.unwrap());
            assert!(!claims.claim(ana, "k").await.unwrap(), "a second claim of a running key fails");
            assert!(claims.claim(bo, "k").await.unwrap(), "keys are scoped per buyer");
            claims.release(ana, "k").await.unwrap();
            assert!(claims.claim(ana, "k").await.unwrap(), "a released key can be claimed again");
        })
        .await;
    }
}
