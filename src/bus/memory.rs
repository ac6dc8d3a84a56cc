use super::{Bootstrap, Bus, BusError};
use crate::domain::{AccountId, BrandId, Reaction, RoomId, UnixMs};
use crate::room::rate::{RateLimit, TokenBucket};
use crate::room::{LiveRoom, RoomHub};
use crate::wire::ws::{BrandSale, RoomEvent, ServerMsg};
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use dashmap::{DashMap, DashSet};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::broadcast;

pub struct MemoryBus {
    hub: Arc<RoomHub>,
    comment_buckets: DashMap<String, TokenBucket>,
    checkouts: DashSet<(AccountId, String)>,
}

impl MemoryBus {
    pub fn new(hub: Arc<RoomHub>) -> Self {
        Self { hub, comment_buckets: DashMap::new(), checkouts: DashSet::new() }
    }

    /// Forgets buckets that have refilled: they hold nothing a new bucket would not.
    pub fn forget_idle_buckets(&self, limit: RateLimit, now: UnixMs) {
        self.comment_buckets.retain(|_, b| !b.is_full(limit, now));
    }
}

fn err(e: impl std::fmt::Display) -> BusError {
    BusError(e.to_string())
}

#[async_trait]
impl Bus for MemoryBus {
    async fn bootstrap(&self, _room: RoomId) -> Result<Bootstrap, BusError> {
        Ok(Bootstrap::default())
    }

    async fn attach(&self, _room: Arc<LiveRoom>) -> Result<(), BusError> {
        Ok(())
    }

    async fn detach(&self, _room: RoomId) -> Result<(), BusError> {
        Ok(())
    }

    async fn publish(&self, room: &LiveRoom, event: RoomEvent) -> Result<u64, BusError> {
        metrics::counter!("livecart_room_events_total").increment(1);
        room.record(&event).map_err(err)
    }

    async fn publish_reactions(&self, room: &LiveRoom, counts: BTreeMap<Reaction, u64>) -> Result<(), BusError> {
        room.tick(&ServerMsg::Reactions { counts }).map_err(err)
    }

    async fn viewer_total(&self, room: &LiveRoom, _now: UnixMs) -> Result<u64, BusError> {
        Ok(room.viewers())
    }

    async fn publish_sale(&self, brand: BrandId, sale: &BrandSale) -> Result<(), BusError> {
        let frame = serde_json::to_string(&ServerMsg::BrandSale(Box::new(sale.clone()))).map_err(err)?;
        self.hub.send_sale(brand, Utf8Bytes::from(frame));
        Ok(())
    }

    async fn follow_sales(&self, brand: BrandId) -> Result<broadcast::Receiver<Utf8Bytes>, BusError> {
        Ok(self.hub.follow_sales(brand))
    }

    async fn allow_comment(&self, key: &str, limit: RateLimit, now: UnixMs) -> Result<bool, BusError> {
        if self.comment_buckets.len() > 10_000 {
            self.forget_idle_buckets(limit, now);
        }
        Ok(self
            .comment_buckets
            .entry(key.to_owned())
            .or_insert_with(|| TokenBucket::full(limit, now))
            .try_take(limit, now))
    }

    async fn claim_checkout(&self, buyer: AccountId, key: &str) -> Result<bool, BusError> {
        Ok(self.checkouts.insert((buyer, key.to_owned())))
    }

    async fn release_checkout(&self, buyer: AccountId, key: &str) -> Result<(), BusError> {
        self.checkouts.remove(&(buyer, key.to_owned()));
        Ok(())
    }

    /// One node holds every publisher: there is nowhere else to send a viewer.
    async fn set_media_home(&self, _room: RoomId, _node: &str, _holds: bool) -> Result<(), BusError> {
        Ok(())
    }

    async fn media_home(&self, _room: RoomId) -> Result<Option<String>, BusError> {
        Ok(None)
    }
}
