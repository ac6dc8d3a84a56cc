//! `raid`: N viewers join one room within T seconds. Join-to-snapshot latency.

use super::progress;
use crate::chat::{ChatConn, ChatTarget};
use crate::client::Error;
use crate::measure::{Latency, histogram, record};
use crate::server::usage;
use serde::Serialize;
use std::time::{Duration, Instant};

pub struct Raid {
    pub viewers: usize,
    pub within_secs: f64,
    pub server_pid: Option<u32>,
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RaidReport {
    pub viewers: usize,
    pub joined: usize,
    pub failed: usize,
    pub join_latency: Latency,
    pub server_kib_per_viewer: Option<f64>,
}

pub async fn run(target: &ChatTarget, cfg: &Raid) -> Result<RaidReport, Error> {
    let before = cfg.server_pid.and_then(usage);
    let bar = progress(cfg.viewers as u64, "raiding", cfg.quiet);
    let step = Duration::from_secs_f64(cfg.within_secs.max(0.0) / cfg.viewers.max(1) as f64);
    let mut tasks = Vec::with_capacity(cfg.viewers);
    for i in 0..cfg.viewers {
        let target = target.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(step * i as u32).await;
            let started = Instant::now();
            let joined = ChatConn::join(&target, &format!("Raider {i}")).await;
            bar.inc(1);
            joined.map(|conn| (conn, started.elapsed()))
        }));
    }
    let mut h = histogram();
    let mut conns = Vec::new();
    let mut failed = 0;
    for t in tasks {
        match t.await {
            Ok(Ok((conn, latency))) => {
                record(&mut h, latency);
                conns.push(conn);
            }
            _ => failed += 1,
        }
    }
    bar.finish_and_clear();
    let after = cfg.server_pid.and_then(usage);
    let joined = conns.len();
    for conn in conns {
        conn.close().await;
    }
    Ok(RaidReport {
        viewers: cfg.viewers,
        joined,
        failed,
        join_latency: Latency::of(&h),
        server_kib_per_viewer: before
            .zip(after)
            .filter(|_| joined > 0)
            .map(|(a, b)| b.rss_kib.saturating_sub(a.rss_kib) as f64 / joined as f64),
    })
}
