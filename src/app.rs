//! The one place that wires the parts together: it builds the backends a configuration
//! asks for (memory, or Redis shared with other nodes), the domain services on top of
//! them into an [`AppState`], and the router of HTTP and WebSocket routes in front.

use crate::accounts::Accounts;
use crate::analytics::{Campaigns, Recorder, Reports};
use crate::bus::{Bus, BusError, RedisSettings};
use crate::commerce::cart::{MemoryCarts, RedisCarts};
use crate::commerce::inventory::{MemoryInventory, RedisInventory};
use crate::commerce::payments::{StripeProvider, TestCards};
use crate::commerce::{Carts, Commerce, CommerceBackends, CommerceSettings, Inventory, PaymentProvider};
use crate::config::{Config, ConfigError, PaymentsChoice};
use crate::domain::{Clock, RateLimit};
use crate::error::{ApiError, Code};
use crate::media::{ClientIce, Sfu};
use crate::redis::{Redis, RedisError};
use crate::room::{Node, RoomHub, RoomSettings, Rooms};
use crate::state::AppState;
use crate::store::{Store, StoreError};
use crate::{gateway, http};
use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::handler::HandlerWithoutStateExt;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("connecting to redis")]
    Redis(#[from] RedisError),
    #[error("starting the redis bus")]
    Bus(#[from] BusError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("reading the database")]
    Store(#[from] StoreError),
}

/// The payment provider the configuration chooses (its settings are checked by
/// [`Config::validate`] too).
fn payments(config: &Config, store: &Store, clock: &Clock) -> Result<Arc<dyn PaymentProvider>, ConfigError> {
    Ok(match config.payments {
        PaymentsChoice::TestCards => Arc::new(TestCards::new(store.clone(), clock.clone())),
        PaymentsChoice::Stripe => Arc::new(StripeProvider::new(config.stripe()?)),
    })
}

/// The backends one node runs on: shared through Redis, or its own memory.
struct Backends {
    bus: Bus,
    inventory: Arc<dyn Inventory>,
    carts: Arc<dyn Carts>,
    redis: Option<Redis>,
    payments: Arc<dyn PaymentProvider>,
}

impl AppState {
    /// The embedded (single-node) wiring: in-memory rooms, inventory and carts.
    pub async fn embedded(config: Config, store: Store, clock: Clock) -> Result<Self, WiringError> {
        let payments = payments(&config, &store, &clock)?;
        // The inventory starts empty and counts each product from the database when first
        // needed: the stock adjustments made so far (a node stopped before it made them)
        // are in those counts.
        store.adjustments_counted(None, clock.now()).await?;
        let hub = Arc::new(RoomHub::default());
        let backends = Backends {
            bus: Bus::memory(Arc::clone(&hub) as _),
            inventory: Arc::new(MemoryInventory::default()),
            carts: Arc::new(MemoryCarts::default()),
            redis: None,
            payments,
        };
        Ok(AppState::assemble(config, store, clock, hub, backends, CancellationToken::new()))
    }

    /// The scaled-out wiring: rooms, carts, stock holds and rate limits shared through
    /// Redis, so any number of nodes serve the same rooms.
    pub async fn scaled(config: Config, store: Store, redis_url: &str, clock: Clock) -> Result<Self, WiringError> {
        let payments = payments(&config, &store, &clock)?;
        let redis = Redis::connect(redis_url, &config.redis_prefix).await?;
        let hub = Arc::new(RoomHub::default());
        let shutdown = CancellationToken::new();
        let settings =
            RedisSettings { history: config.history, viewer_ttl: (config.tick * 5).max(Duration::from_secs(3)) };
        let backends = Backends {
            bus: Bus::redis(&redis, Arc::clone(&hub) as _, settings, shutdown.clone()).await?,
            inventory: Arc::new(RedisInventory::new(redis.clone(), store.clone(), clock.clone())),
            carts: Arc::new(RedisCarts::new(redis.clone(), store.clone(), clock.clone())),
            redis: Some(redis),
            payments,
        };
        Ok(AppState::assemble(config, store, clock, hub, backends, shutdown))
    }

    /// Scaled out when the configuration names a Redis, embedded otherwise.
    pub async fn from_config(config: Config, store: Store, clock: Clock) -> Result<Self, WiringError> {
        match config.redis_url.clone() {
            Some(url) => AppState::scaled(config, store, &url, clock).await,
            None => AppState::embedded(config, store, clock).await,
        }
    }

    fn assemble(
        config: Config,
        store: Store,
        clock: Clock,
        hub: Arc<RoomHub>,
        backends: Backends,
        shutdown: CancellationToken,
    ) -> Self {
        let Backends { bus, inventory, carts, redis, payments } = backends;
        let media = Sfu::new(config.ice());
        let ice = Arc::new(ClientIce::new(config.client_ice(), clock.clone()));
        let accounts = Accounts::new(store.clone(), &bus, clock.clone(), config.argon2_kib, config.session_ttl);
        let money = CommerceSettings { hold_ttl: config.hold_ttl, return_window: config.return_window };
        let analytics = match config.analytics {
            true => Recorder::start(store.clone(), clock.clone()),
            false => Recorder::disabled(clock.clone()),
        };
        // Rehearsals pay with test cards whatever the server runs (docs/protocol.md, 9.10).
        let rehearsal_payments = Arc::new(TestCards::new(store.clone(), clock.clone()));
        let shop = CommerceBackends { inventory, carts, payments, rehearsal_payments };
        let commerce = Commerce::new(store.clone(), &bus, shop, analytics.clone(), clock.clone(), money);
        let settings = RoomSettings {
            history: config.history,
            viewer_queue: config.viewer_queue,
            tick: config.tick,
            comment_limit: RateLimit { burst: config.comment_burst, refill_ms: config.comment_refill_ms },
            // Without a trailing slash: paths are appended to it.
            public_url: config
                .public_url
                .as_deref()
                .map(|url| url.trim().trim_end_matches('/').to_owned())
                .unwrap_or_else(|| format!("http://{}", config.bind)),
            max_guests_per_address: config.max_guests_per_address,
        };
        let reports = Reports::new(store.clone(), clock.clone());
        let campaigns = Campaigns::new(store.clone(), clock.clone());
        let node = Node { hub, media: Arc::clone(&media) };
        let rooms = Rooms::new(node, &bus, commerce.clone(), analytics.clone(), store.clone(), clock, settings);
        AppState {
            config: Arc::new(config),
            accounts,
            rooms,
            commerce,
            store,
            media,
            ice,
            redis,
            shutdown,
            checkouts: TaskTracker::new(),
            paying: Arc::default(),
            analytics,
            reports,
            campaigns,
        }
    }
}

/// Anything no route and no file answers: 404 with our error body. The web demo routes
/// inside a page with `#/…`, so no path needs the app's page in place of a missing file.
async fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such page or file")
}

pub fn router(state: AppState) -> Router {
    let web = &state.config.web_demo;
    // `/` (and any folder with one) serves its index.html; a missing file is a 404.
    let pages = ServeDir::new(web).not_found_service(not_found.into_service());
    Router::new()
        .merge(http::router())
        .merge(gateway::router(&state))
        .fallback_service(pages)
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // Spans are named by route template, not raw URI, so ids do not explode them.
            let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
            tracing::info_span!("http", method = %req.method(), route)
        }))
        .with_state(state)
}
