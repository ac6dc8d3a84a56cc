use super::{Bus, BusError};
use crate::domain::BrandId;
use crate::room::{LiveRoom, RoomHub};
use crate::wire::ws::{BrandSale, RoomEvent, ServerMsg};
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;

pub struct MemoryBus {
    hub: Arc<RoomHub>,
}

impl MemoryBus {
    pub fn new(hub: Arc<RoomHub>) -> Self {
        Self { hub }
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, room: &LiveRoom, event: RoomEvent) -> Result<u64, BusError> {
        room.record(&event).map_err(|e| BusError(e.to_string()))
    }

    async fn publish_sale(&self, brand: BrandId, sale: &BrandSale) -> Result<(), BusError> {
        let frame = serde_json::to_string(&ServerMsg::BrandSale(Box::new(sale.clone())))
            .map_err(|e| BusError(e.to_string()))?;
        self.hub.send_sale(brand, Utf8Bytes::from(frame));
        Ok(())
    }
}
