//! Who is watching: each node reports its own viewers of a room and learns the total
//! over every live node; reactions gathered on a node go out to every node's viewers as
//! counts, on the tick.

use super::BusError;
use super::events::RoomSink;
use super::events_redis::room_channel;
use crate::domain::{Reaction, RoomId, UnixMs};
use crate::redis::Redis;
use crate::wire::ws::ServerMsg;
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use redis::{AsyncCommands, Script};
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

#[async_trait]
pub trait Presence: Send + Sync + 'static {
    /// Reports `here`, this node's viewers of the room, and returns the room's total over
    /// all live nodes (a node that stops reporting drops out).
    async fn viewer_total(&self, room: RoomId, here: u64, now: UnixMs) -> Result<u64, BusError>;
    /// This node no longer serves the room: its viewers stop counting at once.
    async fn forget(&self, room: RoomId) -> Result<(), BusError>;
    /// Sends this node's reaction counts to every node's viewers of the room.
    async fn publish_reactions(&self, room: RoomId, counts: &BTreeMap<Reaction, u64>) -> Result<(), BusError>;
}

fn reactions_frame(counts: &BTreeMap<Reaction, u64>) -> Result<String, BusError> {
    Ok(serde_json::to_string(&ServerMsg::Reactions { counts: counts.clone() })?)
}

/// One node: its viewers are all the viewers, and its reactions go straight to them.
pub struct MemoryPresence {
    rooms: Arc<dyn RoomSink>,
}

impl MemoryPresence {
    pub fn new(rooms: Arc<dyn RoomSink>) -> Self {
        Self { rooms }
    }
}

#[async_trait]
impl Presence for MemoryPresence {
    async fn viewer_total(&self, _room: RoomId, here: u64, _now: UnixMs) -> Result<u64, BusError> {
        Ok(here)
    }

    async fn forget(&self, _room: RoomId) -> Result<(), BusError> {
        Ok(())
    }

    async fn publish_reactions(&self, room: RoomId, counts: &BTreeMap<Reaction, u64>) -> Result<(), BusError> {
        self.rooms.tick(room, Utf8Bytes::from(reactions_frame(counts)?));
        Ok(())
    }
}

/// Sets this node's count (with an expiry) in the room's hash and sums the live ones,
/// dropping those that expired.
static VIEWERS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[4])))
local total = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local count, expires = string.match(all[i + 1], '(%d+):(%d+)')
  if tonumber(expires) > now then total = total + tonumber(count) else redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return total
"#,
    )
});

/// Key `room:{id}:viewers`: a hash of node → "count:expires_at".
pub struct RedisPresence {
    redis: Redis,
    /// Identifies this node in the viewer hashes.
    node: String,
    /// How long a node's count stands without being refreshed.
    ttl: Duration,
}

impl RedisPresence {
    pub fn new(redis: Redis, ttl: Duration) -> Self {
        Self { redis, node: super::random_id(), ttl }
    }

    fn key(&self, room: RoomId) -> String {
        self.redis.key(&format!("room:{room}:viewers"))
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn viewer_total(&self, room: RoomId, here: u64, now: UnixMs) -> Result<u64, BusError> {
        let total = VIEWERS
            .key(self.key(room))
            .arg(&self.node)
            .arg(here)
            .arg(now.0)
            .arg(self.ttl.as_millis() as u64)
            .invoke_async(&mut self.redis.conn())
            .await?;
        Ok(total)
    }

    async fn forget(&self, room: RoomId) -> Result<(), BusError> {
        Ok(self.redis.conn().hdel::<_, _, ()>(self.key(room), &self.node).await?)
    }

    async fn publish_reactions(&self, room: RoomId, counts: &BTreeMap<Reaction, u64>) -> Result<(), BusError> {
        let frame = reactions_frame(counts)?;
        Ok(self.redis.conn().publish::<_, _, ()>(room_channel(&self.redis, room), format!("t\n{frame}")).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::testing::{RecordingSink, eventually};
    use crate::bus::{Bus, RedisSettings, testing};
    use tokio_util::sync::CancellationToken;

    const NOW: UnixMs = UnixMs(1_800_000_000_000);

    #[tokio::test]
    async fn one_nodes_total_is_its_own_count_and_reactions_reach_its_viewers() {
        let room = RoomId::try_from(1).unwrap();
        let counts = BTreeMap::from([(Reaction::Heart, 3)]);
        let mut buses = vec![];
        let sink = Arc::new(RecordingSink::default());
        buses.push((Bus::memory(Arc::clone(&sink) as _), sink, None));
        let redis = testing::redis().await;
        if let Some(r) = &redis {
            let sink = Arc::new(RecordingSink::default());
            let settings = RedisSettings { history: 4, viewer_ttl: Duration::from_secs(3) };
            let shutdown = CancellationToken::new();
            let bus = Bus::redis(&r.redis, Arc::clone(&sink) as _, settings, shutdown.clone()).await.unwrap();
            bus.events.attach(room).await.unwrap();
            buses.push((bus, sink, Some(shutdown)));
        }
        for (bus, sink, shutdown) in buses {
            assert_eq!(bus.presence.viewer_total(room, 3, NOW).await.unwrap(), 3);
            bus.presence.publish_reactions(room, &counts).await.unwrap();
            eventually("the reactions tick arrived", || sink.seen().ticks.len() == 1).await;
            assert_eq!(sink.seen().ticks[0], r#"{"type":"reactions","counts":{"heart":3}}"#);
            shutdown.inspect(CancellationToken::cancel);
        }
    }

    #[tokio::test]
    async fn viewers_are_summed_over_live_nodes_and_a_node_that_lets_go_stops_counting() {
        let Some(r) = testing::redis().await else { return };
        let room = RoomId::try_from(1).unwrap();
        let (a, b) = (
            RedisPresence::new(r.redis.clone(), Duration::from_secs(3)),
            RedisPresence::new(r.redis.clone(), Duration::from_secs(3)),
        );
        assert_eq!(a.viewer_total(room, 2, NOW).await.unwrap(), 2);
        assert_eq!(b.viewer_total(room, 5, NOW).await.unwrap(), 7);
        b.forget(room).await.unwrap();
        assert_eq!(a.viewer_total(room, 2, NOW).await.unwrap(), 2);
        b.viewer_total(room, 5, NOW).await.unwrap();
        let later = UnixMs(NOW.0 + 3_001);
        assert_eq!(a.viewer_total(room, 2, later).await.unwrap(), 2, "a node that stops reporting drops out");
    }
}
