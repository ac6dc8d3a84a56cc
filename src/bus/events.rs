//! Room events: each gets the room's next sequence number, joins the room's recent
//! history and reaches every node that serves the room, in order.
//!
//! The port sequences and carries; the rooms a node serves keep the history their
//! viewers resume from and fold the events into their state. They are reached through
//! [`RoomSink`], which the room module implements.

use super::BusError;
use crate::domain::{ProductId, RoomId};
use crate::wire::ws::{RoomEvent, ServerMsg};
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a node needs to start serving a room: where its shared history stands.
#[derive(Debug, Default)]
pub struct Bootstrap {
    pub epoch: String,
    pub seq: u64,
    /// Recorded frames, oldest first, with their sequence numbers.
    pub frames: Vec<(u64, Utf8Bytes)>,
    pub pinned: Option<ProductId>,
}

/// What became of an event handed to a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Applied,
    /// Already applied (a catch-up and the live stream overlapped), or the room is not
    /// served on this node.
    Stale,
    /// Events before it are missing: catch up from history first.
    Gap,
}

/// The rooms this node serves, as the bus delivers into them.
pub trait RoomSink: Send + Sync + 'static {
    /// Applies event `seq` of `epoch` (already serialised as `frame`) to the room, if
    /// this node serves it: the next sequence number is applied, an old one ignored, a
    /// later one reported as a gap. An event of another epoch starts the room afresh.
    fn deliver(&self, room: RoomId, epoch: &str, seq: u64, frame: Utf8Bytes, event: &RoomEvent) -> Delivered;
    /// Gives `event` (serialised as `body`) the room's next sequence number, records it
    /// and hands it to the room's viewers: sequencing by the room itself, for one node.
    /// A room not served here has no viewers and no history: the event is dropped.
    fn record(&self, room: RoomId, body: &str, event: &RoomEvent);
    /// Moves the room to `seq` of `epoch` when history no longer holds what lies between.
    fn restart_at(&self, room: RoomId, epoch: &str, seq: u64);
    /// An unsequenced frame (a tick) for the room's viewers on this node.
    fn tick(&self, room: RoomId, frame: Utf8Bytes);
    /// The epoch and last sequence number the room has applied, if served here.
    fn position(&self, room: RoomId) -> Option<(String, u64)>;
    /// The rooms served here.
    fn served(&self) -> Vec<RoomId>;
}

/// An event's place in a chain of events that different nodes decide one after another
/// (an auction's start, each bid, its end; a product's card after each change) and
/// announce each after committing its own: two nodes can commit in one order and publish
/// in the other, so the bus holds an event back until the one before it in its chain is
/// out ([`RoomEvents::publish_in_turn`]), or drops one that a later one has overtaken
/// ([`RoomEvents::publish_if_newer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// Names the chain within the room, e.g. `auction:11`, `product:5`.
    pub chain: String,
    /// Its place in the chain: for [`RoomEvents::publish_in_turn`], 0 for the chain's
    /// first event, then one more for each; for [`RoomEvents::publish_if_newer`], any
    /// number that grows with each event (a version).
    pub n: u64,
    /// The chain's last event: the bus may forget the chain once it is out.
    pub last: bool,
}

/// How long an event waits for the one before it in its chain. An event that never comes
/// (its node failed between committing and announcing it) costs its successor this long;
/// the chain then goes on without it.
pub const TURN_WAIT: Duration = Duration::from_secs(1);

/// The longest pause between two looks at whether an event's turn has come.
const TURN_POLL: Duration = Duration::from_millis(16);

/// What became of one attempt to publish an event in its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    Published,
    /// The event before it in its chain is not out yet.
    Early,
    /// Its chain is already past it (it came later than [`TURN_WAIT`]): it is not
    /// published, as it would undo what came after it.
    Passed,
}

