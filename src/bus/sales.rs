//! Each brand's live sales feed: every paid line of its products, in any room, reaches
//! every open feed of the brand on every node.

use super::BusError;
use super::channels::{Channels, Listener};
use super::feeds::LocalFeeds;
use crate::domain::BrandId;
use crate::redis::Redis;
use crate::wire::ws::{BrandSale, ServerMsg};
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use redis::AsyncCommands;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Sales a brand dashboard may fall behind by before it is told to reload.
const FEED_CAPACITY: usize = 256;

#[async_trait]
pub trait SalesFeed: Send + Sync + 'static {
    /// Delivers a sale to every open feed of `brand`, on every node.
    async fn publish(&self, brand: BrandId, sale: &BrandSale) -> Result<(), BusError>;
    /// A receiver of the brand's sales from every node.
    async fn follow(&self, brand: BrandId) -> Result<broadcast::Receiver<Utf8Bytes>, BusError>;
}

fn sale_frame(sale: &BrandSale) -> Result<String, BusError> {
    Ok(serde_json::to_string(&ServerMsg::BrandSale(Box::new(sale.clone())))?)
}

/// The brand feeds open on this node.
pub(super) type BrandFeeds = LocalFeeds<BrandId>;

pub(super) fn brand_feeds() -> BrandFeeds {
    LocalFeeds::new(FEED_CAPACITY)
}

pub struct MemorySales {
    feeds: BrandFeeds,
}

impl Default for MemorySales {
    fn default() -> Self {
        Self { feeds: brand_feeds() }
    }
}

#[async_trait]
impl SalesFeed for MemorySales {
    async fn publish(&self, brand: BrandId, sale: &BrandSale) -> Result<(), BusError> {
        self.feeds.send(brand, Utf8Bytes::from(sale_frame(sale)?));
        Ok(())
    }

    async fn follow(&self, brand: BrandId) -> Result<broadcast::Receiver<Utf8Bytes>, BusError> {
        Ok(self.feeds.follow(brand))
    }
}

const BRAND_CHANNEL: &str = "brand:";

/// Channel `brand:{id}` carries the brand's sale frames to the nodes with a feed open.
pub struct RedisSales {
    redis: Redis,
    channels: Arc<Channels>,
    feeds: Arc<BrandFeeds>,
}

impl RedisSales {
    pub(super) fn new(redis: Redis, channels: Arc<Channels>, feeds: Arc<BrandFeeds>) -> Self {
        Self { redis, channels, feeds }
    }

    fn channel(&self, brand: BrandId) -> String {
        self.redis.key(&format!("{BRAND_CHANNEL}{brand}"))
    }
}

#[async_trait]
impl SalesFeed for RedisSales {
    async fn publish(&self, brand: BrandId, sale: &BrandSale) -> Result<(), BusError> {
        Ok(self.redis.conn().publish::<_, _, ()>(self.channel(brand), sale_frame(sale)?).await?)
    }

    async fn follow(&self, brand: BrandId) -> Result<broadcast::Receiver<Utf8Bytes>, BusError> {
        let feed = self.feeds.follow(brand);
        self.channels.subscribe(self.channel(brand)).await?;
        Ok(feed)
    }
}

/// Delivers sales arriving on brand channels to this node's feeds.
pub(super) struct BrandListener(pub(super) Arc<BrandFeeds>);

impl Listener for BrandListener {
    fn kind(&self) -> &'static str {
        BRAND_CHANNEL
    }

    /// Straight into the brand's feed: a broadcast send, which never waits (a dashboard
    /// that falls behind by more than the feed holds is told to reload).
    fn message(&self, name: &str, payload: &[u8]) {
        let brand = name.parse::<i64>().ok().and_then(|b| BrandId::try_from(b).ok());
        if let (Some(brand), Ok(frame)) = (brand, std::str::from_utf8(payload)) {
            self.0.send(brand, Utf8Bytes::from(frame.to_owned()));
        }
    }

    /// Nothing to catch up on: brand feeds have no history, so sales published while the
    /// subscription was down are lost; dashboards reload orders over HTTP when they need
    /// every one.
    fn resumed(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::testing;
    use crate::bus::testing::RecordingSink;
    use crate::domain::{AccountId, Currency, Money, OrderId, ProductId, RoomId, UnixMs};
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    fn sale(order: i64) -> BrandSale {
        let eur = Currency::try_from("EUR").unwrap();
        BrandSale {
            order_id: OrderId::try_from(order).unwrap(),
            room_id: RoomId::try_from(1).unwrap(),
            creator_id: AccountId::try_from(1).unwrap(),
            creator_name: "Maya".into(),
            product_id: ProductId::try_from(1).unwrap(),
            title: "Serum".into(),
            quantity: 1,
            amount: Money::new(100, eur),
            commission: Money::new(10, eur),
            at: UnixMs(0),
        }
    }

    #[tokio::test]
    async fn a_brands_feed_gets_its_own_sales_only() {
        let sink = Arc::new(RecordingSink::default());
        let (buses, _redis) = testing::buses(&sink).await;
        for (bus, shutdown) in buses {
            let (mine, other) = (BrandId::try_from(1).unwrap(), BrandId::try_from(2).unwrap());
            let mut feed = bus.sales.follow(mine).await.unwrap();
            bus.sales.publish(other, &sale(1)).await.unwrap();
            bus.sales.publish(mine, &sale(2)).await.unwrap();
            let frame = tokio::time::timeout(Duration::from_secs(5), feed.recv()).await.unwrap().unwrap();
            let got: ServerMsg = serde_json::from_str(&frame).unwrap();
            assert!(matches!(got, ServerMsg::BrandSale(s) if s.order_id.get() == 2));
            shutdown.inspect(CancellationToken::cancel);
        }
    }
}
