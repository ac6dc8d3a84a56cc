//! The Redis bus: shared room history and sequence numbers, cross-node fan-out, viewer
//! counts, comment rate limits and checkout claims, for any number of nodes.
//!
//! Keys (all under the configured prefix):
//! - `room:{id}:seq`, `room:{id}:hist` (sorted set of frames scored by sequence number),
//!   `room:{id}:epoch`, `room:{id}:pinned`: written together by one publish script, so
//!   history and fan-out can never disagree.
//! - `room:{id}:viewers`: hash of node → "count:expires_at"; stale nodes drop out.
//! - `rate:{viewer}`: a comment token bucket. `claim:{buyer}:{key}`: a running checkout.
//!
//! Channels: `room:{id}` (a node subscribes while it has viewers of the room, so one
//! message per event reaches each such node, never one per viewer) and `brand:{id}`.

use super::{Bootstrap, Bus, BusError, parse_event};
use crate::domain::{AccountId, BrandId, ProductId, Reaction, RoomId, UnixMs};
use crate::room::RoomHub;
use crate::room::live::{Delivered, LiveRoom};
use crate::room::rate::RateLimit;
use crate::telemetry::timed;
use crate::wire::ws::{BrandSale, RoomEvent, ServerMsg};
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use base64::Engine;
use dashmap::DashSet;
use futures_util::StreamExt;
use rand::RngCore;
use redis::aio::{ConnectionManager, PubSubSink, PubSubStream};
use redis::{AsyncCommands, Script};
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::sync::{Mutex, broadcast};
use tokio_util::sync::CancellationToken;

/// A connection to Redis with the key prefix of this deployment (or of one test).
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    pub conn: ConnectionManager,
    pub prefix: String,
}

pub(crate) fn err(e: impl std::fmt::Display) -> BusError {
    BusError(e.to_string())
}

impl Redis {
    pub async fn connect(url: &str, prefix: &str) -> Result<Redis, BusError> {
        let client = redis::Client::open(url).map_err(err)?;
        let conn = client.get_connection_manager().await.map_err(err)?;
        Ok(Redis { client, conn, prefix: prefix.to_owned() })
    }

    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    pub async fn ping(&self) -> Result<(), BusError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await.map(drop).map_err(err)
    }
}

/// Keeps the room's history, sequence and pin consistent with what is published: the
/// event gets the next number, joins the history (trimmed), and goes out, atomically.
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

