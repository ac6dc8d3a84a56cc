//! Room events shared through Redis, for any number of nodes.
//!
//! Keys (under the deployment prefix): `{room:ID}:seq`, `{room:ID}:hist` (a sorted set of
//! frames scored by sequence number), `{room:ID}:epoch` and `{room:ID}:pinned`, written
//! together by one publish script, so history and fan-out can never disagree; the room's
//! hash tag keeps them in one slot of a Redis Cluster, as the script needs. The
//! channel `room:ID` carries `e\n{epoch}\n{frame}` for events and `t\n{frame}` for
//! ticks, to the nodes that serve the room.

use super::channels::{Channels, Listener};
use super::events::{Bootstrap, Delivered, Offered, RoomEvents, RoomSink, Turn, parse_event};
use super::{BusError, random_id};
use crate::domain::{ProductId, RoomId};
use crate::redis::Redis;
use crate::telemetry::{Causes, timed};
use crate::wire::ws::RoomEvent;
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use redis::{AsyncCommands, Script};
use std::sync::{Arc, LazyLock};
use tokio_util::sync::CancellationToken;

/// Gives the event the next number, adds it to the history (trimmed), keeps the pin in
/// step and publishes it, atomically; an event in a chain only in its turn (the same
/// judgement as [`super::events`]' memory bus: -1 early, -2 passed).
static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if ARGV[8] ~= '' then
  local n = tonumber(ARGV[8])
  local last = redis.call('GET', KEYS[5])
  if last then
    last = tonumber(last)
    if n <= last then return -2 end
    if n > last + 1 and ARGV[9] ~= '1' then return -1 end
  end
  redis.call('SET', KEYS[5], n, 'EX', ARGV[10])
end
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

/// How long a chain is remembered after its last turn: long enough to judge a straggler
/// passed, short enough that finished auctions leave nothing behind.
const ENDED_CHAIN_TTL_SECS: u64 = 60;

/// The channel kind rooms use; presence publishes its ticks on the same channels.
pub(super) const ROOM_CHANNEL: &str = "room:";

pub(super) struct RedisRoomEvents {
    redis: Redis,
    rooms: Arc<dyn RoomSink>,
    history: usize,
    channels: Arc<Channels>,
    catch_ups: Arc<CatchUps>,
}

/// The channel of a room's events and ticks.
pub(super) fn room_channel(redis: &Redis, room: RoomId) -> String {
    redis.key(&format!("{ROOM_CHANNEL}{room}"))
}

/// A key of the room's shared state, `{room:ID}:part`: every one of a room is in the
/// room's hash slot, so scripts and pipelines may touch any of them together.
pub(super) fn room_key(redis: &Redis, room: RoomId, part: &str) -> String {
    redis.tagged(&format!("room:{room}"), part)
}

impl RedisRoomEvents {
    /// Catch-ups it starts stop at `shutdown`.
    pub(super) fn new(
        redis: Redis,
        rooms: Arc<dyn RoomSink>,
        history: usize,
        channels: Arc<Channels>,
        shutdown: CancellationToken,
    ) -> Self {
        let catch_ups = Arc::new(CatchUps {
            redis: redis.clone(),
            rooms: Arc::clone(&rooms),
            pending: Pending::default(),
            shutdown,
        });
        Self { redis, rooms, history, channels, catch_ups }
    }

    fn key(&self, room: RoomId, part: &str) -> String {
        room_key(&self.redis, room, part)
    }

    fn channel(&self, room: RoomId) -> String {
        room_channel(&self.redis, room)
    }
}

impl Listener for RedisRoomEvents {
    fn kind(&self) -> &'static str {
        ROOM_CHANNEL
    }

    /// Applies the event if it is the room's next, and leaves a gap to a catch-up on a
    /// task of its own: the other rooms' messages never wait for a Redis read.
    fn message(&self, name: &str, payload: &[u8]) {
        let Some(room) = name.parse::<i64>().ok().and_then(|r| RoomId::try_from(r).ok()) else { return };
        let Ok(payload) = std::str::from_utf8(payload) else { return };
        match payload.split_once('\n') {
            Some(("t", tick)) => self.rooms.tick(room, Utf8Bytes::from(tick.to_owned())),
            Some(("e", rest)) => {
                let Some((epoch, frame)) = rest.split_once('\n') else { return };
                let Some((seq, event)) = parse_event(frame) else { return };
                if self.rooms.deliver(room, epoch, seq, Utf8Bytes::from(frame.to_owned()), &event) == Delivered::Gap {
                    self.catch_ups.request(room);
                }
            }
            _ => {}
        }
    }

    /// Every event is in history before it is published, so what the interruption kept
    /// from each room is there to catch up on.
    fn resumed(&self) {
        for room in self.rooms.served() {
            self.catch_ups.request(room);
        }
    }
}

