//! A room's recent history: the frames of its latest events, which a viewer who
//! reconnects with `since` is sent instead of a snapshot (docs/protocol.md).
//!
//! The frames are packed side by side in shared blocks, and the frame sent to viewers is
//! the packed one. Each frame allocated on its own lands wherever the allocator finds room
//! among the short-lived buffers of the fan-out, and keeps that page resident for as long
//! as it is history: after a 2,000-viewer chat storm the 512 frames (about 230 KB) held
//! about 750 KB of pages the allocator could not give back (issue 15: the growth after the
//! storm was 0.5 MB with 16 frames of history, 1.3 MB with 512). Packed, they hold a few
//! blocks, and a block is freed whole once its last frame is forgotten and sent.

use axum::extract::ws::Utf8Bytes;
use bytes::BytesMut;
use std::collections::VecDeque;

/// The smallest block: a room with few events holds little.
const MIN_BLOCK: usize = 1024;

/// The largest block, so that a full history holds at most two blocks' worth of frames
/// it has forgotten or not yet written.
const MAX_BLOCK: usize = 16 * 1024;

#[derive(Debug)]
pub struct History {
    /// The frames held, oldest first, with their sequence numbers.
    frames: VecDeque<(u64, Utf8Bytes)>,
    cap: usize,
    /// The bytes of the frames held, which size the next block.
    bytes: usize,
    /// The room left in the block being filled.
    block: BytesMut,
}

impl History {
    /// Holds the latest `cap` frames.
    pub fn new(cap: usize) -> History {
        History { frames: VecDeque::with_capacity(cap.min(1024)), cap, bytes: 0, block: BytesMut::new() }
    }

    /// Records `frame` as event `seq`, forgetting the oldest when full, and gives back the
    /// recorded frame: the bytes to send.
    pub fn record(&mut self, seq: u64, frame: &str) -> Utf8Bytes {
        if self.frames.len() == self.cap {
            let forgotten = self.frames.pop_front();
            self.bytes -= forgotten.map_or(0, |(_, frame)| frame.len());
        }
        let packed = self.pack(frame);
        self.bytes += packed.len();
        self.frames.push_back((seq, packed.clone()));
        packed
    }

    /// `frame`, copied to the block being filled; a new block (a quarter of the history's
    /// bytes, within [`MIN_BLOCK`] and [`MAX_BLOCK`], or the frame's size) when it has no
    /// room left.
    fn pack(&mut self, frame: &str) -> Utf8Bytes {
        if self.block.capacity() < frame.len() {
            let size = (self.bytes / 4).clamp(MIN_BLOCK, MAX_BLOCK).max(frame.len());
            self.block = BytesMut::with_capacity(size);
        }
        self.block.extend_from_slice(frame.as_bytes());
        // The bytes are `frame`'s, so they are UTF-8; the fallback copies them alone.
        Utf8Bytes::try_from(self.block.split().freeze()).unwrap_or_else(|_| Utf8Bytes::from(frame))
    }

    /// Forgets every frame (a new epoch).
    pub fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
    }

    /// The sequence number of the oldest frame held.
    pub fn oldest(&self) -> Option<u64> {
        self.frames.front().map(|(seq, _)| *seq)
    }

    /// The frames after `since`, oldest first.
    pub fn after(&self, since: u64) -> Vec<(u64, Utf8Bytes)> {
        self.frames.iter().filter(|(seq, _)| *seq > since).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_holds_the_latest_frames_as_recorded() {
        let mut history = History::new(3);
        for seq in 1..=5u64 {
            let sent = history.record(seq, &format!("frame {seq}"));
            assert_eq!(sent.as_str(), format!("frame {seq}"));
        }
        let held: Vec<_> = history.after(0).into_iter().map(|(seq, f)| (seq, f.as_str().to_owned())).collect();
        assert_eq!(held, [(3, "frame 3".into()), (4, "frame 4".into()), (5, "frame 5".into())]);
        assert_eq!(history.oldest(), Some(3));
        assert_eq!(history.bytes, 3 * "frame 3".len());
        history.clear();
        assert_eq!(history.oldest(), None);
        assert_eq!(history.bytes, 0);
    }

    #[test]
    fn frames_share_blocks_and_a_frame_larger_than_a_block_gets_its_own() {
        let mut history = History::new(512);
        let small = "x".repeat(300);
        let first = history.record(1, &small);
        let second = history.record(2, &small);
        // Side by side in one block.
        assert_eq!(second.as_str().as_ptr(), first.as_str().as_ptr().wrapping_add(small.len()));
        let large = "y".repeat(MAX_BLOCK + 1);
        assert_eq!(history.record(3, &large).as_str(), large);
        assert_eq!(history.record(4, &small).as_str(), small);
    }
}
