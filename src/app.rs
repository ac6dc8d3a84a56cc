//! AppState and the router: the one place that wires the parts together.

use crate::bus::{Bus, MemoryBus};
use crate::commerce::cart::{Carts, MemoryCarts};
use crate::commerce::inventory::{Inventory, MemoryInventory};
use crate::commerce::payments::{PaymentProvider, TestCards};
use crate::config::Config;
use crate::domain::{AccountId, Clock};
use crate::room::RoomHub;
use crate::room::rate::RateLimit;
use crate::store::Store;
use crate::{gateway, http};
use axum::Router;
use dashmap::DashSet;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
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
    pub clock: Clock,
    /// Checkouts running on this node, by buyer and idempotency key: a second request
    /// with the same key while the first runs gets `checkout_in_progress`.
    pub checkouts_in_flight: Arc<DashSet<(AccountId, String)>>,
    /// Cancelled on shutdown; every background task and connection watches it.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// The embedded (single-node) wiring: in-memory rooms, inventory and carts.
    pub fn embedded(config: Config, store: Store, clock: Clock) -> Self {
        let hub = Arc::new(RoomHub::default());
        AppState {
            config: Arc::new(config),
            store,
            bus: Arc::new(MemoryBus::new(Arc::clone(&hub))),
            hub,
            inventory: Arc::new(MemoryInventory::default()),
            carts: Arc::new(MemoryCarts::default()),
            payments: Arc::new(TestCards),
            clock,
            checkouts_in_flight: Arc::new(DashSet::new()),
            shutdown: CancellationToken::new(),
        }
    }

    pub fn comment_limit(&self) -> RateLimit {
        RateLimit {
            burst: self.config.comment_burst,
            refill_ms: self.config.comment_refill_ms,
        }
    }
}

pub fn router(state: AppState) -> Router {
    let web = &state.config.web_demo;
    let pages = ServeDir::new(web).fallback(ServeFile::new(web.join("index.html")));
    Router::new()
        .merge(http::router())
        .merge(gateway::router())
        .fallback_service(pages)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
