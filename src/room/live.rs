//! One room as this node serves it: cached facts from the database, the event-folded
//! state, and the broadcast channel that carries frames to local viewers.

use super::state::RoomState;
use crate::domain::{AccountId, ProductId, Reaction, RoomId};
use crate::store::ProductRow;
use crate::wire::ws::{RoomCard, RoomEvent, ServerMsg};
use axum::extract::ws::Utf8Bytes;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// A frame for every viewer of a room, serialised once. `seq` is set for room events
/// (so a viewer can detect a gap) and unset for ticks.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub seq: Option<u64>,
    pub frame: Utf8Bytes,
}

pub struct LiveRoom {
    pub id: RoomId,
    pub host: AccountId,
    /// Title and host as of loading; status lives in `state`.
    pub card: RoomCard,
    /// The products lined up for the room, fixed when it was scheduled.
    pub lineup: Vec<ProductRow>,
    /// Guarded by a std mutex: every section is a few field updates and one channel
    /// send, never an `.await`.
    state: Mutex<RoomState>,
    frames: broadcast::Sender<Delivery>,
    viewers: AtomicU64,
    /// Viewers reported in the last tick, so an unchanged count is not re-sent.
    reported_viewers: AtomicU64,
    reactions: [AtomicU64; Reaction::ALL.len()],
}

impl LiveRoom {
    pub fn new(
        card: RoomCard,
        lineup: Vec<ProductRow>,
        state: RoomState,
        channel_capacity: usize,
    ) -> Self {
        Self {
            id: card.id,
            host: card.host.id,
            card,
            lineup,
            state: Mutex::new(state),
            frames: broadcast::channel(channel_capacity).0,
            viewers: AtomicU64::new(0),
            reported_viewers: AtomicU64::new(0),
            reactions: Default::default(),
        }
    }

    pub fn product(&self, id: ProductId) -> Option<&ProductRow> {
        self.lineup.iter().find(|p| p.id == id)
    }

    /// Reads the state under its lock.
    pub fn read<T>(&self, f: impl FnOnce(&RoomState) -> T) -> T {
        let state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&state)
    }

    /// Reads the state and subscribes in one critical section, so the subscriber receives
    /// exactly the events after what it read: no gap, no duplicate.
    pub fn read_and_subscribe<T>(
        &self,
        f: impl FnOnce(&RoomState) -> T,
    ) -> (T, broadcast::Receiver<Delivery>) {
        let state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let out = f(&state);
        (out, self.frames.subscribe())
    }

    /// Gives `event` the next sequence number, records it and sends it to local viewers.
    /// The event is serialised once, outside the lock; the frame is assembled around it.
    pub fn record(&self, event: &RoomEvent) -> Result<u64, serde_json::Error> {
        let body = serde_json::to_string(event)?;
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let seq = state.seq + 1;
        let frame = Utf8Bytes::from(format!(r#"{{"type":"event","seq":{seq},"event":{body}}}"#));
        state.apply(seq, event, frame.clone());
        // No receivers is fine: nobody is watching right now.
        let _ = self.frames.send(Delivery {
            seq: Some(seq),
            frame,
        });
        Ok(seq)
    }

    /// Sends an unsequenced tick to local viewers.
    pub fn tick(&self, msg: &ServerMsg) -> Result<(), serde_json::Error> {
        let frame = Utf8Bytes::from(serde_json::to_string(msg)?);
        let _ = self.frames.send(Delivery { seq: None, frame });
        Ok(())
    }

    pub fn viewer_joined(&self) {
        self.viewers.fetch_add(1, Ordering::Relaxed);
    }

    pub fn viewer_left(&self) {
        self.viewers.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn viewers(&self) -> u64 {
        self.viewers.load(Ordering::Relaxed)
    }

    /// The viewer count if it changed since the last call.
    pub fn viewers_if_changed(&self) -> Option<u64> {
        let now = self.viewers();
        (self.reported_viewers.swap(now, Ordering::Relaxed) != now).then_some(now)
    }

    pub fn react(&self, reaction: Reaction) {
        self.reactions[reaction.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Takes the reaction counts gathered since the last call.
    pub fn take_reactions(&self) -> BTreeMap<Reaction, u64> {
        Reaction::ALL
            .iter()
            .filter_map(|r| {
                let n = self.reactions[r.index()].swap(0, Ordering::Relaxed);
                (n > 0).then_some((*r, n))
            })
            .collect()
    }
}