#[async_trait]
pub trait RoomEvents: Send + Sync + 'static {
    /// The shared history of a room, for a node that starts serving it.
    async fn bootstrap(&self, room: RoomId) -> Result<Bootstrap, BusError>;
    /// Starts delivering the room's events to this node (its sink now serves the room).
    async fn attach(&self, room: RoomId) -> Result<(), BusError>;
    /// Stops delivering the room's events to this node (it has no viewers left).
    async fn detach(&self, room: RoomId) -> Result<(), BusError>;
    /// Sequences `event`, records it in the room's history and delivers it to every node
    /// that serves the room: published when `turn` is `None`, when its turn has come, or
    /// when `force` is set and its chain is not past it.
    async fn offer(
        &self,
        room: RoomId,
        event: &RoomEvent,
        turn: Option<&Turn>,
        force: bool,
    ) -> Result<Offered, BusError>;

    /// Sequences `event`, records it in the room's history and delivers it to every node
    /// that serves the room.
    async fn publish(&self, room: RoomId, event: &RoomEvent) -> Result<(), BusError> {
        self.offer(room, event, None, false).await.map(drop)
    }

    /// Publishes `event` unless its chain is already at or past it, without waiting for
    /// the events before it: for events that each replace the one before (a product's
    /// card), where an older one arriving late would undo a newer one; `Passed` when it
    /// was not published.
    async fn publish_if_newer(&self, room: RoomId, event: &RoomEvent, turn: &Turn) -> Result<Offered, BusError> {
        self.offer(room, event, Some(turn), true).await
    }

    /// Publishes `event` once the event before it in its chain is out, or after
    /// [`TURN_WAIT`] without it; `Passed` when the chain went on without this one.
    async fn publish_in_turn(&self, room: RoomId, event: &RoomEvent, turn: &Turn) -> Result<Offered, BusError> {
        let deadline = tokio::time::Instant::now() + TURN_WAIT;
        let mut pause = Duration::from_millis(1);
        loop {
            let force = tokio::time::Instant::now() >= deadline;
            match self.offer(room, event, Some(turn), force).await? {
                Offered::Early => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(TURN_POLL);
                }
                Offered::Passed => {
                    tracing::warn!(%room, chain = turn.chain, n = turn.n, "the chain went on without this event; not published");
                    return Ok(Offered::Passed);
                }
                Offered::Published => {
                    if force {
                        tracing::warn!(%room, chain = turn.chain, n = turn.n, "published at the end of its wait for its turn");
                    }
                    return Ok(Offered::Published);
                }
            }
        }
    }
}

/// Judges turn `n` of a chain whose last published turn is `last`. An unknown chain
/// (never started here, forgotten after its last turn, or its state lost) takes any turn.
fn judge(last: Option<u64>, n: u64, force: bool) -> Offered {
    match last {
        Some(last) if n <= last => Offered::Passed,
        Some(last) if n > last + 1 && !force => Offered::Early,
        _ => Offered::Published,
    }
}

