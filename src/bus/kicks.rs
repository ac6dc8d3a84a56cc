//! Connections to close on every node: the sockets of a revoked session (a logout), those
//! of a viewer banned from a room or from all of a creator's rooms, and whatever else must
//! lose its connection at once. A connection watches its targets; a
//! kick published on any node cancels the watches of that target on every node.
//!
//! Kicks are at-most-once across nodes (Redis pub/sub): a node that misses one while
//! disconnected from Redis closes the connection when its session expires instead, and
//! every request it makes is checked against the database.

use super::BusError;
use super::channels::{Channels, Listener};
use crate::domain::{AccountId, RoomId};
use crate::redis::Redis;
use async_trait::async_trait;
use dashmap::DashMap;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;

/// Whose connections to close.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Target {
    /// Every connection opened with this session (its token's hash).
    Session(String),
    /// Every connection of `who` in the room: `a{account}`, `g{guest connection}` or
    /// `n{lower-case guest name}` (a ban from the room).
    Room { room: RoomId, who: String },
    /// Every connection of `who` in any room of the creator (a ban from all their rooms).
    Creator { creator: AccountId, who: String },
}

#[async_trait]
pub trait Kicks: Send + Sync + 'static {
    /// Closes the target's connections on every node.
    async fn kick(&self, target: &Target) -> Result<(), BusError>;
    /// A watch on the target's connections on this node: cancelled when it is kicked.
    fn watch(&self, target: Target) -> Watch;
}

/// Cancelled when its target is kicked; stops watching when dropped.
pub struct Watch {
    pub kicked: CancellationToken,
    board: Arc<Board>,
    target: Target,
    id: u64,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.board.unwatch(&self.target, self.id);
    }
}

/// The watches open on this node, by target.
#[derive(Default)]
pub struct Board {
    watches: DashMap<Target, Vec<(u64, CancellationToken)>>,
    next: AtomicU64,
}

impl Board {
    fn watch(self: &Arc<Self>, target: Target) -> Watch {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let kicked = CancellationToken::new();
        self.watches.entry(target.clone()).or_default().push((id, kicked.clone()));
        Watch { kicked, board: Arc::clone(self), target, id }
    }

    fn unwatch(&self, target: &Target, id: u64) {
        if let dashmap::Entry::Occupied(mut entry) = self.watches.entry(target.clone()) {
            entry.get_mut().retain(|(w, _)| *w != id);
            if entry.get().is_empty() {
                entry.remove();
            }
        }
    }

    fn kick(&self, target: &Target) {
        if let Some((_, watches)) = self.watches.remove(target) {
            for (_, kicked) in watches {
                kicked.cancel();
            }
        }
    }
}

/// One node: a kick is a local cancellation.
#[derive(Default)]
pub struct MemoryKicks {
    board: Arc<Board>,
}

#[async_trait]
impl Kicks for MemoryKicks {
    async fn kick(&self, target: &Target) -> Result<(), BusError> {
        self.board.kick(target);
        Ok(())
    }

    fn watch(&self, target: Target) -> Watch {
        self.board.watch(target)
    }
}

const KICK_CHANNEL: &str = "kicks:";
/// The one channel every node listens on for kicks.
const ALL: &str = "all";

/// Channel `kicks:all` carries every kick to every node.
pub struct RedisKicks {
    redis: Redis,
    board: Arc<Board>,
}

impl RedisKicks {
    /// Starts listening for kicks from every node.
    pub(super) async fn start(redis: Redis, channels: &Channels, board: Arc<Board>) -> Result<Self, BusError> {
        channels.subscribe(redis.key(&format!("{KICK_CHANNEL}{ALL}"))).await?;
        Ok(RedisKicks { redis, board })
    }
}

#[async_trait]
impl Kicks for RedisKicks {
    async fn kick(&self, target: &Target) -> Result<(), BusError> {
        let message = serde_json::to_string(target)?;
        let channel = self.redis.key(&format!("{KICK_CHANNEL}{ALL}"));
        Ok(self.redis.conn().publish::<_, _, ()>(channel, message).await?)
    }

    fn watch(&self, target: Target) -> Watch {
        self.board.watch(target)
    }
}

/// Delivers kicks from other nodes (and this one) to this node's watches.
pub(super) struct KickListener(pub(super) Arc<Board>);

impl Listener for KickListener {
    fn kind(&self) -> &'static str {
        KICK_CHANNEL
    }

    fn message(&self, _name: &str, payload: &[u8]) {
        if let Ok(target) = serde_json::from_slice::<Target>(payload) {
            self.0.kick(&target);
        }
    }

    /// Kicks sent while the subscription was down are lost; sessions still expire, and
    /// every request is checked against the database.
    fn resumed(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::testing::{RecordingSink, buses};
    use std::time::Duration;

    #[tokio::test]
    async fn a_kick_cancels_the_watches_of_its_target_and_no_other() {
        let sink = Arc::new(RecordingSink::default());
        let (buses, _redis) = buses(&sink).await;
        for (bus, shutdown) in buses {
            let mine = Target::Session("a".into());
            let (first, second) = (bus.kicks.watch(mine.clone()), bus.kicks.watch(mine.clone()));
            let other = bus.kicks.watch(Target::Session("b".into()));
            let room = RoomId::try_from(7).unwrap();
            let banned = Target::Room { room, who: "a3".into() };
            let (in_room, elsewhere) = (
                bus.kicks.watch(banned.clone()),
                bus.kicks.watch(Target::Room { room: RoomId::try_from(8).unwrap(), who: "a3".into() }),
            );
            bus.kicks.kick(&mine).await.unwrap();
            tokio::time::timeout(Duration::from_secs(5), async {
                first.kicked.cancelled().await;
                second.kicked.cancelled().await;
            })
            .await
            .expect("both connections of the session are kicked");
            assert!(!other.kicked.is_cancelled());
            drop(other);
            bus.kicks.kick(&banned).await.unwrap();
            tokio::time::timeout(Duration::from_secs(5), in_room.kicked.cancelled())
                .await
                .expect("a ban closes the viewer's connections in the room");
            assert!(!elsewhere.kicked.is_cancelled(), "and in no other room");
            let late = bus.kicks.watch(mine);
            assert!(!late.kicked.is_cancelled(), "a kick is not remembered for connections opened after it");
            shutdown.inspect(CancellationToken::cancel);
        }
    }
}
