//! Connections to close on every node: the sockets of a revoked session (a logout), those
//! of a viewer banned from a room or from all of a creator's rooms, and whatever else must
//! lose its connection at once. A connection watches its targets (one watch for them all);
//! a kick published on any node reaches the watches of that target on every node.
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
use futures_util::task::AtomicWaker;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

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
    /// One watch on this node over all of a connection's `targets`: kicked when the first
    /// of them is.
    fn watch(&self, targets: Vec<Target>) -> Watch;
}

/// Kicked when the first of its targets is; stops watching when dropped. One watch
/// serves all the targets of a connection (its session, each ban that would close it),
/// and its one waiter is the connection's task: a kick wakes it, no future waits in a
/// queue for it.
pub struct Watch {
    watched: Arc<Watched>,
    board: Arc<Board>,
}

/// What a watch and the board share.
struct Watched {
    targets: Box<[Target]>,
    /// One more than the index of the first target kicked; 0 until one is.
    kicked: AtomicUsize,
    /// The task to wake when a target is kicked.
    waker: AtomicWaker,
}

impl Watch {
    /// The first of the watch's targets to be kicked, once one is; otherwise the task
    /// is woken when one is.
    pub fn poll_kicked(&self, cx: &mut Context<'_>) -> Poll<&Target> {
        if let Some(target) = self.kicked_target() {
            return Poll::Ready(target);
        }
        self.watched.waker.register(cx.waker());
        self.kicked_target().map_or(Poll::Pending, Poll::Ready)
    }

    /// The first of the watch's targets to be kicked.
    pub async fn kicked(&self) -> &Target {
        std::future::poll_fn(|cx| self.poll_kicked(cx)).await
    }

    /// Whether one of its targets was kicked.
    pub fn is_kicked(&self) -> bool {
        self.kicked_target().is_some()
    }

    fn kicked_target(&self) -> Option<&Target> {
        let kicked = self.watched.kicked.load(Ordering::Acquire);
        kicked.checked_sub(1).map(|i| &self.watched.targets[i])
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.board.unwatch(&self.watched);
    }
}

/// The watches open on this node, by the hash of each of their targets: the map keeps no
/// copy of a target (a watch has them), and a kick compares its target with each watch's
/// own, so two targets of one hash never kick each other's watches.
#[derive(Default)]
pub struct Board {
    watches: DashMap<u64, Vec<Arc<Watched>>>,
    hasher: RandomState,
}

impl Board {
    fn watch(self: &Arc<Self>, targets: Vec<Target>) -> Watch {
        let watched =
            Arc::new(Watched { targets: targets.into(), kicked: AtomicUsize::new(0), waker: AtomicWaker::new() });
        for target in &watched.targets {
            // Most targets have one watch: room for one.
            let mut entry = self.watches.entry(self.hasher.hash_one(target)).or_insert_with(|| Vec::with_capacity(1));
            entry.push(Arc::clone(&watched));
        }
        Watch { watched, board: Arc::clone(self) }
    }

    fn unwatch(&self, watched: &Arc<Watched>) {
        for target in &watched.targets {
            self.watches.remove_if_mut(&self.hasher.hash_one(target), |_, open| {
                open.retain(|w| !Arc::ptr_eq(w, watched));
                open.is_empty()
            });
        }
    }

    fn kick(&self, target: &Target) {
        let Some(open) = self.watches.get(&self.hasher.hash_one(target)) else { return };
        for watched in open.iter() {
            let Some(i) = watched.targets.iter().position(|t| t == target) else { continue };
            // The first kick names the target; a later one finds the watch kicked already.
            if watched.kicked.compare_exchange(0, i + 1, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                watched.waker.wake();
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

    fn watch(&self, targets: Vec<Target>) -> Watch {
        self.board.watch(targets)
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

    fn watch(&self, targets: Vec<Target>) -> Watch {
        self.board.watch(targets)
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
    async fn a_kick_reaches_the_watches_of_its_target_and_no_other() {
        let sink = Arc::new(RecordingSink::default());
        let (buses, _redis) = buses(&sink).await;
        for (bus, shutdown) in buses {
            let mine = Target::Session("a".into());
            let (first, second) = (bus.kicks.watch(vec![mine.clone()]), bus.kicks.watch(vec![mine.clone()]));
            let other = bus.kicks.watch(vec![Target::Session("b".into())]);
            let room = RoomId::try_from(7).unwrap();
            let banned = Target::Room { room, who: "a3".into() };
            let creator = Target::Creator { creator: AccountId::try_from(1).unwrap(), who: "a3".into() };
            let (in_room, elsewhere) = (
                bus.kicks.watch(vec![creator.clone(), banned.clone()]),
                bus.kicks.watch(vec![Target::Room { room: RoomId::try_from(8).unwrap(), who: "a3".into() }]),
            );
            bus.kicks.kick(&mine).await.unwrap();
            tokio::time::timeout(Duration::from_secs(5), async {
                assert_eq!(first.kicked().await, &mine);
                assert_eq!(second.kicked().await, &mine);
            })
            .await
            .expect("both connections of the session are kicked");
            assert!(!other.is_kicked());
            drop(other);
            bus.kicks.kick(&banned).await.unwrap();
            let kicked = tokio::time::timeout(Duration::from_secs(5), in_room.kicked())
                .await
                .expect("a ban closes the viewer's connections in the room");
            assert_eq!(kicked, &banned, "the watch names which of its targets was kicked");
            assert!(!elsewhere.is_kicked(), "and in no other room");
            bus.kicks.kick(&creator).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(in_room.kicked().await, &banned, "the first kick is the one named");
            let late = bus.kicks.watch(vec![mine]);
            assert!(!late.is_kicked(), "a kick is not remembered for connections opened after it");
            shutdown.inspect(tokio_util::sync::CancellationToken::cancel);
        }
    }
}
