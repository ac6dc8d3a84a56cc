//! Who is watching: each node reports its own viewers of a room and learns the total
//! over every live node; reactions gathered on a node go out to every node's viewers as
//! counts, on the tick.

use super::BusError;
use super::events::RoomSink;
use super::events_redis::{room_channel, room_key};
use crate::domain::{Reaction, RoomId, UnixMs};
use crate::redis::Redis;
use crate::wire::ws::ServerMsg;
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
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
    /// Sends this node's reaction counts to every node's viewers of the room, and adds
    /// them to the room's totals.
    async fn publish_reactions(&self, room: RoomId, counts: &BTreeMap<Reaction, u64>) -> Result<(), BusError>;
    /// The reactions sent in the room so far over every node, by name (those above zero).
    async fn reaction_totals(&self, room: RoomId) -> Result<BTreeMap<Reaction, u64>, BusError>;
}

fn reactions_frame(counts: &BTreeMap<Reaction, u64>) -> Result<String, BusError> {
    Ok(serde_json::to_string(&ServerMsg::Reactions { counts: counts.clone() })?)
}

/// One node: its viewers are all the viewers, and its reactions go straight to them.
pub struct MemoryPresence {
    rooms: Arc<dyn RoomSink>,
    /// Reactions per room over the node's life: a few counters per room ever shown.
    totals: DashMap<RoomId, BTreeMap<Reaction, u64>>,
}

impl MemoryPresence {
    pub fn new(rooms: Arc<dyn RoomSink>) -> Self {
        Self { rooms, totals: DashMap::new() }
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
        let mut totals = self.totals.entry(room).or_default();
        for (reaction, n) in counts {
            let total = totals.entry(*reaction).or_default();
            *total = total.saturating_add(*n);
        }
        drop(totals);
        self.rooms.tick(room, Utf8Bytes::from(reactions_frame(counts)?));
        Ok(())
    }

    async fn reaction_totals(&self, room: RoomId) -> Result<BTreeMap<Reaction, u64>, BusError> {
        Ok(self.totals.get(&room).map(|t| t.clone()).unwrap_or_default())
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

/// Key `{room:ID}:viewers`: a hash of node → "count:expires_at".
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
        room_key(&self.redis, room, "viewers")
    }

    /// Key `{room:ID}:reactions`: a hash of reaction index → count.
    fn totals_key(&self, room: RoomId) -> String {
        room_key(&self.redis, room, "reactions")
    }
}

/// How long a room's reaction totals outlive its last reaction: longer than any show.
const REACTION_TOTALS_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

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
        let totals = self.totals_key(room);
        let mut pipe = redis::pipe();
        for (reaction, n) in counts {
            pipe.hincr(&totals, reaction.index(), *n).ignore();
        }
        pipe.pexpire(&totals, REACTION_TOTALS_TTL.as_millis() as i64).ignore();
        // The tick goes beside the pipeline, not in it: on a cluster a pipeline keeps to
        // one slot, and the crate counts a channel as a key (its slot is not the room's).
        let (mut count, mut tick) = (self.redis.conn(), self.redis.conn());
        tokio::try_join!(
            pipe.exec_async(&mut count),
            tick.publish::<_, _, ()>(room_channel(&self.redis, room), format!("t\n{frame}")),
        )?;
        Ok(())
    }

    async fn reaction_totals(&self, room: RoomId) -> Result<BTreeMap<Reaction, u64>, BusError> {
        let counts: Vec<(usize, u64)> = self.redis.conn().hgetall(self.totals_key(room)).await?;
        Ok(counts
            .into_iter()
            .filter_map(|(index, n)| Some((*Reaction::ALL.get(index)?, n)))
            .filter(|(_, n)| *n > 0)
            .collect())
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
            let more = BTreeMap::from([(Reaction::Heart, 1), (Reaction::Fire, 2)]);
            bus.presence.publish_reactions(room, &more).await.unwrap();
            let totals = bus.presence.reaction_totals(room).await.unwrap();
            assert_eq!(totals, BTreeMap::from([(Reaction::Heart, 4), (Reaction::Fire, 2)]));
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

    #[tokio::test]
    async fn reaction_totals_add_up_over_nodes() {
        let Some(r) = testing::redis().await else { return };
        let room = RoomId::try_from(2).unwrap();
        let (a, b) = (
            RedisPresence::new(r.redis.clone(), Duration::from_secs(3)),
            RedisPresence::new(r.redis.clone(), Duration::from_secs(3)),
        );
        a.publish_reactions(room, &BTreeMap::from([(Reaction::Wow, 2)])).await.unwrap();
        b.publish_reactions(room, &BTreeMap::from([(Reaction::Wow, 5), (Reaction::Clap, 1)])).await.unwrap();
        let totals = BTreeMap::from([(Reaction::Clap, 1), (Reaction::Wow, 7)]);
        assert_eq!(a.reaction_totals(room).await.unwrap(), totals);
        assert_eq!(b.reaction_totals(room).await.unwrap(), totals);
    }
}
