//! Open feeds on this node, one bounded broadcast channel per key (a brand's sales, an
//! account's notices): what reaches a key from any node is handed to each of its open
//! receivers here without waiting.

use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::broadcast;

/// Keys held before the first sweep of unfollowed ones.
const FIRST_SWEEP: usize = 1_024;

pub(super) struct LocalFeeds<K: Eq + Hash> {
    feeds: DashMap<K, broadcast::Sender<Utf8Bytes>>,
    /// Frames a receiver may fall behind by before it is told it lagged.
    capacity: usize,
    /// Keys held when the next sweep of unfollowed ones runs: twice what the last left.
    sweep_at: AtomicUsize,
}

impl<K: Eq + Hash + Copy> LocalFeeds<K> {
    pub(super) fn new(capacity: usize) -> Self {
        Self { feeds: DashMap::new(), capacity, sweep_at: AtomicUsize::new(FIRST_SWEEP) }
    }

    pub(super) fn follow(&self, key: K) -> broadcast::Receiver<Utf8Bytes> {
        self.forget_unfollowed();
        // Subscribed under the entry's lock: a sweep cannot take the key in between.
        self.feeds.entry(key).or_insert_with(|| broadcast::channel(self.capacity).0).subscribe()
    }

    /// Forgets the keys nobody follows any more, once the keys held have doubled since
    /// the last time: [`send`](Self::send) forgets a key only when a frame finds it
    /// unfollowed, and most keys (an account's notices) may never get another frame.
    /// Sweeping at doublings keeps a follow's cost constant on average.
    fn forget_unfollowed(&self) {
        if self.feeds.len() < self.sweep_at.load(Ordering::Relaxed) {
            return;
        }
        self.feeds.retain(|_, feed| feed.receiver_count() > 0);
        self.sweep_at.store((2 * self.feeds.len()).max(FIRST_SWEEP), Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_nobody_follows_are_forgotten_as_the_map_grows() {
        let feeds = LocalFeeds::new(4);
        let kept: Vec<_> = (0..10).map(|key| feeds.follow(key)).collect();
        for key in 10..(10 + 4 * FIRST_SWEEP) {
            drop(feeds.follow(key));
        }
        assert!(feeds.feeds.len() <= 2 * FIRST_SWEEP, "{} keys held", feeds.feeds.len());
        for key in 0..10 {
            assert!(feeds.feeds.contains_key(&key), "a followed key is kept");
        }
        drop(kept);
    }
}
