//! How room events, brand sales and the shared parts of room state reach every node.
//!
//! The memory bus serves a single node: publishing sequences the event in the room itself
//! and hands it to local viewers. The Redis bus sequences and records events in Redis
//! (one atomic script: next sequence number, history, publish) and delivers them to the
//! `LiveRoom` of every node subscribed to the room, which are exactly the nodes with
//! viewers of it. Callers see one trait.

mod memory;
pub mod redis;

pub use memory::MemoryBus;
pub use redis::RedisBus;

use crate::domain::{AccountId, BrandId, ProductId, Reaction, RoomId, UnixMs};
use crate::room::LiveRoom;
use crate::room::rate::RateLimit;
use crate::wire::ws::{BrandSale, RoomEvent};
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::broadcast;

#[derive(Debug, thiserror::Error)]
#[error("bus: {0}")]
pub struct BusError(pub String);

/// What a node needs to start serving a room: where its shared history stands.
#[derive(Debug, Default)]
pub struct Bootstrap {
    /// `None` when no history exists yet: the node picks a fresh epoch.
    pub epoch: Option<String>,
    pub seq: u64,
    /// Recorded frames, oldest first, with their sequence numbers.
    pub frames: Vec<(u64, Utf8Bytes)>,
    pub pinned: Option<ProductId>,
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// The shared history of a room, for a node that starts serving it.
    async fn bootstrap(&self, room: RoomId) -> Result<Bootstrap, BusError>;
    /// Starts delivering the room's events into `room` on this node.
    async fn attach(&self, room: Arc<LiveRoom>) -> Result<(), BusError>;
    /// Stops delivering the room's events to this node (it has no viewers left).
    async fn detach(&self, room: RoomId) -> Result<(), BusError>;
    /// Sequences `event`, records it in the room's history and delivers it to every
    /// viewer of the room on every node. Returns its sequence number.
    async fn publish(&self, room: &LiveRoom, event: RoomEvent) -> Result<u64, BusError>;
    /// Sends this node's reaction counts to every node's viewers of the room.
    async fn publish_reactions(&self, room: &LiveRoom, counts: BTreeMap<Reaction, u64>) -> Result<(), BusError>;
    /// Reports this node's viewers of the room and returns the room's total over all
    /// live nodes (a node that stops reporting drops out).
    async fn viewer_total(&self, room: &LiveRoom, now: UnixMs) -> Result<u64, BusError>;
    /// Delivers a sale to every open sales feed of `brand`, on every node.
    async fn publish_sale(&self, brand: BrandId, sale: &BrandSale) -> Result<(), BusError>;
    /// A local receiver of the brand's sales from every node.
    async fn follow_sales(&self, brand: BrandId) -> Result<broadcast::Receiver<Utf8Bytes>, BusError>;
    /// Takes one comment token for `key`; false when the viewer must slow down.
    async fn allow_comment(&self, key: &str, limit: RateLimit, now: UnixMs) -> Result<bool, BusError>;
    /// Claims a buyer's idempotency key while its checkout runs, across nodes.
    async fn claim_checkout(&self, buyer: AccountId, key: &str) -> Result<bool, BusError>;
    async fn release_checkout(&self, buyer: AccountId, key: &str) -> Result<(), BusError>;
    /// Records which node holds the room's publisher (its public URL), so viewers who
    /// reach another node are sent there; `None` clears it if it still names `node`.
    async fn set_media_home(&self, room: RoomId, node: &str, holds: bool) -> Result<(), BusError>;
    /// The public URL of the node holding the room's publisher, if any.
    async fn media_home(&self, room: RoomId) -> Result<Option<String>, BusError>;
}

/// Parses a recorded event frame back into its event, for folding into a node's state.
pub fn parse_event(frame: &str) -> Option<(u64, RoomEvent)> {
    match serde_json::from_str(frame).ok()? {
        crate::wire::ws::ServerMsg::Event { seq, event } => Some((seq, event)),
        _ => None,
    }
}