/// Brings rooms up to date from shared history, each on a task of its own and at most one
/// at a time per room. A catch-up asked for while one runs is folded into a single rerun
/// once it ends: the rerun reads everything the asks could have wanted, since every event
/// is in history before it is published. Meanwhile the room's live messages still reach
/// the sink, applied when next in sequence and otherwise only asking for that rerun.
struct CatchUps {
    redis: Redis,
    rooms: Arc<dyn RoomSink>,
    pending: Pending,
    shutdown: CancellationToken,
}

impl CatchUps {
    /// Catches `room` up soon, on its own task; returns at once.
    fn request(self: &Arc<Self>, room: RoomId) {
        if !self.shutdown.is_cancelled() && self.pending.claim(room) {
            tokio::spawn(Arc::clone(self).run(room));
        }
    }

    /// Catches up until no further catch-up was asked for, or until shutdown.
    async fn run(self: Arc<Self>, room: RoomId) {
        let mut idle = Idle { pending: &self.pending, room, on_drop: true };
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.catch_up(room) => {}
            }
            if !self.pending.rerun(room) {
                idle.on_drop = false;
                return;
            }
        }
    }

    /// Applies what shared history holds beyond the room's state, in order: one read of
    /// the epoch and one of history from the room's next sequence number. When history
    /// no longer reaches back far enough, the room jumps ahead and its viewers resync.
    async fn catch_up(&self, room: RoomId) {
        let Some((mine, current)) = self.rooms.position(room) else { return };
        let mut conn = self.redis.conn();
        let epoch = match conn.get::<_, Option<String>>(room_key(&self.redis, room, "epoch")).await {
            Ok(Some(epoch)) => epoch,
            // Nothing of the room is in Redis (its keys expired, or Redis lost them).
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(%room, error = %Causes(&e), "catch-up failed");
                return;
            }
        };
        let from = if epoch == mine { current + 1 } else { 1 };
        let hist = room_key(&self.redis, room, "hist");
        let frames: Vec<(String, u64)> = match conn.zrangebyscore_withscores(hist, from, "+inf").await {
            Ok(frames) => frames,
            Err(e) => {
                tracing::warn!(%room, error = %Causes(&e), "catch-up failed");
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

/// Where each room's catch-up stands: a room absent is idle.
#[derive(Default)]
struct Pending(DashMap<RoomId, CatchUp>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CatchUp {
    Running,
    /// Running, and asked for again since it read history.
    Dirty,
}

impl Pending {
    /// Whether the caller is to start a catch-up of `room`: yes when none runs; otherwise
    /// the running one is marked to run once more.
    fn claim(&self, room: RoomId) -> bool {
        match self.0.entry(room) {
            dashmap::Entry::Occupied(mut running) => {
                running.insert(CatchUp::Dirty);
                false
            }
            dashmap::Entry::Vacant(idle) => {
                idle.insert(CatchUp::Running);
                true
            }
        }
    }

    /// Ends a pass of `room`'s catch-up: whether to run another (it was asked for
    /// meanwhile) or, if not, the room is idle again. One step, so no ask falls between.
    fn rerun(&self, room: RoomId) -> bool {
        match self.0.entry(room) {
            dashmap::Entry::Occupied(mut state) if *state.get() == CatchUp::Dirty => {
                state.insert(CatchUp::Running);
                true
            }
            dashmap::Entry::Occupied(state) => {
                state.remove();
                false
            }
            dashmap::Entry::Vacant(_) => false,
        }
    }
}

/// Makes the room idle again when its catch-up task ends early (shutdown, or a panic in
/// the sink), so that it is never left marked as running with nothing running.
struct Idle<'a> {
    pending: &'a Pending,
    room: RoomId,
    on_drop: bool,
}

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        if self.on_drop {
            self.pending.0.remove(&self.room);
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
        // Anything published between the bootstrap read and the subscription, applied by
        // a catch-up like any other: on its own task, one at a time per room.
        self.catch_ups.request(room);
        Ok(())
    }

    async fn detach(&self, room: RoomId) -> Result<(), BusError> {
        self.channels.unsubscribe(&self.channel(room)).await
    }

    async fn offer(
        &self,
        room: RoomId,
        event: &RoomEvent,
        turn: Option<&Turn>,
        force: bool,
    ) -> Result<Offered, BusError> {
        let body = serde_json::to_string(event)?;
        let (pin_op, pin_val) = match event {
            RoomEvent::Pinned { product } => ("set", product.id.get()),
            RoomEvent::Unpinned { .. } | RoomEvent::RoomEnded => ("del", 0),
            _ => ("", 0),
        };
        let mut conn = self.redis.conn();
        let mut publish = PUBLISH.key(self.key(room, "seq"));
        publish
            .key(self.key(room, "hist"))
            .key(self.key(room, "epoch"))
            .key(self.key(room, "pinned"))
            .key(self.key(room, &format!("turn:{}", turn.map_or("", |t| &t.chain))))
            .arg(body)
            .arg(self.history)
            .arg(random_id())
            .arg(self.channel(room))
            .arg(pin_op)
            .arg(pin_val)
            .arg(ROOM_KEY_TTL_SECS)
            .arg(turn.map_or(String::new(), |t| t.n.to_string()))
            .arg(if force { "1" } else { "0" })
            .arg(if turn.is_some_and(|t| t.last) { ENDED_CHAIN_TTL_SECS } else { ROOM_KEY_TTL_SECS });
        let offered = match timed("livecart_redis_seconds", "publish", publish.invoke_async::<i64>(&mut conn)).await? {
            -1 => Offered::Early,
            -2 => Offered::Passed,
            _ => Offered::Published,
        };
        if offered == Offered::Published {
            metrics::counter!("livecart_room_events_total").increment(1);
        }
        Ok(offered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::testing::{self, RecordingSink, TestRedis, eventually};
    use crate::bus::{Bus, RedisSettings};
    use crate::domain::UnixMs;
    use crate::wire::ws::{CommentView, Speaker};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    fn comment(text: &str) -> RoomEvent {
        RoomEvent::Comment(CommentView {
            author: "a".into(),
            author_key: "g1".into(),
            speaker: Speaker::Guest,
            text: text.into(),
            at: UnixMs(0),
        })
    }

    fn room(id: i64) -> RoomId {
        RoomId::try_from(id).unwrap()
    }

    fn settings(history: usize) -> RedisSettings {
        RedisSettings { history, viewer_ttl: Duration::from_secs(3) }
    }

    #[test]
    fn asks_while_a_catch_up_runs_fold_into_one_rerun() {
        let pending = Pending::default();
        assert!(pending.claim(room(1)), "an idle room starts a catch-up");
        assert!(!pending.claim(room(1)), "a running one is only marked");
        assert!(!pending.claim(room(1)));
        assert!(pending.claim(room(2)), "rooms are apart");
        assert!(pending.rerun(room(1)), "one rerun for both asks");
        assert!(!pending.rerun(room(1)), "then the room is idle");
        assert!(pending.claim(room(1)), "and the next ask starts one again");
        drop(Idle { pending: &pending, room: room(1), on_drop: true });
        assert!(pending.claim(room(1)), "a task that ended early leaves the room idle");
    }

    /// How long the gate holds anyone at most; past it the test has failed anyway.
    const HOLD_BOUND: Duration = Duration::from_secs(10);

    /// Holds whoever passes while it is closed.
    #[derive(Default)]
    struct Gate {
        /// Guarded by a std mutex: no awaits inside, and the condvar needs one.
        closed: Mutex<bool>,
        opened: Condvar,
        held: AtomicUsize,
    }

    impl Gate {
        fn close(&self) {
            *self.closed.lock().unwrap() = true;
        }

        fn open(&self) {
            *self.closed.lock().unwrap() = false;
            self.opened.notify_all();
        }

        fn held(&self) -> usize {
            self.held.load(SeqCst)
        }

        /// Blocks the calling thread (the runtime hands its other tasks to another one).
        fn pass(&self) {
            if !*self.closed.lock().unwrap() {
                return;
            }
            tokio::task::block_in_place(|| {
                self.held.fetch_add(1, SeqCst);
                let closed = self.closed.lock().unwrap();
                drop(self.opened.wait_timeout_while(closed, HOLD_BOUND, |closed| *closed).unwrap());
                self.held.fetch_sub(1, SeqCst);
            });
        }
    }

    /// Rooms 1 (A) and 2 (B), each recorded apart. A catch-up of A waits at `gate` (it
    /// starts by asking the room's position), and A's next event can be lost on the way in,
    /// which leaves A a gap.
    #[derive(Default)]
    struct TwoRooms {
        a: RecordingSink,
        b: RecordingSink,
        gate: Gate,
        lose_next_a: AtomicBool,
    }

    impl TwoRooms {
        fn of(&self, id: RoomId) -> &RecordingSink {
            if id == room(1) { &self.a } else { &self.b }
        }
    }

    impl RoomSink for TwoRooms {
        fn deliver(&self, id: RoomId, epoch: &str, seq: u64, frame: Utf8Bytes, event: &RoomEvent) -> Delivered {
            if id == room(1) && self.lose_next_a.swap(false, SeqCst) {
                return Delivered::Applied;
            }
            self.of(id).deliver(id, epoch, seq, frame, event)
        }

        fn record(&self, id: RoomId, body: &str, event: &RoomEvent) {
            self.of(id).record(id, body, event);
        }

        fn restart_at(&self, id: RoomId, epoch: &str, seq: u64) {
            self.of(id).restart_at(id, epoch, seq);
        }

        fn tick(&self, id: RoomId, frame: Utf8Bytes) {
            self.of(id).tick(id, frame);
        }

        fn position(&self, id: RoomId) -> Option<(String, u64)> {
            if id == room(1) {
                self.gate.pass();
            }
            self.of(id).position(id)
        }

        fn served(&self) -> Vec<RoomId> {
            vec![room(1), room(2)]
        }
    }

    /// With the catch-up awaited inline by the listener, as it once was, room B's events
    /// would queue behind room A's held catch-up and never arrive while it is held.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rooms_catch_up_never_holds_up_another_rooms_events() {
        let Some(r) = testing::redis().await else { return };
        let sink = Arc::new(TwoRooms::default());
        let shutdown = CancellationToken::new();
        let bus = Bus::redis(&r.redis, Arc::clone(&sink) as _, settings(16), shutdown.clone()).await.unwrap();
        let (a, b) = (room(1), room(2));
        for id in [a, b] {
            let start = bus.events.bootstrap(id).await.unwrap();
            sink.of(id).seen().epoch = start.epoch;
            bus.events.attach(id).await.unwrap();
        }

        sink.gate.close();
        sink.lose_next_a.store(true, SeqCst);
        bus.events.publish(a, &comment("lost on the way")).await.unwrap();
        bus.events.publish(a, &comment("reveals the gap")).await.unwrap();
        eventually("room A's catch-up is held", || sink.gate.held() == 1).await;

        for i in 0..10 {
            bus.events.publish(b, &comment(&i.to_string())).await.unwrap();
        }
        eventually("room B's ten events arrived", || sink.b.seen().events.len() == 10).await;
        assert_eq!(sink.gate.held(), 1, "room A's catch-up was held all along, and only one ran");
        assert!(sink.a.seen().events.is_empty(), "room A's second event waits for its catch-up");

        sink.gate.open();
        eventually("room A caught up", || sink.a.seen().events.len() == 2).await;
        let seqs: Vec<u64> = sink.a.seen().events.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, vec![1, 2]);
        shutdown.cancel();
    }

    /// Waits (bounded) until this node's subscription to `channel` is confirmed again.
    async fn until_subscribed(r: &TestRedis, channel: &str) {
        for _ in 0..200 {
            if r.subscribers(channel).await == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("timed out waiting until {channel} is subscribed again");
    }

    #[tokio::test]
    async fn events_published_while_the_subscription_was_down_arrive_in_order_once_it_is_back() {
        let Some(r) = testing::redis().await else { return };
        let sink = Arc::new(RecordingSink::default());
        let shutdown = CancellationToken::new();
        let bus = Bus::redis(&r.redis, Arc::clone(&sink) as _, settings(64), shutdown.clone()).await.unwrap();
        let id = room(1);
        let start = bus.events.bootstrap(id).await.unwrap();
        sink.seen().epoch = start.epoch;
        bus.events.attach(id).await.unwrap();
        let channel = room_channel(&r.redis, id);
        let published = std::cell::Cell::new(0u64);
        let publish = async |text: &str| {
            bus.events.publish(id, &comment(text)).await.unwrap();
            published.set(published.get() + 1);
        };
        for i in 0..3 {
            publish(&format!("before {i}")).await;
        }
        eventually("the first events arrived", || sink.seen().events.len() == 3).await;

        // The node waits a moment before reconnecting, so these are published while nobody
        // listens, as the count of subscribers afterwards proves. Should the node have been
        // back already (a very slow machine), try again.
        let mut missed = false;
        for _ in 0..5 {
            until_subscribed(&r, &channel).await;
            assert!(r.kill_subscriber().await, "the subscriber connection goes by its name");
            for i in 0..5 {
                publish(&format!("while down {i}")).await;
            }
            if r.subscribers(&channel).await == 0 {
                missed = true;
                break;
            }
        }
        assert!(missed, "events were published while the subscription was down");

        // Nothing else is published until they arrive: no later event reveals the gap, so
        // only the catch-up on resuming can bring them.
        eventually("the events published while down arrived", || sink.seen().events.len() as u64 == published.get())
            .await;
        until_subscribed(&r, &channel).await;
        publish("after").await;
        eventually("the next event arrived live", || sink.seen().events.len() as u64 == published.get()).await;
        let seqs: Vec<u64> = sink.seen().events.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, (1..=published.get()).collect::<Vec<u64>>(), "in order, none missing, no restart");
        shutdown.cancel();
    }
}
