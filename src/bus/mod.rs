//! How room events and brand sales reach every node that has someone watching.
//!
//! The memory bus serves a single node: publishing sequences the event in the room
//! itself and hands it to local viewers. A cross-node bus sequences and records events in
//! shared storage and delivers them to the `LiveRoom` of each node with viewers; callers
//! see the same trait.

mod memory;

pub use memory::MemoryBus;

use crate::domain::BrandId;
use crate::room::LiveRoom;
use crate::wire::ws::{BrandSale, RoomEvent};
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
#[error("bus: {0}")]
pub struct BusError(pub String);

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Sequences `event`, records it in the room's history and delivers it to every
    /// viewer of the room. Returns its sequence number.
    async fn publish(&self, room: &LiveRoom, event: RoomEvent) -> Result<u64, BusError>;
    /// Delivers a sale to every open sales feed of `brand`.
    async fn publish_sale(&self, brand: BrandId, sale: &BrandSale) -> Result<(), BusError>;
}
