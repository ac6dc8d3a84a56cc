//! livecart: a live-shopping backend.
//!
//! A map of the crate, outside in:
//! - [`http`] (REST) and [`gateway`] (WebSocket) parse and authorise, then call one
//!   domain function. [`wire`] defines every message and route they speak.
//! - [`room`]: live rooms, their sequenced events and fan-out to viewers; [`bus`]
//!   carries events between nodes.
//! - [`commerce`]: carts, stock holds, checkout, payment, attribution and commission.
//! - [`media`]: the SFU forwarding the host's stream to viewers (WHIP in, WHEP out).
//! - [`accounts`]: registration, password hashing and session tokens.
//! - [`store`]: the durable record in SQLite or PostgreSQL.
//! - [`domain`]: the typed values everything above passes around.
//! - [`app`] wires these together; [`run`] serves them until shutdown.

pub mod accounts;
pub mod app;
pub mod bus;
pub mod commerce;
pub mod config;
pub mod domain;
pub mod error;
pub mod gateway;
pub mod http;
pub mod media;
pub mod room;
pub mod seed;
pub mod store;
pub mod telemetry;
pub mod wire;

use app::AppState;
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

/// Serves `state` on `listener` until `state.shutdown` is cancelled, with the room ticker
/// and the hold sweeper running beside it. In-flight requests finish before it returns.
pub async fn run(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let ticker = tokio::spawn(room::ticker::run(state.clone()));
    let sweeper = tokio::spawn(commerce::sweeper::run(state.clone()));
    let announcer = tokio::spawn(room::stream::announce(state.clone()));
    let shutdown = state.shutdown.clone();
    let served = axum::serve(listener, app::router(state.clone()))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    state.checkouts.close();
    if tokio::time::timeout(CHECKOUT_DRAIN, state.checkouts.wait()).await.is_err() {
        tracing::warn!("shutdown: checkouts still running after the drain period");
    }
    let _ = tokio::join!(ticker, sweeper, announcer);
    served
}
