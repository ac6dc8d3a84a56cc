//! Open feeds on this node, one bounded broadcast channel per key (a brand's sales, an
//! account's notices): what reaches a key from any node is handed to each of its open
//! receivers here without waiting.

use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use std::hash::Hash;
use tokio::sync::broadcast;

pub(super) struct LocalFeeds<K: Eq + Hash> {
    feeds: DashMap<K, broadcast::Sender<Utf8Bytes>>,
    /// Frames a receiver may fall behind by before it is told it lagged.
    capacity: usize,
}

impl<K: Eq + Hash + Copy> LocalFeeds<K> {
    pub(super) fn new(capacity: usize) -> Self {
        Self { feeds: DashMap::new(), capacity }
    }

    pub(super) fn follow(&self, key: K) -> broadcast::Receiver<Utf8Bytes> {
        self.feeds.entry(key).or_insert_with(|| broadcast::channel(self.capacity).0).subscribe()
    }

    /// Hands the frame to the key's open receivers; forgets a key nobody follows any more.
    pub(super) fn send(&self, key: K, frame: Utf8Bytes) {
        if let Some(feed) = self.feeds.get(&key) {
            if feed.send(frame).is_err() {
                drop(feed);
                self.feeds.remove_if(&key, |_, f| f.receiver_count() == 0);
            }
        }
    }
}
