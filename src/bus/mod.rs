//! How nodes share what happens in rooms: small ports, one job each, every one with a
//! memory implementation (one node) and a Redis implementation (any number of nodes),
//! and one shared test suite per port.
//!
//! - [`events`]: room events, their sequence numbers and recent history, delivered to
//!   the rooms each node serves through a [`RoomSink`].
//! - [`presence`]: viewer totals over all nodes, and reaction counts.
//! - [`sales`]: each brand's live sales feed.
//! - [`limits`]: rate limits (comments per viewer).
//! - [`claims`]: who is running a checkout for an idempotency key right now.
//! - [`media_home`]: which node holds a room's video publisher.
//! - [`kicks`]: connections to close on every node (a revoked session's).
//! - [`notices`]: private frames for accounts, to each of their connections on every node.
//! - [`backoff`]: exponential back-off after failures (logins).
//!
//! Nothing here knows what a room or an order is beyond the wire types it carries: the
//! domain above implements [`RoomSink`] and calls these ports.

pub mod backoff;
pub mod claims;
pub mod events;
pub mod kicks;
pub mod limits;
pub mod media_home;
pub mod notices;
pub mod presence;
pub mod sales;

mod channels;
mod events_redis;
mod feeds;

pub use backoff::Backoffs;
pub use claims::CheckoutClaims;
pub use events::{Bootstrap, Delivered, Offered, RoomEvents, RoomSink, Turn, parse_event};
pub use kicks::Kicks;
pub use limits::RateLimits;
pub use media_home::MediaHome;
pub use notices::Notices;
pub use presence::Presence;
pub use sales::SalesFeed;

