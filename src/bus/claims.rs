//! Checkout claims: while a buyer's checkout for an idempotency key runs on some node, a
//! second request with the same key, on any node, is told it is in progress.
//!
//! A claim is a lease: it lapses unless its holder renews it, so the key of a checkout
//! whose node died frees itself within one lease, and a retry on another node proceeds
//! (the idempotency key still yields exactly one order: the database holds it). Each
//! claim carries a token, so a holder whose lease lapsed cannot renew or release a claim
//! someone else took since.

use super::BusError;
use crate::domain::AccountId;
use crate::redis::Redis;
use async_trait::async_trait;
use dashmap::DashMap;
use redis::Script;
use std::sync::LazyLock;
use std::time::Duration;

/// How long a claim lasts unless renewed; holders renew it at a third of that.
pub const LEASE: Duration = Duration::from_secs(5);

/// Proof of holding a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim(String);

#[async_trait]
pub trait CheckoutClaims: Send + Sync + 'static {
    /// Claims the buyer's key for one lease; `None` when a checkout with it runs.
    async fn claim(&self, buyer: AccountId, key: &str) -> Result<Option<Claim>, BusError>;
    /// Extends the lease; false when it had lapsed and the claim is no longer ours.
    async fn renew(&self, buyer: AccountId, key: &str, claim: &Claim) -> Result<bool, BusError>;
    /// Gives the claim up, if it is still ours.
    async fn release(&self, buyer: AccountId, key: &str, claim: &Claim) -> Result<(), BusError>;
}

/// One node: a claim lives as long as the process that holds it, so it needs no lease.
#[derive(Default)]
pub struct MemoryClaims {
    running: DashMap<(AccountId, String), Claim>,
}

#[async_trait]
impl CheckoutClaims for MemoryClaims {
    async fn claim(&self, buyer: AccountId, key: &str) -> Result<Option<Claim>, BusError> {
        match self.running.entry((buyer, key.to_owned())) {
            dashmap::Entry::Occupied(_) => Ok(None),
            dashmap::Entry::Vacant(slot) => Ok(Some(slot.insert(Claim(super::random_id())).clone())),
        }
    }

    async fn renew(&self, buyer: AccountId, key: &str, claim: &Claim) -> Result<bool, BusError> {
        Ok(self.running.get(&(buyer, key.to_owned())).is_some_and(|held| *held == *claim))
    }

    async fn release(&self, buyer: AccountId, key: &str, claim: &Claim) -> Result<(), BusError> {
        self.running.remove_if(&(buyer, key.to_owned()), |_, held| held == claim);
        Ok(())
    }
}

/// Extends the key's expiry if it still holds the token.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
    )
});

/// Deletes the key if it still holds the token.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
});

/// Key `claim:{buyer}:{key}` holds the claim's token, with the lease as its expiry.
pub struct RedisClaims {
    redis: Redis,
    lease: Duration,
}

impl RedisClaims {
    pub fn new(redis: Redis, lease: Duration) -> Self {
        Self { redis, lease }
    }

    fn key(&self, buyer: AccountId, key: &str) -> String {
        self.redis.key(&format!("claim:{buyer}:{key}"))
    }

    fn lease_ms(&self) -> u64 {
        self.lease.as_millis() as u64
    }
}

#[async_trait]
impl CheckoutClaims for RedisClaims {
    async fn claim(&self, buyer: AccountId, key: &str) -> Result<Option<Claim>, BusError> {
        let claim = Claim(super::random_id());
        let claimed: Option<String> = redis::cmd("SET")
            .arg(self.key(buyer, key))
            .arg(&claim.0)
            .arg("NX")
            .arg("PX")
            .arg(self.lease_ms())
            .query_async(&mut self.redis.conn())
            .await?;
        Ok(claimed.map(|_| claim))
    }

    async fn renew(&self, buyer: AccountId, key: &str, claim: &Claim) -> Result<bool, BusError> {
        let renewed: i64 = RENEW
            .key(self.key(buyer, key))
            .arg(&claim.0)
            .arg(self.lease_ms())
            .invoke_async(&mut self.redis.conn())
            .await?;
        Ok(renewed == 1)
    }

    async fn release(&self, buyer: AccountId, key: &str, claim: &Claim) -> Result<(), BusError> {
        RELEASE.key(self.key(buyer, key)).arg(&claim.0).invoke_async::<i64>(&mut self.redis.conn()).await?;
        Ok(())
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
            check(&RedisClaims::new(r.redis.clone(), LEASE)).await;
        }
    }

    #[tokio::test]
    async fn a_key_is_claimed_once_until_it_is_released_by_its_holder() {
        each(async |claims: &dyn CheckoutClaims| {
            let (ana, bo) = (AccountId::try_from(1).unwrap(), AccountId::try_from(2).unwrap());
            let held = claims.claim(ana, "k").await.unwrap().expect("free");
            assert!(claims.claim(ana, "k").await.unwrap().is_none(), "a second claim of a running key fails");
            assert!(claims.claim(bo, "k").await.unwrap().is_some(), "keys are scoped per buyer");
            assert!(claims.renew(ana, "k", &held).await.unwrap());
            let stranger = Claim("not ours".into());
            assert!(!claims.renew(ana, "k", &stranger).await.unwrap());
            claims.release(ana, "k", &stranger).await.unwrap();
            assert!(claims.claim(ana, "k").await.unwrap().is_none(), "only the holder releases");
            claims.release(ana, "k", &held).await.unwrap();
            assert!(claims.claim(ana, "k").await.unwrap().is_some(), "a released key can be claimed again");
        })
        .await;
    }

    #[tokio::test]
    async fn a_claim_nobody_renews_lapses_and_its_holder_can_no_longer_renew_it() {
        let Some(r) = testing::redis().await else { return };
        let claims = RedisClaims::new(r.redis.clone(), Duration::from_millis(100));
        let ana = AccountId::try_from(1).unwrap();
        let dead = claims.claim(ana, "k").await.unwrap().expect("free");
        let mut retried = None;
        for _ in 0..100 {
            retried = claims.claim(ana, "k").await.unwrap();
            if retried.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let retried = retried.expect("the lapsed claim freed the key");
        assert!(!claims.renew(ana, "k", &dead).await.unwrap(), "the dead holder lost it");
        assert!(claims.renew(ana, "k", &retried).await.unwrap());
    }
}
