//! `chat-storm`: one room, many viewers, a set comment rate. How fast does every comment
//! reach everyone? Each comment carries its send time ([`Stamp`]); every viewer measures
//! arrival. The run reports the CPU this client used beside the server's and the whole
//! machine's, so a reader can tell when a latency is the client's own backlog.

use super::progress;
use crate::chat::{ChatConn, ChatTarget, Incoming, Stamp, now_us};
use crate::client::Error;
use crate::measure::{Latency, Recorder, Samples};
use crate::server::{CpuFigures, CpuWindow, Usage, usage};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    pub client_cpu_us_per_delivery: Option<f64>,
    /// CPU of the client, the server and the machine over the storm and its drain.
    pub cpu: CpuFigures,
    /// Server memory per viewer joined, over what it held before they joined: once all
    /// have joined, and again after the storm and its drain, before any leaves.
    pub server_kib_per_viewer: Option<f64>,
    pub server_kib_per_viewer_after_storm: Option<f64>,
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

/// How long viewers keep reading after the last comment was sent.
pub const DRAIN: Duration = Duration::from_secs(5);

/// Comments sent, and refused, by all the viewers of a run.
#[derive(Default)]
pub struct Sent {
    pub ok: AtomicU64,
    pub refused: AtomicU64,
}

/// What one viewer does in a storm: read until `until`; if it is a sender, also comment
/// every `period` (starting `offset` after the start) until `stop_sending`.
#[derive(Clone, Copy)]
pub struct Watch {
    pub send: Option<Sending>,
    pub until: Instant,
}

#[derive(Clone, Copy)]
pub struct Sending {
    /// The origin written in this sender's stamps.
    pub origin: u32,
    pub offset: Duration,
    pub period: Duration,
    pub stop: Instant,
}

/// One viewer's storm: every stamped comment it receives goes to `samples` as its
/// latency, in the class `class` gives it (from the stamp and the arrival time in µs).
/// The connection is given back still open (`None` if it failed), so that what the server
/// holds after a storm can be measured before anyone leaves: [`close_all`].
pub async fn watch(
    mut conn: ChatConn,
    plan: Watch,
    sent: Arc<Sent>,
    mut samples: Samples,
    class: impl Fn(&Stamp, u64) -> usize,
) -> Option<ChatConn> {
    let mut tick = plan.send.map(|s| tokio::time::interval_at(tokio::time::Instant::now() + s.offset, s.period));
    let mut n = 0u64;
    let until = tokio::time::sleep_until(plan.until.into());
    tokio::pin!(until);
    loop {
        let sending = plan.send.filter(|s| Instant::now() < s.stop);
        let msg = tokio::select! {
            _ = &mut until => break,
            _ = async { tick.as_mut().expect("a sender has a tick").tick().await }, if sending.is_some() => {
                let origin = sending.map_or(0, |s| s.origin);
                n += 1;
                let counter = if conn.comment(&Stamp::text(origin, n)).await.is_ok() { &sent.ok } else { &sent.refused };
                counter.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            msg = conn.next() => msg,
        };
        match msg {
            Ok(Some(Incoming::Comment(stamp))) => {
                let now = now_us();
                samples.add(class(&stamp, now), now.saturating_sub(stamp.sent_us));
            }
            Ok(Some(Incoming::RateLimited)) => {
                sent.ok.fetch_sub(1, Ordering::Relaxed);
                sent.refused.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Some(Incoming::Other)) => {}
            Ok(None) | Err(_) => return None,
        }
    }
    Some(conn)
}

/// Waits for the storm's viewers ([`watch`]), then closes their connections, all at once.
/// `measure` runs in between, while every viewer that lasted the storm is still there.
pub async fn close_all<T>(tasks: Vec<tokio::task::JoinHandle<Option<ChatConn>>>, measure: impl FnOnce() -> T) -> T {
    let mut open = Vec::with_capacity(tasks.len());
    for t in tasks {
        open.extend(t.await.ok().flatten());
    }
    let measured = measure();
    let closing: Vec<_> = open.into_iter().map(|conn| tokio::spawn(conn.close())).collect();
    for c in closing {
        let _ = c.await;
    }
    measured
}

pub async fn run(target: &ChatTarget, cfg: &ChatStorm) -> Result<ChatStormReport, Error> {
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

    // One class per second of the run and of the drain after it, by arrival.
    let recorder = Recorder::shared((cfg.seconds + DRAIN.as_secs() + 1) as usize);
    let sent = Arc::new(Sent::default());
    let storm_start = Instant::now();
    let storm_start_us = now_us();
    let stop = storm_start + Duration::from_secs(cfg.seconds);
    let senders = cfg.senders.clamp(1, joined.max(1));
    let period = Duration::from_secs_f64(senders as f64 / f64::from(cfg.rate.max(1)));
    let cpu = CpuWindow::start(cfg.server_pid);

    let mut tasks = Vec::with_capacity(joined);
    for (i, conn) in conns.into_iter().enumerate() {
        // Senders start spread over one period, not all at once; every task starts
        // receiving at once, so no viewer's frames wait for its task to be spawned.
        let send = (i < senders).then(|| Sending {
            origin: i as u32,
            offset: period.mul_f64(i as f64 / senders as f64),
            period,
            stop,
        });
        let plan = Watch { send, until: stop + DRAIN };
        let second = move |_: &Stamp, now: u64| (now.saturating_sub(storm_start_us) / 1_000_000) as usize;
        tasks.push(tokio::spawn(watch(conn, plan, Arc::clone(&sent), Samples::new(&recorder), second)));
    }
    let (cpu, after_storm) = close_all(tasks, || (cpu.finish(), cfg.server_pid.and_then(usage))).await;
    let sent_ok = sent.ok.load(Ordering::Relaxed);
    let expected = sent_ok * joined as u64;
    let recorder = recorder.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let delivered = recorder.total.len();
    let per_delivery = |s: f64| (delivered > 0).then(|| s * 1e6 / delivered as f64);
    Ok(ChatStormReport {
        viewers: cfg.viewers,
        joined,
        comments_sent: sent_ok,
        send_errors: sent.refused.load(Ordering::Relaxed),
        deliveries_expected: expected,
        deliveries: delivered,
        missing: expected.saturating_sub(delivered),
        deliveries_per_second: delivered as f64 / cfg.seconds as f64,
        latency: Latency::of(&recorder.total),
        server_cpu_us_per_delivery: cpu.server_cpu_s.and_then(per_delivery),
        client_cpu_us_per_delivery: per_delivery(cpu.client_cpu_s),
        cpu,
        timeline: recorder
            .classes
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let l = Latency::of(h);
                Second { second: i as u64, deliveries: l.count, p50_ms: l.p50_ms, p99_ms: l.p99_ms }
            })
            .collect(),
        server_kib_per_viewer: kib_per_viewer(before_join, after_join, joined),
        server_kib_per_viewer_after_storm: kib_per_viewer(before_join, after_storm, joined),
    })
}

/// The server's memory at `now` over what it held `before`, per viewer joined.
fn kib_per_viewer(before: Option<Usage>, now: Option<Usage>, joined: usize) -> Option<f64> {
    let (before, now) = before.zip(now).filter(|_| joined > 0)?;
    Some(now.rss_kib.saturating_sub(before.rss_kib) as f64 / joined as f64)
}
