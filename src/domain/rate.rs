//! Rate limits as a token bucket, driven by the time passed in (comments per viewer today).

use super::UnixMs;

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Messages allowed in a burst.
    pub burst: u32,
    /// One more message is allowed every this many milliseconds.
    pub refill_ms: i64,
}

#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: u32,
    updated: UnixMs,
}

impl TokenBucket {
    pub fn full(limit: RateLimit, now: UnixMs) -> Self {
        Self { tokens: limit.burst, updated: now }
    }

    /// Takes a token if one is there. Refill is counted in whole periods since the last
    /// refill, so no fraction of a token is lost or invented.
    pub fn try_take(&mut self, limit: RateLimit, now: UnixMs) -> bool {
        let periods = (now.0 - self.updated.0).max(0) / limit.refill_ms.max(1);
        if periods > 0 {
            self.tokens = (self.tokens as i64 + periods).min(i64::from(limit.burst)) as u32;
            self.updated = UnixMs(self.updated.0 + periods * limit.refill_ms.max(1));
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }

    pub fn is_full(&self, limit: RateLimit, now: UnixMs) -> bool {
        self.tokens as i64 + (now.0 - self.updated.0) / limit.refill_ms.max(1) >= i64::from(limit.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit { burst: 3, refill_ms: 1_000 };

    #[test]
    fn a_burst_is_allowed_then_refused_until_refill() {
        let mut b = TokenBucket::full(LIMIT, UnixMs(0));
        assert!((0..3).all(|_| b.try_take(LIMIT, UnixMs(0))));
        assert!(!b.try_take(LIMIT, UnixMs(999)));
        assert!(b.try_take(LIMIT, UnixMs(1_000)));
        assert!(!b.try_take(LIMIT, UnixMs(1_500)));
    }
}
