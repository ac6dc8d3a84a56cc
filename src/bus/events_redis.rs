//! Room events shared through Redis, for any number of nodes.
//!
//! Keys (under the deployment prefix): `room:{id}:seq`, `room:{id}:hist` (a sorted set of
//! frames scored by sequence number), `room:{id}:epoch` and `room:{id}:pinned`, written
//! together by one publish script, so history and fan-out can never disagree. The
//! channel `room:{id}` carries `e\n{epoch}\n{frame}` for events and `t\n{frame}` for
//! ticks, to the nodes that serve the room.

use super::channels::{Channels, Listener};
use super::events::{Bootstrap, Delivered, RoomEvents, RoomSink, parse_event};
use super::{BusError, random_id};
use crate::domain::{ProductId, RoomId};
use crate::redis::Redis;
use crate::telemetry::timed;
use crate::wire::ws::RoomEvent;
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use redis::{AsyncCommands, Script};
use std::sync::{Arc, LazyLock};

/// Gives the event the next number, adds it to the history (trimmed), keeps the pin in
/// step and publishes it, atomically.
static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[3], epoch)
end
local seq = redis.call('INCR', KEYS[1])
local frame = '{"type":"event","seq":' .. seq .. ',"event":' .. ARGV[1] .. '}'
redis.call('ZADD', KEYS[2], seq, frame)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
if ARGV[5] == 'set' then redis.call('SET', KEYS[4], ARGV[6]) elseif ARGV[5] == 'del' then redis.call('DEL', KEYS[4]) end
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[7]) end
redis.call('PUBLISH', ARGV[4], 'e\n' .. epoch .. '\n' .. frame)
return seq
"#,
    )
});

/// How long room keys outlive the room's last event.
const ROOM_KEY_TTL_SECS: u64 = 2 * 24 * 3600;

/// The channel kind rooms use; presence publishes its ticks on the same channels.
pub(super) const ROOM_CHANNEL: &str = "room:";

pub(super) struct RedisRoomEvents {
    redis: Redis,
    rooms: Arc<dyn RoomSink>,
    history: usize,
    channels: Arc<Channels>,
}

/// The channel of a room's events and ticks.
pub(super) fn room_channel(redis: &Redis, room: RoomId) -> String {
    redis.key(&format!("{ROOM_CHANNEL}{room}"))
}

impl RedisRoomEvents {
    pub(super) fn new(redis: Redis, rooms: Arc<dyn RoomSink>, history: usize, channels: Arc<Channels>) -> Self {
        Self { redis, rooms, history, channels }
    }

    fn key(&self, room: RoomId, part: &str) -> String {
        self.redis.key(&format!("room:{room}:{part}"))
    }

    fn channel(&self, room: RoomId) -> String {
        room_channel(&self.redis, room)
    }

    /// Applies what shared history holds beyond the room's state, in order. When history
    /// no longer reaches back far enough, the room jumps ahead and its viewers resync.
    async fn catch_up(&self, room: RoomId) {
        let Some((mine, current)) = self.rooms.position(room) else { return };
        let mut conn = self.redis.conn();
        let Ok(Some(epoch)) = conn.get::<_, Option<String>>(self.key(room, "epoch")).await else {
            return;
        };
        let from = if epoch == mine { current + 1 } else { 1 };
        let frames: Vec<(String, u64)> = match conn.zrangebyscore_withscores(self.key(room, "hist"), from, "+inf").await
        {
            Ok(frames) => frames,
            Err(e) => {
                tracing::warn!(%room, error = &e as &dyn std::error::Error, "catch-up failed");
                return;
            }
        };
        for (frame, seq) in frames {
            let Some((_, event)) = parse_event(&frame) else { continue };
            let frame = Utf8Bytes::from(frame);
            if self.rooms.deliver(room, &epoch, seq, frame.clone(), &event) == Delivered::Gap {
                self.rooms.restart_at(room, &epoch, seq - 1);
                self.rooms.deliver(room, &epoch, seq, frame, &event);
            }
        }
    }
}

#[async_trait]
impl Listener for RedisRoomEvents {
    fn kind(&self) -> &'static str {
        ROOM_CHANNEL
    }

    async fn message(&self, name: &str, payload: &[u8]) {
        let Some(room) = name.parse::<i64>().ok().and_then(|r| RoomId::try_from(r).ok()) else { return };
        let Ok(payload) = std::str::from_utf8(payload) else { return };
        match payload.split_once('\n') {
            Some(("t", tick)) => self.rooms.tick(room, Utf8Bytes::from(tick.to_owned())),
            Some(("e", rest)) => {
                let Some((epoch, frame)) = rest.split_once('\n') else { return };
                let Some((seq, event)) = parse_event(frame) else { return };
                if self.rooms.deliver(room, epoch, seq, Utf8Bytes::from(frame.to_owned()), &event) == Delivered::Gap {
                    self.catch_up(room).await;
                }
            }
            _ => {}
        }
    }

    async fn resumed(&self) {
        for room in self.rooms.served() {
            self.catch_up(room).await;
        }
    }
}

#[async_trait]
impl RoomEvents for RedisRoomEvents {
    async fn bootstrap(&self, room: RoomId) -> Result<Bootstrap, BusError> {
        let mut conn = self.redis.conn();
        let epoch_key = self.key(room, "epoch");
        let _: bool = conn.set_nx(&epoch_key, random_id()).await?;
        let (epoch, seq, pinned): (Option<String>, Option<u64>, Option<i64>) = redis::pipe()
            .get(&epoch_key)
            .get(self.key(room, "seq"))
            .get(self.key(room, "pinned"))
            .query_async(&mut conn)
            .await?;
        let frames: Vec<(String, u64)> = conn.zrange_withscores(self.key(room, "hist"), 0, -1).await?;
        Ok(Bootstrap {
            // Set just above; only a flush in between could have removed it.
            epoch: epoch.unwrap_or_else(random_id),
            seq: seq.unwrap_or(0),
            frames: frames.into_iter().map(|(f, s)| (s, Utf8Bytes::from(f))).collect(),
            pinned: pinned.and_then(|p| ProductId::try_from(p).ok()),
        })
    }

    async fn attach(&self, room: RoomId) -> Result<(), BusError> {
        self.channels.subscribe(self.channel(room)).await?;
        // Anything published between the bootstrap read and the subscription.
        self.catch_up(room).await;
        Ok(())
    }

    async fn detach(&self, room: RoomId) -> Result<(), BusError> {
        self.channels.unsubscribe(&self.channel(room)).await
    }

    async fn publish(&self, room: RoomId, event: &RoomEvent) -> Result<(), BusError> {
        let body = serde_json::to_string(event)?;
        let (pin_op, pin_val) = match event {
            RoomEvent::Pinned { product } => ("set", product.id.get()),
            RoomEvent::Unpinned { .. } | RoomEvent::RoomEnded => ("del", 0),
            _ => ("", 0),
        };
        metrics::counter!("livecart_room_events_total").increment(1);
        let mut conn = self.redis.conn();
        let mut publish = PUBLISH.key(self.key(room, "seq"));
        publish
            .key(self.key(room, "hist"))
            .key(self.key(room, "epoch"))
            .key(self.key(room, "pinned"))
            .arg(body)
            .arg(self.history)
            .arg(random_id())
            .arg(self.channel(room))
            .arg(pin_op)
            .arg(pin_val)
            .arg(ROOM_KEY_TTL_SECS);
        timed("livecart_redis_seconds", "publish", publish.invoke_async::<u64>(&mut conn)).await?;
        Ok(())
    }
}
