//! Logs and metrics, set up once per process. Metrics are served on a listener of their
//! own (`--metrics-bind`), so scraping never competes with viewers and is never exposed
//! on the public port by accident.
//!
//! Metric names (Prometheus):
//! - `livecart_connections` (gauge): open WebSocket connections.
//! - `livecart_rooms` (gauge): rooms this node serves.
//! - `livecart_client_messages_total{type}`: client messages decoded.
//! - `livecart_room_events_total`: room events published.
//! - `livecart_frames_sent_total`: frames written to viewers.
//! - `livecart_flush_seconds`: time to write one viewer's batch (fan-out lag per viewer),
//!   timed for one flush in 16.
//! - `livecart_viewer_resyncs_total`: viewers that fell behind and took a snapshot.
//! - `livecart_checkouts_total{outcome}`: checkouts by outcome (`paid` or an error code).
//! - `livecart_holds_total{result}`: stock holds taken or refused.
//! - `livecart_redis_seconds{op}`, `livecart_db_seconds{op}`: backend latency.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

pub fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("livecart=info,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// An error told with its causes, `what: why: root cause`, for a log field
/// (`error = %Causes(&e)`). The JSON log format records an error field by its own message
/// alone, so a field `error = &e as &dyn Error` said there only `database` or `redis` and
/// dropped why (a pool timeout, a deadlock, a lost connection); this says it in both
/// formats.
pub struct Causes<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut told = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(e) = cause {
            let why = e.to_string();
            // sqlx, among others, repeats its cause's message in its own.
            if !told.ends_with(&why) {
                told = format!("{told}: {why}");
            }
            cause = e.source();
        }
        f.write_str(&told)
    }
}

/// Latency buckets from 100 µs to 10 s.
const LATENCY_BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, 10.0];

/// The process's metrics recorder, installed on first use.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Another recorder may already be installed (a host application's): then ours
        // renders nothing, which is the honest outcome.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// How often recorded histogram samples are folded into their buckets. Until then each
/// sample is 8 bytes in a block of its own histogram: in a chat storm at 2,000 viewers,
/// `livecart_flush_seconds` alone took some 28,000 samples a second when it timed every
/// flush, which at 5 s were 1.1 MB held between folds, in blocks allocated among the
/// viewers' frames and freed after them (a second's worth is a fifth of that; it now
/// times one flush in 16).
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// Folds histogram samples into their buckets every [`UPKEEP_EVERY`] until `shutdown`.
/// The recorder keeps every raw sample until the next render or upkeep, and a recorder
/// built with `build_recorder` runs no upkeep of its own: on a node nobody scrapes (or
/// whose scraper stopped), `livecart_flush_seconds` alone held 8 bytes per flush for
/// good, 15 MiB after two minutes of 2,000 viewers and growing with the show.
pub async fn run_upkeep(shutdown: CancellationToken) {
    let handle = metrics();
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => handle.run_upkeep(),
        }
    }
}

/// Runs `fut` and records how long it took under `metric{op}`.
pub async fn timed<T>(metric: &'static str, op: &'static str, fut: impl Future<Output = T>) -> T {
    let start = Instant::now();
    let out = fut.await;
    metrics::histogram!(metric, "op" => op).record(start.elapsed().as_secs_f64());
    out
}

#[cfg(test)]
mod tests {
    use super::Causes;

    #[derive(Debug, thiserror::Error)]
    #[error("database")]
    struct Outer(#[source] sqlx::Error);

    #[test]
    fn an_error_is_told_with_its_causes() {
        let e = Outer(sqlx::Error::PoolTimedOut);
        assert_eq!(Causes(&e).to_string(), "database: pool timed out while waiting for an open connection");
    }
}