use crate::redis::{Redis, RedisError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis")]
    Redis(#[from] RedisError),
    #[error("encoding a frame")]
    Encode(#[from] serde_json::Error),
}

/// Every port of the bus, for one node.
#[derive(Clone)]
pub struct Bus {
    pub events: Arc<dyn RoomEvents>,
    pub presence: Arc<dyn Presence>,
    pub sales: Arc<dyn SalesFeed>,
    pub limits: Arc<dyn RateLimits>,
    pub claims: Arc<dyn CheckoutClaims>,
    pub media_home: Arc<dyn MediaHome>,
    pub kicks: Arc<dyn Kicks>,
    pub notices: Arc<dyn Notices>,
    pub backoffs: Arc<dyn Backoffs>,
}

/// What the Redis ports need to know of this deployment.
#[derive(Debug, Clone, Copy)]
pub struct RedisSettings {
    /// Room events kept for resuming viewers.
    pub history: usize,
    /// How long a node's viewer count stands without being refreshed.
    pub viewer_ttl: Duration,
}

impl Bus {
    /// One node: events are sequenced in memory and delivered straight into `rooms`.
    pub fn memory(rooms: Arc<dyn RoomSink>) -> Bus {
        Bus {
            events: Arc::new(events::MemoryRoomEvents::new(Arc::clone(&rooms))),
            presence: Arc::new(presence::MemoryPresence::new(rooms)),
            sales: Arc::new(sales::MemorySales::default()),
            limits: Arc::new(limits::MemoryRateLimits::default()),
            claims: Arc::new(claims::MemoryClaims::default()),
            media_home: Arc::new(media_home::OneNode),
            kicks: Arc::new(kicks::MemoryKicks::default()),
            notices: Arc::new(notices::MemoryNotices::default()),
            backoffs: Arc::new(backoff::MemoryBackoffs::default()),
        }
    }

    /// Any number of nodes sharing `redis`. Starts the one subscription this node listens
    /// on (room channels and brand channels), which, like the room catch-ups it starts,
    /// runs until `shutdown`.
    pub async fn redis(
        redis: &Redis,
        rooms: Arc<dyn RoomSink>,
        settings: RedisSettings,
        shutdown: CancellationToken,
    ) -> Result<Bus, BusError> {
        let feeds = Arc::new(sales::brand_feeds());
        let accounts = Arc::new(notices::account_feeds());
        let board = Arc::new(kicks::Board::default());
        let channels = Arc::new(channels::Channels::new(redis.clone()));
        let events = Arc::new(events_redis::RedisRoomEvents::new(
            redis.clone(),
            rooms,
            settings.history,
            Arc::clone(&channels),
            shutdown.clone(),
        ));
        channels
            .start(
                vec![
                    Arc::clone(&events) as Arc<dyn channels::Listener>,
                    Arc::new(sales::BrandListener(Arc::clone(&feeds))) as Arc<dyn channels::Listener>,
                    Arc::new(kicks::KickListener(Arc::clone(&board))) as Arc<dyn channels::Listener>,
                    Arc::new(notices::NoticeListener(Arc::clone(&accounts))) as Arc<dyn channels::Listener>,
                ],
                shutdown,
            )
            .await?;
        let kicks = kicks::RedisKicks::start(redis.clone(), &channels, board).await?;
        let notices = notices::RedisNotices::start(redis.clone(), &channels, accounts).await?;
        Ok(Bus {
            events,
            presence: Arc::new(presence::RedisPresence::new(redis.clone(), settings.viewer_ttl)),
            sales: Arc::new(sales::RedisSales::new(redis.clone(), channels, feeds)),
            limits: Arc::new(limits::RedisRateLimits::new(redis.clone())),
            claims: Arc::new(claims::RedisClaims::new(redis.clone(), claims::LEASE)),
            media_home: Arc::new(media_home::RedisMediaHome::new(redis.clone())),
            kicks: Arc::new(kicks),
            notices: Arc::new(notices),
            backoffs: Arc::new(backoff::RedisBackoffs::new(redis.clone())),
        })
    }
}

/// A random id for a node or an epoch: 12 URL-safe characters.
pub fn random_id() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut raw = [0u8; 9];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// What the ports' shared test suites run against: memory always, and Redis when
/// `LIVECART_TEST_REDIS` names one (each test under a key prefix of its own, deleted when
/// the test ends).
#[cfg(test)]
pub(crate) mod testing {
    use crate::redis::Redis;

    pub struct TestRedis {
        pub redis: Redis,
        url: String,
    }

    pub async fn redis() -> Option<TestRedis> {
        let url = std::env::var("LIVECART_TEST_REDIS").ok()?;
        let prefix = format!("livecart_unit:{}:", super::random_id());
        let redis = Redis::connect(&url, &prefix).await.expect("LIVECART_TEST_REDIS answers");
        Some(TestRedis { redis, url })
    }

    /// The buses a port's shared test runs against: memory, and Redis when configured
    /// (stopped by cancelling its token). Keep the [`TestRedis`] as long as the buses: it
    /// owns the test's keys.
    pub async fn buses(
        sink: &std::sync::Arc<RecordingSink>,
    ) -> (Vec<(super::Bus, Option<tokio_util::sync::CancellationToken>)>, Option<TestRedis>) {
        let mut buses = vec![(super::Bus::memory(std::sync::Arc::clone(sink) as _), None)];
        let redis = redis().await;
        if let Some(r) = &redis {
            let settings = super::RedisSettings { history: 4, viewer_ttl: std::time::Duration::from_secs(3) };
            let shutdown = tokio_util::sync::CancellationToken::new();
            let bus = super::Bus::redis(&r.redis, std::sync::Arc::clone(sink) as _, settings, shutdown.clone())
                .await
                .expect("a Redis bus");
            buses.push((bus, Some(shutdown)));
        }
        (buses, redis)
    }

    /// A room sink that keeps what reached it: applied events in order (as a served room
    /// applies them, gaps refused) and ticks.
    #[derive(Default)]
    pub struct RecordingSink {
        /// Guarded by a std mutex: test bookkeeping, no awaits inside.
        pub seen: std::sync::Mutex<Seen>,
    }

    #[derive(Default)]
    pub struct Seen {
        pub epoch: String,
        pub events: Vec<(u64, crate::wire::ws::RoomEvent)>,
        pub ticks: Vec<String>,
    }

    impl RecordingSink {
        pub fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
            self.seen.lock().unwrap()
        }

        fn last(seen: &Seen) -> u64 {
            seen.events.last().map_or(0, |(seq, _)| *seq)
        }
    }

    impl super::RoomSink for RecordingSink {
        fn deliver(
            &self,
            _room: crate::domain::RoomId,
            epoch: &str,
            seq: u64,
            _frame: axum::extract::ws::Utf8Bytes,
            event: &crate::wire::ws::RoomEvent,
        ) -> super::Delivered {
            let mut seen = self.seen();
            if seen.epoch != epoch {
                seen.epoch = epoch.to_owned();
                seen.events.clear();
            }
            let last = Self::last(&seen);
            if seq <= last {
                return super::Delivered::Stale;
            }
            if seq != last + 1 {
                return super::Delivered::Gap;
            }
            seen.events.push((seq, event.clone()));
            super::Delivered::Applied
        }

        fn record(&self, _room: crate::domain::RoomId, _body: &str, event: &crate::wire::ws::RoomEvent) {
            let mut seen = self.seen();
            let seq = Self::last(&seen) + 1;
            seen.events.push((seq, event.clone()));
        }

        fn restart_at(&self, _room: crate::domain::RoomId, epoch: &str, _seq: u64) {
            let mut seen = self.seen();
            seen.epoch = epoch.to_owned();
            seen.events.clear();
        }

        fn tick(&self, _room: crate::domain::RoomId, frame: axum::extract::ws::Utf8Bytes) {
            self.seen().ticks.push(frame.to_string());
        }

        fn position(&self, _room: crate::domain::RoomId) -> Option<(String, u64)> {
            let seen = self.seen();
            Some((seen.epoch.clone(), Self::last(&seen)))
        }

        fn served(&self) -> Vec<crate::domain::RoomId> {
            vec![crate::domain::RoomId::try_from(1).unwrap()]
        }
    }

    impl TestRedis {
        /// Kills this test's subscriber connection (found by its name, so that tests running
        /// beside it keep theirs; on a cluster, its socket to the first master that has
        /// one); whether there was one to kill.
        pub async fn kill_subscriber(&self) -> bool {
            let name = format!("name={}", self.redis.subscriber_name());
            for node in self.redis.nodes().await.unwrap() {
                let clients = self.redis.on_node(&node, &redis::cmd("CLIENT").arg("LIST").to_owned()).await.unwrap();
                let clients: String = redis::from_redis_value(clients).unwrap();
                let Some(id) = clients
                    .lines()
                    .filter(|client| client.split(' ').any(|field| field == name))
                    .find_map(|client| client.split(' ').find_map(|field| field.strip_prefix("id=")))
                else {
                    continue;
                };
                let kill = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).to_owned();
                let killed: u64 = redis::from_redis_value(self.redis.on_node(&node, &kill).await.unwrap()).unwrap();
                return killed == 1;
            }
            false
        }

        /// How many connections are subscribed to `channel`, over every node.
        pub async fn subscribers(&self, channel: &str) -> u64 {
            let mut total = 0;
            for node in self.redis.nodes().await.unwrap() {
                let numsub = redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).to_owned();
                let counts: Vec<(String, u64)> =
                    redis::from_redis_value(self.redis.on_node(&node, &numsub).await.unwrap()).unwrap();
                total += counts.first().map_or(0, |(_, n)| *n);
            }
            total
        }
    }

    /// Waits (bounded) until `done` holds; what crosses Redis arrives asynchronously.
    pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..200 {
            if done() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("timed out waiting until {what}");
    }

    impl Drop for TestRedis {
        /// Deletes the test's keys, on every master of a cluster, over a connection and a
        /// runtime of its own (the test's runtime may already be gone).
        fn drop(&mut self) {
            let (url, prefix) = (self.url.clone(), self.redis.prefix().to_owned());
            let cleaner = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async move {
                    if let Ok(redis) = Redis::connect(&url, &prefix).await {
                        let _ = redis.forget_all().await;
                    }
                });
            });
            let _ = cleaner.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing;
    use redis::AsyncCommands;

    /// What tests clean up with and what stands in for Redis losing everything: on a
    /// cluster the keys are spread over every master.
    #[tokio::test]
    async fn forgetting_deletes_every_key_of_the_prefix_and_no_other() {
        let Some(r) = testing::redis().await else { return };
        let mut conn = r.redis.conn();
        let keys: Vec<String> = (0..64).map(|n| r.redis.key(&format!("k{n}"))).collect();
        for key in &keys {
            conn.set::<_, _, ()>(key, 1).await.unwrap();
        }
        let kept = format!("livecart_unit_kept:{}", super::random_id());
        conn.set::<_, _, ()>(&kept, 1).await.unwrap();
        r.redis.forget_all().await.unwrap();
        for key in &keys {
            assert!(!conn.exists::<_, bool>(key).await.unwrap(), "{key} is gone");
        }
        assert!(conn.exists::<_, bool>(&kept).await.unwrap(), "a key of another prefix stays");
        conn.del::<_, ()>(&kept).await.unwrap();
    }
}
