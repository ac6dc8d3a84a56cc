//! The directory of rooms this node serves, and the bus's way into them.

use super::live::LiveRoom;
use crate::bus::{Delivered, RoomSink};
use crate::domain::RoomId;
use crate::wire::ws::RoomEvent;
use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use std::sync::Arc;

#[derive(Default)]
pub struct RoomHub {
    /// The only map shared by all connections; each room's own state is room-local.
    rooms: DashMap<RoomId, Arc<LiveRoom>>,
}

impl RoomHub {
    pub fn get(&self, id: RoomId) -> Option<Arc<LiveRoom>> {
        self.rooms.get(&id).map(|r| Arc::clone(&r))
    }

    /// Adds a freshly loaded room unless another task loaded it first; returns the one
    /// kept and whether it is the one given.
    pub fn insert(&self, room: LiveRoom) -> (Arc<LiveRoom>, bool) {
        match self.rooms.entry(room.id) {
            dashmap::Entry::Occupied(kept) => (Arc::clone(kept.get()), false),
            dashmap::Entry::Vacant(slot) => (Arc::clone(slot.insert(Arc::new(room)).value()), true),
        }
    }

    pub fn rooms(&self) -> Vec<Arc<LiveRoom>> {
        self.rooms.iter().map(|r| Arc::clone(&r)).collect()
    }

    pub fn remove(&self, id: RoomId) {
        self.rooms.remove(&id);
    }
}

impl RoomSink for RoomHub {
    fn deliver(&self, room: RoomId, epoch: &str, seq: u64, frame: Utf8Bytes, event: &RoomEvent) -> Delivered {
        self.get(room).map_or(Delivered::Stale, |r| r.deliver(epoch, seq, frame, event))
    }

    fn record(&self, room: RoomId, body: &str, event: &RoomEvent) {
        if let Some(r) = self.get(room) {
            r.record(body, event);
        }
    }

    fn restart_at(&self, room: RoomId, epoch: &str, seq: u64) {
        if let Some(r) = self.get(room) {
            r.restart_at(epoch, seq);
        }
    }

    fn tick(&self, room: RoomId, frame: Utf8Bytes) {
        if let Some(r) = self.get(room) {
            r.tick_frame(frame);
        }
    }

    fn position(&self, room: RoomId) -> Option<(String, u64)> {
        self.get(room).map(|r| r.read(|s| (s.epoch.clone(), s.seq)))
    }

    fn served(&self) -> Vec<RoomId> {
        self.rooms.iter().map(|r| *r.key()).collect()
    }
}
