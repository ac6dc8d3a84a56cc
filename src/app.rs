//! AppState and the router: the one place that wires the parts together.

use crate::bus::redis::Redis;
use crate::bus::{Bus, BusError, MemoryBus, RedisBus};
use crate::commerce::cart::{Carts, MemoryCarts, RedisCarts};
use crate::commerce::inventory::{Inventory, MemoryInventory, RedisInventory};
use crate::commerce::payments::{PaymentProvider, TestCards};
use crate::config::Config;
use crate::domain::Clock;
use crate::media::Sfu;
use crate::room::RoomHub;
use crate::room::rate::RateLimit;
use crate::store::Store;
use crate::{gateway, http};
use axum::Router;
use axum::extract::{MatchedPath, Request};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

/// Everything a request handler or a connection may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The durable record: accounts, catalogue, rooms and orders.
    pub store: Store,
    /// Rooms this node serves, and their viewers' channels.
    pub hub: Arc<RoomHub>,
    /// Sequencing and delivery of room events (and brand sales) to every node.
    pub bus: Arc<dyn Bus>,
    /// The fast stock gate in front of the database's constraint.
    pub inventory: Arc<dyn Inventory>,
    pub carts: Arc<dyn Carts>,
    pub payments: Arc<dyn PaymentProvider>,
    /// The SFU: the host's stream and its viewers' media sessions on this node.
    pub media: Arc<Sfu>,
    pub clock: Clock,
    /// Set in the scaled-out deployment, for readiness checks.
    pub redis: Option<Redis>,
    /// Cancelled on shutdown; every background task and connection watches it.
    pub shutdown: CancellationToken,
    /// Checkouts running on their own tasks: shutdown waits for them, so a paid order is
    /// never cut off half-way.
    pub checkouts: TaskTracker,
}

impl AppState {
    /// The embedded (single-node) wiring: in-memory rooms, inventory and carts.
    pub fn embedded(config: Config, store: Store, clock: Clock) -> Self {
        let hub = Arc::new(RoomHub::default());
        AppState {
            media: Sfu::new(config.ice()),
            config: Arc::new(config),
            store,
            bus: Arc::new(MemoryBus::new(Arc::clone(&hub))),
            hub,
            inventory: Arc::new(MemoryInventory::default()),
            carts: Arc::new(MemoryCarts::default()),
            payments: Arc::new(TestCards),
            clock,
            redis: None,
            shutdown: CancellationToken::new(),
            checkouts: TaskTracker::new(),
        }
    }

    /// The scaled-out wiring: rooms, carts, stock holds and rate limits shared through
    /// Redis, so any number of nodes serve the same rooms.
    pub async fn scaled(config: Config, store: Store, redis_url: &str, clock: Clock) -> Result<Self, BusError> {
        let redis = Redis::connect(redis_url, &config.redis_prefix).await?;
        let hub = Arc::new(RoomHub::default());
        let shutdown = CancellationToken::new();
        let bus =
            RedisBus::start(redis.clone(), Arc::clone(&hub), config.history, config.tick, shutdown.clone()).await?;
        Ok(AppState {
            media: Sfu::new(config.ice()),
            config: Arc::new(config),
            inventory: Arc::new(RedisInventory::new(redis.clone(), store.clone(), clock.clone())),
            carts: Arc::new(RedisCarts::new(redis.clone())),
            store,
            bus,
            hub,
            payments: Arc::new(TestCards),
            clock,
            redis: Some(redis),
            shutdown,
            checkouts: TaskTracker::new(),
        })
    }

    /// Scaled out when the configuration names a Redis, embedded otherwise.
    pub async fn from_config(config: Config, store: Store, clock: Clock) -> Result<Self, BusError> {
        match config.redis_url.clone() {
            Some(url) => AppState::scaled(config, store, &url, clock).await,
            None => Ok(AppState::embedded(config, store, clock)),
        }
    }

    /// Where other nodes send viewers of streams this node holds.
    pub fn public_url(&self) -> String {
        self.config.public_url.clone().unwrap_or_else(|| format!("http://{}", self.config.bind))
    }

    pub fn comment_limit(&self) -> RateLimit {
        RateLimit { burst: self.config.comment_burst, refill_ms: self.config.comment_refill_ms }
    }
}

pub fn router(state: AppState) -> Router {
    let web = &state.config.web_demo;
    let pages = ServeDir::new(web).fallback(ServeFile::new(web.join("index.html")));
    Router::new()
        .merge(http::router())
        .merge(gateway::router())
        .fallback_service(pages)
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // Spans are named by route template, not raw URI, so ids do not explode them.
            let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
            tracing::info_span!("http", method = %req.method(), route)
        }))
        .with_state(state)
}