static COMMENT_BUCKET: LazyLock<Script> = LazyLock::new(|| {
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

/// Deletes a key only if it still holds the given value (another node may have taken over).
static CLEAR_IF_MINE: LazyLock<Script> = LazyLock::new(|| {
    Script::new("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
});

/// How long room keys outlive the room's last event.
const ROOM_KEY_TTL_SECS: u64 = 2 * 24 * 3600;
/// A running checkout's claim lapses after this, should its node die mid-way.
const CLAIM_TTL_MS: u64 = 60_000;

pub struct RedisBus {
    redis: Redis,
    hub: Arc<RoomHub>,
    /// Identifies this node in viewer counts.
    node: String,
    history_cap: usize,
    /// How long a node's viewer count stands without being refreshed.
    viewer_ttl: Duration,
    sink: Mutex<PubSubSink>,
    /// Channels this node listens on, re-subscribed after a reconnect.
    channels: DashSet<String>,
}

fn random_id() -> String {
    let mut raw = [0u8; 9];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

impl RedisBus {
    /// Connects the subscriber and starts the task that delivers messages until shutdown.
    pub async fn start(
        redis: Redis,
        hub: Arc<RoomHub>,
        history_cap: usize,
        tick: Duration,
        shutdown: CancellationToken,
    ) -> Result<Arc<RedisBus>, BusError> {
        let (sink, stream) = redis.client.get_async_pubsub().await.map_err(err)?.split();
        let bus = Arc::new(RedisBus {
            redis,
            hub,
            node: random_id(),
            history_cap,
            viewer_ttl: (tick * 5).max(Duration::from_secs(3)),
            sink: Mutex::new(sink),
            channels: DashSet::new(),
        });
        tokio::spawn(Arc::clone(&bus).listen(stream, shutdown));
        Ok(bus)
    }

    fn room_key(&self, room: RoomId, part: &str) -> String {
        self.redis.key(&format!("room:{room}:{part}"))
    }

    fn room_channel(&self, room: RoomId) -> String {
        self.redis.key(&format!("room:{room}"))
    }

    fn brand_channel(&self, brand: BrandId) -> String {
        self.redis.key(&format!("brand:{brand}"))
    }

    async fn subscribe(&self, channel: String) -> Result<(), BusError> {
        if self.channels.insert(channel.clone()) {
            self.sink.lock().await.subscribe(&channel).await.map_err(err)?;
        }
        Ok(())
    }

    /// Delivers messages in arrival order; after a lost connection, reconnects,
    /// re-subscribes and catches every room up from history.
    async fn listen(self: Arc<Self>, mut stream: PubSubStream, shutdown: CancellationToken) {
        loop {
            loop {
                let msg = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    msg = stream.next() => msg,
                };
                let Some(msg) = msg else { break };
                self.handle(msg.get_channel_name(), msg.get_payload_bytes()).await;
            }
            tracing::warn!("redis subscription lost; reconnecting");
            stream = loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
                match self.resubscribe().await {
                    Ok(stream) => break stream,
                    Err(e) => tracing::warn!(error = %e, "redis resubscribe failed"),
                }
            };
            for room in self.hub.rooms() {
                self.catch_up(&room).await;
            }
        }
    }

    async fn resubscribe(&self) -> Result<PubSubStream, BusError> {
        let (mut sink, stream) = self.redis.client.get_async_pubsub().await.map_err(err)?.split();
        let channels: Vec<String> = self.channels.iter().map(|c| c.clone()).collect();
        if !channels.is_empty() {
            sink.subscribe(&channels).await.map_err(err)?;
        }
        *self.sink.lock().await = sink;
        Ok(stream)
    }

    async fn handle(&self, channel: &str, payload: &[u8]) {
        let Some(rest) = channel.strip_prefix(&self.redis.prefix) else {
            return;
        };
        let Ok(payload) = std::str::from_utf8(payload) else {
            return;
        };
        if let Some(brand) = rest.strip_prefix("brand:").and_then(|b| b.parse::<i64>().ok()) {
            if let Ok(brand) = BrandId::try_from(brand) {
                self.hub.send_sale(brand, Utf8Bytes::from(payload.to_owned()));
            }
            return;
        }
        let Some(room) = rest.strip_prefix("room:").and_then(|r| r.parse::<i64>().ok()) else {
            return;
        };
        let Some(room) = RoomId::try_from(room).ok().and_then(|id| self.hub.get(id)) else {
            return;
        };
        match payload.split_once('\n') {
            Some(("t", tick)) => room.tick_frame(Utf8Bytes::from(tick.to_owned())),
            Some(("e", rest)) => {
                let Some((epoch, frame)) = rest.split_once('\n') else {
                    return;
                };
                let Some((seq, event)) = parse_event(frame) else {
                    return;
                };
                if room.deliver(epoch, seq, Utf8Bytes::from(frame.to_owned()), &event) == Delivered::Gap {
                    self.catch_up(&room).await;
                }
            }
            _ => {}
        }
    }

    /// Applies what shared history holds beyond the room's state, in order. When history
    /// no longer reaches back far enough, the room jumps ahead and its viewers resync.
    async fn catch_up(&self, room: &LiveRoom) {
        let mut conn = self.redis.conn.clone();
        let (mine, current) = room.read(|s| (s.epoch.clone(), s.seq));
        let Ok(Some(epoch)) = conn.get::<_, Option<String>>(self.room_key(room.id, "epoch")).await else {
            return;
        };
        let from = if epoch == mine { current + 1 } else { 1 };
        let frames: Vec<(String, u64)> =
            match conn.zrangebyscore_withscores(self.room_key(room.id, "hist"), from, "+inf").await {
                Ok(frames) => frames,
                Err(e) => {
                    tracing::warn!(room = %room.id, error = %e, "catch-up failed");
                    return;
                }
            };
        for (frame, seq) in frames {
            let Some((_, event)) = parse_event(&frame) else {
                continue;
            };
            let frame = Utf8Bytes::from(frame);
            if room.deliver(&epoch, seq, frame.clone(), &event) == Delivered::Gap {
                room.restart_at(&epoch, seq - 1);
                room.deliver(&epoch, seq, frame, &event);
            }
        }
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn bootstrap(&self, room: RoomId) -> Result<Bootstrap, BusError> {
        let mut conn = self.redis.conn.clone();
        let epoch_key = self.room_key(room, "epoch");
        let _: bool = conn.set_nx(&epoch_key, random_id()).await.map_err(err)?;
        let (epoch, seq, pinned): (Option<String>, Option<u64>, Option<i64>) = redis::pipe()
            .get(&epoch_key)
            .get(self.room_key(room, "seq"))
            .get(self.room_key(room, "pinned"))
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        let frames: Vec<(String, u64)> =
            conn.zrange_withscores(self.room_key(room, "hist"), 0, -1).await.map_err(err)?;
        Ok(Bootstrap {
            epoch,
            seq: seq.unwrap_or(0),
            frames: frames.into_iter().map(|(f, s)| (s, Utf8Bytes::from(f))).collect(),
            pinned: pinned.and_then(|p| ProductId::try_from(p).ok()),
        })
    }

    async fn attach(&self, room: Arc<LiveRoom>) -> Result<(), BusError> {
        self.subscribe(self.room_channel(room.id)).await?;
        // Anything published between the bootstrap read and the subscription.
        self.catch_up(&room).await;
        Ok(())
    }

    async fn detach(&self, room: RoomId) -> Result<(), BusError> {
        let channel = self.room_channel(room);
        if self.channels.remove(&channel).is_some() {
            self.sink.lock().await.unsubscribe(&channel).await.map_err(err)?;
        }
        let mut conn = self.redis.conn.clone();
        conn.hdel::<_, _, ()>(self.room_key(room, "viewers"), &self.node).await.map_err(err)
    }

    async fn publish(&self, room: &LiveRoom, event: RoomEvent) -> Result<u64, BusError> {
        let body = serde_json::to_string(&event).map_err(err)?;
        let (pin_op, pin_val) = match &event {
            RoomEvent::Pinned { product } => ("set", product.id.get()),
            RoomEvent::Unpinned { .. } | RoomEvent::RoomEnded => ("del", 0),
            _ => ("", 0),
        };
        metrics::counter!("livecart_room_events_total").increment(1);
        let mut conn = self.redis.conn.clone();
        let mut publish = PUBLISH.key(self.room_key(room.id, "seq"));
        publish
            .key(self.room_key(room.id, "hist"))
            .key(self.room_key(room.id, "epoch"))
            .key(self.room_key(room.id, "pinned"))
            .arg(body)
            .arg(self.history_cap)
            .arg(random_id())
            .arg(self.room_channel(room.id))
            .arg(pin_op)
            .arg(pin_val)
            .arg(ROOM_KEY_TTL_SECS);
        timed("livecart_redis_seconds", "publish", publish.invoke_async(&mut conn)).await.map_err(err)
    }

    async fn publish_reactions(&self, room: &LiveRoom, counts: BTreeMap<Reaction, u64>) -> Result<(), BusError> {
        let frame = serde_json::to_string(&ServerMsg::Reactions { counts }).map_err(err)?;
        let mut conn = self.redis.conn.clone();
        conn.publish::<_, _, ()>(self.room_channel(room.id), format!("t\n{frame}")).await.map_err(err)
    }

    async fn viewer_total(&self, room: &LiveRoom, now: UnixMs) -> Result<u64, BusError> {
        let mut conn = self.redis.conn.clone();
        VIEWERS
            .key(self.room_key(room.id, "viewers"))
            .arg(&self.node)
            .arg(room.viewers())
            .arg(now.0)
            .arg(self.viewer_ttl.as_millis() as u64)
            .invoke_async(&mut conn)
            .await
            .map_err(err)
    }

    async fn publish_sale(&self, brand: BrandId, sale: &BrandSale) -> Result<(), BusError> {
        let frame = serde_json::to_string(&ServerMsg::BrandSale(Box::new(sale.clone()))).map_err(err)?;
        let mut conn = self.redis.conn.clone();
        conn.publish::<_, _, ()>(self.brand_channel(brand), frame).await.map_err(err)
    }

    async fn follow_sales(&self, brand: BrandId) -> Result<broadcast::Receiver<Utf8Bytes>, BusError> {
        let feed = self.hub.follow_sales(brand);
        self.subscribe(self.brand_channel(brand)).await?;
        Ok(feed)
    }

    async fn allow_comment(&self, key: &str, limit: RateLimit, now: UnixMs) -> Result<bool, BusError> {
        let mut conn = self.redis.conn.clone();
        let ok: i64 = COMMENT_BUCKET
            .key(self.redis.key(&format!("rate:{key}")))
            .arg(limit.burst)
            .arg(limit.refill_ms)
            .arg(now.0)
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(ok == 1)
    }

    async fn claim_checkout(&self, buyer: AccountId, key: &str) -> Result<bool, BusError> {
        let mut conn = self.redis.conn.clone();
        let claimed: Option<String> = redis::cmd("SET")
            .arg(self.redis.key(&format!("claim:{buyer}:{key}")))
            .arg(&self.node)
            .arg("NX")
            .arg("PX")
            .arg(CLAIM_TTL_MS)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(claimed.is_some())
    }

    async fn release_checkout(&self, buyer: AccountId, key: &str) -> Result<(), BusError> {
        let mut conn = self.redis.conn.clone();
        conn.del::<_, ()>(self.redis.key(&format!("claim:{buyer}:{key}"))).await.map_err(err)
    }

    async fn set_media_home(&self, room: RoomId, node: &str, holds: bool) -> Result<(), BusError> {
        let mut conn = self.redis.conn.clone();
        let key = self.room_key(room, "media");
        if holds {
            conn.set_ex::<_, _, ()>(key, node, ROOM_KEY_TTL_SECS).await.map_err(err)
        } else {
            CLEAR_IF_MINE.key(key).arg(node).invoke_async::<i64>(&mut conn).await.map(drop).map_err(err)
        }
    }

    async fn media_home(&self, room: RoomId) -> Result<Option<String>, BusError> {
        let mut conn = self.redis.conn.clone();
        conn.get(self.room_key(room, "media")).await.map_err(err)
    }
}
