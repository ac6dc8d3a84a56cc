//! `chat-storm`: one room, many viewers, a set comment rate. How fast does every comment
//! reach everyone? Each comment carries its send time; every viewer measures arrival.

use super::progress;
use crate::chat::{ChatConn, ChatTarget, Incoming};
use crate::client::Error;
use crate::measure::{Latency, histogram, record};
use crate::server::{Usage, usage};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

pub struct ChatStorm {
    pub viewers: usize,
    /// Comments per second over all senders.
    pub rate: u32,
    /// Viewers that also send (each gets its own rate limit on the server).
    pub senders: usize,
    pub seconds: u64,
    pub server_pid: Option<u32>,
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatStormReport {
    pub viewers: usize,
    pub joined: usize,
    pub comments_sent: u64,
    pub send_errors: u64,
    pub deliveries_expected: u64,
    pub deliveries: u64,
    pub missing: u64,
    pub deliveries_per_second: f64,
    pub latency: Latency,
    pub server_cpu_us_per_delivery: Option<f64>,
    pub server_kib_per_viewer: Option<f64>,
    /// Deliveries and latency second by second, for the report's charts.
    pub timeline: Vec<Second>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Second {
    pub second: u64,
    pub deliveries: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

const TAG: &str = "ls";

pub async fn run(target: &ChatTarget, cfg: &ChatStorm) -> Result<ChatStormReport, Error> {
    let start = Instant::now();
    let before_join = cfg.server_pid.and_then(usage);
    let bar = progress(cfg.viewers as u64, "joining", cfg.quiet);
    let mut conns = Vec::with_capacity(cfg.viewers);
    for i in 0..cfg.viewers {
        conns.push(ChatConn::join(target, &format!("Storm {i}")).await?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let joined = conns.len();
    let after_join = cfg.server_pid.and_then(usage);

    let deliveries = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(histogram()));
    // One histogram per second of the run (and of the drain after it).
    let per_second = Arc::new(Mutex::new((0..cfg.seconds + 6).map(|_| histogram()).collect::<Vec<_>>()));
    let storm_start = Instant::now();
    let stop_at = Instant::now() + Duration::from_secs(cfg.seconds);
    let senders = cfg.senders.clamp(1, joined.max(1));
    let per_sender = Duration::from_secs_f64(senders as f64 / f64::from(cfg.rate.max(1)));
    let sent = Arc::new(AtomicU64::new(0));
    let send_errors = Arc::new(AtomicU64::new(0));
    let cpu_before = cfg.server_pid.and_then(usage);

    let mut tasks = Vec::new();
    for (i, mut conn) in conns.into_iter().enumerate() {
        let (deliveries, latencies, sent, send_errors, per_second) = (
            Arc::clone(&deliveries),
            Arc::clone(&latencies),
            Arc::clone(&sent),
            Arc::clone(&send_errors),
            Arc::clone(&per_second),
        );
        let sends = i < senders;
        tasks.push(tokio::spawn(async move {
            // Senders start spread over one period, not all at once; every task starts
            // receiving at once, so no viewer's frames wait for its task to be spawned.
            let offset = per_sender.mul_f64(i as f64 / senders as f64);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, per_sender);
            let mut n = 0u64;
            let drain_until = stop_at + Duration::from_secs(5);
            loop {
                let sending = sends && Instant::now() < stop_at;
                let msg = tokio::select! {
                    _ = tick.tick(), if sending => {
                        let text = format!("{TAG} {i} {n} {}", start.elapsed().as_micros());
                        n += 1;
                        if conn.comment(&text).await.is_ok() {
                            sent.fetch_add(1, Ordering::Relaxed);
                        } else {
                            send_errors.fetch_add(1, Ordering::Relaxed);
                        }
                        continue;
                    }
                    msg = conn.next() => msg,
                    _ = tokio::time::sleep_until(drain_until.into()) => break,
                };
                match msg {
                    Ok(Some(Incoming::Comment(text))) => {
                        let Some(sent_us) = text
                            .strip_prefix(TAG)
                            .and_then(|r| r.split(' ').nth(3))
                            .and_then(|t| t.parse::<u64>().ok())
                        else {
                            continue;
                        };
                        deliveries.fetch_add(1, Ordering::Relaxed);
                        let latency = start.elapsed().saturating_sub(Duration::from_micros(sent_us));
                        record(&mut *latencies.lock().await, latency);
                        let second = storm_start.elapsed().as_secs() as usize;
                        if let Some(h) = per_second.lock().await.get_mut(second) {
                            record(h, latency);
                        }
                    }
                    Ok(Some(Incoming::RateLimited)) => {
                        sent.fetch_sub(1, Ordering::Relaxed);
                        send_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            conn.close().await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let cpu_after = cfg.server_pid.and_then(usage);
    let sent = sent.load(Ordering::Relaxed);
    let delivered = deliveries.load(Ordering::Relaxed);
    let expected = sent * joined as u64;
    let cpu_us = cpu_before.zip(cpu_after).map(|(a, b): (Usage, Usage)| b.cpu.saturating_sub(a.cpu).as_micros() as f64);
    Ok(ChatStormReport {
        viewers: cfg.viewers,
        joined,
        comments_sent: sent,
        send_errors: send_errors.load(Ordering::Relaxed),
        deliveries_expected: expected,
        deliveries: delivered,
        missing: expected.saturating_sub(delivered),
        deliveries_per_second: delivered as f64 / cfg.seconds as f64,
        latency: Latency::of(&*latencies.lock().await),
        server_cpu_us_per_delivery: cpu_us.filter(|_| delivered > 0).map(|us| us / delivered as f64),
        timeline: per_second
            .lock()
            .await
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let l = Latency::of(h);
                Second { second: i as u64, deliveries: l.count, p50_ms: l.p50_ms, p99_ms: l.p99_ms }
            })
            .collect(),
        server_kib_per_viewer: before_join
            .zip(after_join)
            .filter(|_| joined > 0)
            .map(|(a, b)| b.rss_kib.saturating_sub(a.rss_kib) as f64 / joined as f64),
    })
}
