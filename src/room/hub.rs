//! The directory of rooms this node serves, the brand sales feeds, and comment rate limits.

use super::live::LiveRoom;
use super::rate::{RateLimit, TokenBucket};
use crate::domain::{BrandId, RoomId, UnixMs};
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
    comment_buckets: DashMap<String, TokenBucket>,
}

impl RoomHub {
    pub fn get(&self, id: RoomId) -> Option<Arc<LiveRoom>> {
        self.rooms.get(&id).map(|r| Arc::clone(&r))
    }

    /// Adds a freshly loaded room unless another task loaded it first; returns the one kept.
    pub fn insert(&self, room: LiveRoom) -> Arc<LiveRoom> {
        Arc::clone(&self.rooms.entry(room.id).or_insert_with(|| Arc::new(room)))
    }

    pub fn rooms(&self) -> Vec<Arc<LiveRoom>> {
        self.rooms.iter().map(|r| Arc::clone(&r)).collect()
    }

    pub fn remove(&self, id: RoomId) {
        self.rooms.remove(&id);
    }

    pub fn follow_sales(&self, brand: BrandId) -> broadcast::Receiver<Utf8Bytes> {
        self.sales
            .entry(brand)
            .or_insert_with(|| broadcast::channel(SALES_FEED_CAPACITY).0)
            .subscribe()
    }

    pub fn send_sale(&self, brand: BrandId, frame: Utf8Bytes) {
        if let Some(feed) = self.sales.get(&brand) {
            if feed.send(frame).is_err() {
                drop(feed);
                self.sales.remove_if(&brand, |_, f| f.receiver_count() == 0);
            }
        }
    }

    /// Takes one comment token for `key`; false when the viewer must slow down.
    pub fn allow_comment(&self, key: &str, limit: RateLimit, now: UnixMs) -> bool {
        self.comment_buckets
            .entry(key.to_owned())
            .or_insert_with(|| TokenBucket::full(limit, now))
            .try_take(limit, now)
    }

    /// Forgets buckets that have refilled: they hold nothing a new bucket would not.
    pub fn forget_idle_buckets(&self, limit: RateLimit, now: UnixMs) {
        self.comment_buckets.retain(|_, b| !b.is_full(limit, now));
    }
}
