//! The directory of rooms this node serves, and the brand sales feeds open on it.

use super::live::LiveRoom;
use crate::domain::{BrandId, RoomId};
use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Sales a brand dashboard may fall behind by before it is told to reload.
const SALES_FEED_CAPACITY: usize = 256;

#[derive(Default)]
pub struct RoomHub {
    /// The only map shared by all connections; each room's own state is room-local.
    rooms: DashMap<RoomId, Arc<LiveRoom>>,
    sales: DashMap<BrandId, broadcast::Sender<Utf8Bytes>>,
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

    pub fn follow_sales(&self, brand: BrandId) -> broadcast::Receiver<Utf8Bytes> {
        self.sales.entry(brand).or_insert_with(|| broadcast::channel(SALES_FEED_CAPACITY).0).subscribe()
    }

    pub fn send_sale(&self, brand: BrandId, frame: Utf8Bytes) {
        if let Some(feed) = self.sales.get(&brand) {
            if feed.send(frame).is_err() {
                drop(feed);
                self.sales.remove_if(&brand, |_, f| f.receiver_count() == 0);
            }
        }
    }
}
