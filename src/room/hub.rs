//! The directory of rooms this node serves, and the bus's way into them.

use super::live::LiveRoom;
use super::visit::Visit;
use crate::bus::{Delivered, RoomSink};
use crate::domain::{AccountId, RoomId};
use crate::wire::ws::RoomEvent;
use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use std::sync::Arc;

#[derive(Default)]
pub struct RoomHub {
    /// The only map shared by all connections; each room's own state is room-local.
    rooms: DashMap<RoomId, Arc<LiveRoom>>,
}

/// A viewer's seat in a room: the viewer counts in the room's viewers exactly as long
/// as the seat is held. Seats are taken under the directory's lock, so a room being let
/// go (no seat is held) and a viewer arriving can never miss each other. A seat named
/// for an account ([`Seat::name`]) counts that account once, however many of its
/// connections hold seats in the room.
pub struct Seat {
    room: Arc<LiveRoom>,
    account: Option<AccountId>,
    /// The viewer's visit, recorded as it ends with the seat (none for the host).
    visit: Option<Visit>,
}

impl Seat {
    /// Says whose seat this is (once, right after it is taken); unnamed, it is a guest's.
    pub fn name(&mut self, account: AccountId) {
        if self.account.is_none() {
            self.room.seat_named(account);
            self.account = Some(account);
        }
    }

    /// Records the viewer's visit for as long as the seat is held.
    pub fn visit(&mut self, visit: Visit) {
        self.visit = Some(visit);
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.room.viewer_left(self.account);
    }
}

fn seat(room: &Arc<LiveRoom>) -> Seat {
    room.viewer_joined();
    Seat { room: Arc::clone(room), account: None, visit: None }
}

impl RoomHub {
    pub fn get(&self, id: RoomId) -> Option<Arc<LiveRoom>> {
        self.rooms.get(&id).map(|r| Arc::clone(&r))
    }

    /// The room, with a seat in it, if this node serves it.
    pub fn enter(&self, id: RoomId) -> Option<(Arc<LiveRoom>, Seat)> {
        // The shard stays read-locked while the seat is taken: `let_go` cannot run between.
        self.rooms.get(&id).map(|r| (Arc::clone(&r), seat(&r)))
    }

    /// Adds a freshly loaded room unless another task loaded it first; returns the one
    /// kept, a seat in it if asked for, and whether it is the one given.
    pub fn insert(&self, room: LiveRoom, seated: bool) -> (Arc<LiveRoom>, Option<Seat>, bool) {
        // The seat is taken while the entry is locked: no other task sees the room empty.
        match self.rooms.entry(room.id) {
            dashmap::Entry::Occupied(kept) => {
                let kept = kept.get();
                (Arc::clone(kept), seated.then(|| seat(kept)), false)
            }
            dashmap::Entry::Vacant(slot) => {
                let kept = slot.insert(Arc::new(room));
                (Arc::clone(kept.value()), seated.then(|| seat(kept.value())), true)
            }
        }
    }

    pub fn rooms(&self) -> Vec<Arc<LiveRoom>> {
        self.rooms.iter().map(|r| Arc::clone(&r)).collect()
    }

    /// Forgets the room if nobody holds a seat in it; true when it did.
    pub fn let_go(&self, id: RoomId) -> bool {
        self.rooms.remove_if(&id, |_, room| room.seats() == 0).is_some()
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