/// The frame of a room event around its already serialised body; the Redis publish
/// script assembles the same bytes.
pub fn event_frame(seq: u64, body: &str) -> String {
    format!(r#"{{"type":"event","seq":{seq},"event":{body}}}"#)
}

/// Parses a recorded event frame back into its event, for folding into a node's state.
pub fn parse_event(frame: &str) -> Option<(u64, RoomEvent)> {
    match serde_json::from_str(frame).ok()? {
        ServerMsg::Event { seq, event } => Some((seq, event)),
        _ => None,
    }
}

/// One node: the room it serves is the only place its events live, so the room itself
/// numbers them ([`RoomSink::record`]). A room that is let go and loaded again starts a
/// new epoch.
pub struct MemoryRoomEvents {
    rooms: Arc<dyn RoomSink>,
    /// The last turn published of each chain (room, chain) until its last turn. Held
    /// while a turn is judged and recorded, so two turns cannot pass each other. A
    /// product's cards form a chain with no last turn: a room's chains are forgotten when
    /// it ends, so what stays is one entry per product card announced in an open room.
    turns: Mutex<HashMap<(RoomId, String), u64>>,
}

impl MemoryRoomEvents {
    pub fn new(rooms: Arc<dyn RoomSink>) -> Self {
        Self { rooms, turns: Mutex::default() }
    }
}

#[async_trait]
impl RoomEvents for MemoryRoomEvents {
    async fn bootstrap(&self, _room: RoomId) -> Result<Bootstrap, BusError> {
        Ok(Bootstrap { epoch: super::random_id(), ..Bootstrap::default() })
    }

    async fn attach(&self, _room: RoomId) -> Result<(), BusError> {
        Ok(())
    }

    async fn detach(&self, _room: RoomId) -> Result<(), BusError> {
        Ok(())
    }

    async fn offer(
        &self,
        room: RoomId,
        event: &RoomEvent,
        turn: Option<&Turn>,
        force: bool,
    ) -> Result<Offered, BusError> {
        let body = serde_json::to_string(event)?;
        // Held until the event is recorded, so a later turn cannot overtake it.
        let _judged = match turn {
            Some(turn) => {
                let mut turns = self.turns.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let key = (room, turn.chain.clone());
                let offered = judge(turns.get(&key).copied(), turn.n, force);
                if offered != Offered::Published {
                    return Ok(offered);
                }
                if turn.last {
                    turns.remove(&key);
                } else {
                    turns.insert(key, turn.n);
                }
                Some(turns)
            }
            None => None,
        };
        if matches!(event, RoomEvent::RoomEnded) {
            // An ended room takes no more cards or bids: its chains would only hold memory.
            self.turns.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|(r, _), _| *r != room);
        }
        metrics::counter!("livecart_room_events_total").increment(1);
        self.rooms.record(room, &body, event);
        Ok(Offered::Published)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::testing::{RecordingSink, eventually};
    use crate::bus::{Bus, RedisSettings, testing};
    use crate::domain::UnixMs;
    use crate::wire::ws::{CommentView, Speaker};
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    fn comment(text: &str) -> RoomEvent {
        RoomEvent::Comment(CommentView {
            author: "a".into(),
            author_key: "g1".into(),
            speaker: Speaker::Guest,
            text: text.into(),
            at: UnixMs(0),
        })
    }

    /// The texts of the comments the sink has seen, in order.
    fn texts(sink: &RecordingSink) -> Vec<String> {
        let text = |e: &RoomEvent| match e {
            RoomEvent::Comment(c) => c.text.clone(),
            other => format!("{other:?}"),
        };
        sink.seen().events.iter().map(|(_, e)| text(e)).collect()
    }

    /// The shared suite: each backend's bus delivering into a recording sink.
    async fn each(check: impl AsyncFn(&Bus, &RecordingSink)) {
        let sink = Arc::new(RecordingSink::default());
        check(&Bus::memory(Arc::clone(&sink) as _), &sink).await;
        if let Some(r) = testing::redis().await {
            let sink = Arc::new(RecordingSink::default());
            let shutdown = CancellationToken::new();
            let settings = RedisSettings { history: 4, viewer_ttl: Duration::from_secs(3) };
            let bus = Bus::redis(&r.redis, Arc::clone(&sink) as _, settings, shutdown.clone()).await.unwrap();
            check(&bus, &sink).await;
            shutdown.cancel();
        }
    }

    /// Room 1, served by the sink from the start of its history.
    async fn serve(bus: &Bus, sink: &RecordingSink) -> RoomId {
        let room = RoomId::try_from(1).unwrap();
        sink.seen().epoch = bus.events.bootstrap(room).await.unwrap().epoch;
        bus.events.attach(room).await.unwrap();
        room
    }

    #[tokio::test]
    async fn events_reach_the_served_room_in_order_with_increasing_sequence_numbers() {
        each(async |bus: &Bus, sink: &RecordingSink| {
            let room = serve(bus, sink).await;
            for i in 0..10 {
                bus.events.publish(room, &comment(&i.to_string())).await.unwrap();
            }
            eventually("ten events arrived", || sink.seen().events.len() == 10).await;
            let seqs: Vec<u64> = sink.seen().events.iter().map(|(s, _)| *s).collect();
            assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
        })
        .await;
    }

    #[tokio::test]
    async fn a_chains_events_go_out_in_turn_and_one_its_chain_went_on_without_is_dropped() {
        each(async |bus: &Bus, sink: &RecordingSink| {
            let room = serve(bus, sink).await;
            let turn = |n, last| Turn { chain: "auction:1".into(), n, last };
            let publish = async |n: u64, last: bool| {
                bus.events.publish_in_turn(room, &comment(&n.to_string()), &turn(n, last)).await.unwrap()
            };
            assert_eq!(publish(0, false).await, Offered::Published);
            // Turn 2 is offered first and waits for turn 1, which comes a moment later.
            let late_first = async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                publish(1, false).await
            };
            let (second, first) = tokio::join!(publish(2, false), late_first);
            assert_eq!((first, second), (Offered::Published, Offered::Published));
            // Turn 3 never comes in time: turn 4 goes out after its wait, and 3 is dropped.
            assert_eq!(publish(4, false).await, Offered::Published);
            assert_eq!(publish(3, false).await, Offered::Passed);
            assert_eq!(publish(5, true).await, Offered::Published);
            eventually("five events arrived", || texts(sink).len() == 5).await;
            assert_eq!(texts(sink), ["0", "1", "2", "4", "5"]);
        })
        .await;
    }

    #[tokio::test]
    async fn a_card_older_than_the_last_one_out_is_dropped_and_a_newer_one_never_waits() {
        each(async |bus: &Bus, sink: &RecordingSink| {
            let room = serve(bus, sink).await;
            let publish = async |n: u64| {
                let turn = Turn { chain: "product:5".into(), n, last: false };
                bus.events.publish_if_newer(room, &comment(&n.to_string()), &turn).await.unwrap()
            };
            assert_eq!(publish(3).await, Offered::Published);
            // Versions 4 to 6 were announced elsewhere or not at all: 7 goes out at its one
            // offer, never `Early`.
            assert_eq!(publish(7).await, Offered::Published);
            assert_eq!(publish(5).await, Offered::Passed);
            assert_eq!(publish(7).await, Offered::Passed, "the same card twice goes out once");
            assert_eq!(publish(8).await, Offered::Published);
            eventually("three events arrived", || texts(sink).len() == 3).await;
            assert_eq!(texts(sink), ["3", "7", "8"]);
        })
        .await;
    }

    #[tokio::test]
    async fn one_node_forgets_an_ended_rooms_chains() {
        let sink = Arc::new(RecordingSink::default());
        let bus = Bus::memory(Arc::clone(&sink) as _);
        let room = serve(&bus, &sink).await;
        let card = |n| Turn { chain: "product:5".into(), n, last: false };
        assert_eq!(bus.events.publish_if_newer(room, &comment("7"), &card(7)).await.unwrap(), Offered::Published);
        assert_eq!(bus.events.publish_if_newer(room, &comment("3"), &card(3)).await.unwrap(), Offered::Passed);
        bus.events.publish(room, &RoomEvent::RoomEnded).await.unwrap();
        // Nothing of the ended room's chain is kept: a card of any version is judged afresh.
        assert_eq!(bus.events.publish_if_newer(room, &comment("3"), &card(3)).await.unwrap(), Offered::Published);
    }

    #[tokio::test]
    async fn a_node_starting_to_serve_a_room_gets_its_recent_history_and_epoch() {
        let Some(r) = testing::redis().await else { return };
        let sink = Arc::new(RecordingSink::default());
        let settings = RedisSettings { history: 4, viewer_ttl: Duration::from_secs(3) };
        let shutdown = CancellationToken::new();
        let bus = Bus::redis(&r.redis, Arc::clone(&sink) as _, settings, shutdown.clone()).await.unwrap();
        let room = RoomId::try_from(1).unwrap();
        for i in 0..6 {
            bus.events.publish(room, &comment(&i.to_string())).await.unwrap();
        }
        let start = bus.events.bootstrap(room).await.unwrap();
        assert_eq!(start.seq, 6);
        let kept: Vec<u64> = start.frames.iter().map(|(s, _)| *s).collect();
        assert_eq!(kept, vec![3, 4, 5, 6], "history keeps the last 4 events");
        assert_eq!(bus.events.bootstrap(room).await.unwrap().epoch, start.epoch, "one epoch per room");
        shutdown.cancel();
    }
}
