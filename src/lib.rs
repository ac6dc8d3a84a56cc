//! livecart: a live-shopping backend.
//!
//! A map of the crate, top to bottom; each layer uses only the layers below it, and
//! `.ci/layers` fails the build when an import points up (or two modules import each
//! other):
//! 1. [`app`] wires everything together into an [`state::AppState`] and the router;
//!    [`run`] serves it until shutdown, through [`serve`]'s accept loop (connection
//!    limits and timeouts); [`seed`] fills an empty database with the demo.
//! 2. The edge: [`http`] (REST) and [`gateway`] (WebSocket) parse and authorise, call one
//!    domain function of the services in [`state`], and map its error to a status and a
//!    code ([`error`]).
//! 3. The domain, as services that hold what they use:
//!    - [`room`] ([`room::Rooms`]): live rooms, their sequenced events and fan-out to
//!      viewers, pins, drops, the room lifecycle and its video;
//!    - [`commerce`] ([`commerce::Commerce`]): catalogue, carts, stock holds, checkout,
//!      payment, attribution and commission, orders;
//!    - [`accounts`] ([`accounts::Accounts`]): registration, passwords, sessions, creators;
//!    - [`analytics`]: the event log recorded off the hot path, and the reports built
//!      from it and from the ledgers.
//! 4. Ports and backends: [`bus`] (how nodes share events, counts, feeds, limits and
//!    claims; memory or Redis), [`store`] (SQLite or PostgreSQL), [`redis`] (the shared
//!    connection), [`media`] (the SFU: WHIP in, WHEP out); [`config`] (typed settings).
//! 5. Values: [`domain`] (typed values, parsed once at the edge), [`wire`] (every message
//!    and route clients speak), [`telemetry`] (logs and metrics), and [`malloc`] (the C
//!    allocator's settings, applied first in `main`).

pub mod accounts;
pub mod analytics;
pub mod app;
pub mod bus;
pub mod commerce;
pub mod config;
pub mod domain;
pub mod error;
pub mod gateway;
pub mod http;
pub mod malloc;
pub mod media;
pub mod peer;
pub mod redis;
pub mod room;
pub mod seed;
pub mod serve;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod wire;

use state::AppState;
use tokio::net::TcpListener;

/// How long shutdown waits for checkouts in flight.
const CHECKOUT_DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves Prometheus metrics on `listener` until `shutdown` is cancelled.
pub async fn serve_metrics(
    listener: TcpListener,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let metrics = telemetry::metrics();
    let router = axum::Router::new().route("/metrics", axum::routing::get(move || async move { metrics.render() }));
    axum::serve(listener, router).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
}

/// Serves `state` on `listener` until `state.shutdown` is cancelled, with the room ticker,
/// the offer sweep (auctions, waitlists), the hold sweeper, the metrics upkeep and the allocator's release running beside it. In-flight requests finish before it returns.
pub async fn run(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let ticker = tokio::spawn(state.rooms.clone().run_ticker(state.shutdown.clone()));
    let offers = tokio::spawn(state.rooms.clone().run_offer_sweep(state.shutdown.clone()));
    let sweeper = tokio::spawn(state.commerce.clone().run_sweeper(state.config.tick, state.shutdown.clone()));
    let announcer = tokio::spawn(state.rooms.clone().announce_streams(state.shutdown.clone()));
    let upkeep = tokio::spawn(telemetry::run_upkeep(state.shutdown.clone()));
    let release = tokio::spawn(malloc::run_release(state.shutdown.clone()));
    // Every request carries its peer's address (`ConnectInfo`), for handlers that count
    // per client (login back-off, guests).
    let limits = serve::Limits::from_config(&state.config);
    let served = serve::serve(listener, app::router(state.clone()), limits, state.shutdown.clone()).await;
    state.checkouts.close();
    if tokio::time::timeout(CHECKOUT_DRAIN, state.checkouts.wait()).await.is_err() {
        tracing::warn!("shutdown: checkouts still running after the drain period");
    }
    state.analytics.finish().await;
    let _ = tokio::join!(ticker, offers, sweeper, announcer, upkeep, release);
    served
}
