//! `scale`: one room, an audience spread over several livecart nodes that share PostgreSQL
//! and Redis, more viewers than one process may hold (the open-file limit here is 20,000
//! per process). A coordinator starts worker processes (this same binary, `worker`
//! subcommand), hands each a node and a share of the viewers as one JSON line on its
//! stdin, tells them all to start once every one has joined, and gathers their figures
//! from one JSON line each on their stdout. Every comment is stamped with the node it
//! was sent to, so each delivery is counted as same-node or cross-node, and the
//! difference between the two is what crossing Redis adds.
//!
//! Every phase is bounded; workers stop by themselves at the end of the storm, when
//! their stdin closes, or when the coordinator is gone (they are killed with it).

use crate::chat::{ChatConn, ChatTarget, Stamp};
use crate::client::{Api, Error, SOURCE_ADDRESSES, use_source_addresses};
use crate::measure::{Counts, Latency, Recorder, Samples, histogram};
use crate::scenario::chat_storm::{Sending, Sent, Watch, close_all, watch};
use crate::server::{CpuFigures, CpuWindow, usage};
use futures_util::StreamExt;
use livecart::domain::RoomId;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Connections one worker holds at most: under the 20,000 open files of a process, with
/// room for its own files.
pub const MAX_PER_WORKER: usize = 19_000;

/// Joins a worker has in flight at once.
const JOINING_AT_ONCE: usize = 64;

pub struct Scale {
    /// The nodes' base URLs; node i's index is the origin its senders stamp.
    pub nodes: Vec<String>,
    pub viewers: usize,
    /// Comments per second over all senders.
    pub rate: f64,
    /// Senders, spread over the workers (one per worker when 0).
    pub senders: usize,
    pub seconds: u64,
    /// How long viewers keep reading after the last comment: a node that is behind
    /// publishes the last comments late, and they count as missing if it is too short.
    pub drain: Duration,
    /// At most this many viewers per worker process.
    pub per_worker: usize,
    /// How long the joins may take, over all workers.
    pub join_timeout: Duration,
    /// The binary whose `worker` subcommand a worker runs (this one, outside tests).
    pub worker_binary: PathBuf,
    /// Where the nodes' Redis is, and their key prefix, to count its messages.
    pub redis: Option<RedisTarget>,
    /// The nodes' process ids when they run on this machine, to measure their memory.
    pub node_pids: Vec<u32>,
    pub host_email: String,
    pub host_password: String,
}

#[derive(Clone)]
pub struct RedisTarget {
    pub url: String,
    pub prefix: String,
}

/// What a worker is told to do.
#[derive(Debug, Serialize, Deserialize)]
struct Assignment {
    worker: usize,
    node: u32,
    url: String,
    room: RoomId,
    viewers: usize,
    /// (offset, period) in µs of each sender this worker runs.
    senders: Vec<(u64, u64)>,
    first_source: u8,
    join_timeout_s: u64,
    seconds: u64,
    drain_s: u64,
}

/// What a worker says back, one JSON line each.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WorkerMsg {
    Joined { joined: usize, failed: usize },
    Done(WorkerFigures),
}

#[derive(Debug, Serialize, Deserialize)]
struct WorkerFigures {
    sent: u64,
    refused: u64,
    same_node: Counts,
    cross_node: Counts,
    cpu: CpuFigures,
    /// The worker's resident memory with all its viewers joined.
    rss_kib: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    pub nodes: usize,
    pub workers: usize,
    pub viewers: usize,
    pub joined: usize,
    pub join_failures: usize,
    pub join_seconds: f64,
    pub comments_sent: u64,
    pub comments_refused: u64,
    pub deliveries_expected: u64,
    pub deliveries: u64,
    pub missing: u64,
    pub latency: Latency,
    /// Deliveries to a viewer on the node the comment was sent to, and on another node.
    pub same_node: Latency,
    pub cross_node: Latency,
    /// cross-node minus same-node.
    pub cross_node_added_p50_ms: f64,
    pub cross_node_added_p99_ms: f64,
    pub redis: Option<RedisFigures>,
    /// CPU of all workers together, and of the whole machine, over the storm.
    pub workers_cpu_s: f64,
    pub machine: CpuFigures,
    pub workers_rss_kib: u64,
    /// The nodes' resident memory grown over the joins, per viewer joined (when their
    /// process ids are known).
    pub nodes_kib_per_viewer: Option<f64>,
}

/// Redis's pub/sub traffic for the storm's comments.
#[derive(Debug, Clone, Serialize)]
pub struct RedisFigures {
    /// PUBLISH calls during the storm (`INFO commandstats`; a publish inside the nodes'
    /// Lua scripts counts too): every room event a node publishes, comments and others.
    pub publishes: u64,
    /// Subscribers of the room's channel (`PUBSUB NUMSUB`): one per node with viewers.
    pub room_channel_subscribers: u64,
    /// Messages Redis sent to nodes: publishes × subscribers.
    pub messages: u64,
    /// That per comment and per node: 1.0 when each event reaches each node once.
    pub messages_per_event_per_node: f64,
}

/// A worker process, its stdin and its lines.
struct Worker {
    process: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    async fn start(binary: &PathBuf, assignment: &Assignment) -> Result<Worker, Error> {
        let mut process = Command::new(binary)
            .args(["--quiet", "worker"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("could not start a worker ({}): {e}", binary.display()))?;
        let mut stdin = process.stdin.take().ok_or("no worker stdin")?;
        let lines = BufReader::new(process.stdout.take().ok_or("no worker stdout")?).lines();
        stdin.write_all(format!("{}\n", serde_json::to_string(assignment)?).as_bytes()).await?;
        Ok(Worker { process, stdin, lines })
    }

    async fn next(&mut self, until: Instant) -> Result<WorkerMsg, Error> {
        let line = tokio::time::timeout_at(until.into(), self.lines.next_line())
            .await
            .map_err(|_| "a worker did not answer in time")??
            .ok_or("a worker exited early")?;
        Ok(serde_json::from_str(&line)?)
    }
}

/// Runs the scale scenario; workers are killed when it returns, however it ends.
pub async fn run(cfg: &Scale) -> Result<ScaleReport, Error> {
    if cfg.nodes.is_empty() || cfg.viewers == 0 {
        return Err("scale needs at least one node and one viewer".into());
    }
    let api = Api::new(&cfg.nodes[0]);
    let host = api.login(&cfg.host_email, &cfg.host_password).await?;
    let room = api.hosted_live_room(&host).await?.id;

    let nodes = cfg.nodes.len();
    let per_node = cfg.viewers.div_ceil(nodes);
    let workers = nodes * per_node.div_ceil(cfg.per_worker.clamp(1, MAX_PER_WORKER));
    let senders = if cfg.senders == 0 { workers } else { cfg.senders.min(cfg.viewers) };
    let period = Duration::from_secs_f64(senders as f64 / cfg.rate.max(0.01));
    if workers * usize::from(SOURCE_ADDRESSES) > 250 {
        return Err(format!("{workers} workers need more loopback source addresses than 127.0.0.0/24 has").into());
    }

    let mut pool = Vec::with_capacity(workers);
    for w in 0..workers {
        let node = w % nodes;
        let assignment = Assignment {
            worker: w,
            node: node as u32,
            url: cfg.nodes[node].clone(),
            room,
            viewers: cfg.viewers / workers + usize::from(w < cfg.viewers % workers),
            senders: (w..senders)
                .step_by(workers)
                .map(|j| (period.mul_f64(j as f64 / senders as f64).as_micros() as u64, period.as_micros() as u64))
                .collect(),
            first_source: 1 + (w * usize::from(SOURCE_ADDRESSES)) as u8,
            join_timeout_s: cfg.join_timeout.as_secs(),
            seconds: cfg.seconds,
            drain_s: cfg.drain.as_secs(),
        };
        pool.push(Worker::start(&cfg.worker_binary, &assignment).await?);
    }

    let nodes_rss = || cfg.node_pids.iter().map(|&pid| usage(pid).map_or(0, |u| u.rss_kib)).sum::<u64>();
    let rss_before_joins = nodes_rss();
    let join_start = Instant::now();
    let join_until = join_start + cfg.join_timeout + Duration::from_secs(5);
    let (mut joined, mut join_failures) = (0, 0);
    for w in &mut pool {
        match w.next(join_until).await? {
            WorkerMsg::Joined { joined: j, failed } => (joined, join_failures) = (joined + j, join_failures + failed),
            WorkerMsg::Done(_) => return Err("a worker finished before it joined".into()),
        }
    }
    let join_seconds = join_start.elapsed().as_secs_f64();
    let nodes_kib_per_viewer = (!cfg.node_pids.is_empty() && joined > 0)
        .then(|| nodes_rss().saturating_sub(rss_before_joins) as f64 / joined as f64);

    let redis_before = match &cfg.redis {
        Some(r) => Some(redis_publishes(&r.url).await?),
        None => None,
    };
    let machine = CpuWindow::start(None);
    for w in &mut pool {
        w.stdin.write_all(b"go\n").await?;
    }
    let done_until = Instant::now() + Duration::from_secs(cfg.seconds) + cfg.drain + Duration::from_secs(30);
    let mut figures = Vec::with_capacity(workers);
    for w in &mut pool {
        match w.next(done_until).await? {
            WorkerMsg::Done(f) => figures.push(f),
            WorkerMsg::Joined { .. } => return Err("a worker said it joined twice".into()),
        }
    }
    let machine = machine.finish();
    let redis = match (&cfg.redis, redis_before) {
        (Some(r), Some(before)) => {
            let publishes = redis_publishes(&r.url).await?.saturating_sub(before);
            let channel = format!("{}room:{room}", r.prefix);
            let subscribers = redis_subscribers(&r.url, &channel).await?;
            Some((publishes, subscribers))
        }
        _ => None,
    };
    for mut w in pool {
        let _ = w.process.wait().await;
    }

    let (mut same, mut cross) = (histogram(), histogram());
    for f in &figures {
        f.same_node.add_to(&mut same);
        f.cross_node.add_to(&mut cross);
    }
    let mut all = same.clone();
    let _ = all.add(&cross);
    let sent: u64 = figures.iter().map(|f| f.sent).sum();
    let expected = sent * joined as u64;
    let (same, cross, latency) = (Latency::of(&same), Latency::of(&cross), Latency::of(&all));
    Ok(ScaleReport {
        nodes,
        workers,
        viewers: cfg.viewers,
        joined,
        join_failures,
        join_seconds,
        comments_sent: sent,
        comments_refused: figures.iter().map(|f| f.refused).sum(),
        deliveries_expected: expected,
        deliveries: latency.count,
        missing: expected.saturating_sub(latency.count),
        cross_node_added_p50_ms: cross.p50_ms - same.p50_ms,
        cross_node_added_p99_ms: cross.p99_ms - same.p99_ms,
        latency,
        same_node: same,
        cross_node: cross,
        redis: redis.map(|(publishes, subscribers)| RedisFigures {
            publishes,
            room_channel_subscribers: subscribers,
            messages: publishes * subscribers,
            messages_per_event_per_node: (publishes * subscribers) as f64 / sent.max(1) as f64 / nodes as f64,
        }),
        workers_cpu_s: figures.iter().map(|f| f.cpu.client_cpu_s).sum(),
        machine,
        workers_rss_kib: figures.iter().map(|f| f.rss_kib).sum(),
        nodes_kib_per_viewer,
    })
}

async fn redis_connection(url: &str) -> Result<redis::aio::MultiplexedConnection, Error> {
    Ok(redis::Client::open(url)?.get_multiplexed_async_connection().await?)
}

/// PUBLISH calls Redis has run since it started.
async fn redis_publishes(url: &str) -> Result<u64, Error> {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(&mut redis_connection(url).await?).await?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_publish:calls="))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0))
}

async fn redis_subscribers(url: &str, channel: &str) -> Result<u64, Error> {
    let counts: Vec<(String, u64)> =
        redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).query_async(&mut redis_connection(url).await?).await?;
    Ok(counts.first().map_or(0, |(_, n)| *n))
}

/// The `worker` side: reads its assignment, joins, waits for `go`, runs its viewers
/// through the storm and writes its figures.
pub async fn worker() -> Result<(), Error> {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let line = stdin.next_line().await?.ok_or("no assignment on stdin")?;
    let a: Assignment = serde_json::from_str(&line)?;
    use_source_addresses(a.first_source);
    let target = ChatTarget::Livecart { api: Api::new(&a.url), room: a.room };

    let join_until = tokio::time::Instant::now() + Duration::from_secs(a.join_timeout_s);
    let mut joining = futures_util::stream::iter(0..a.viewers)
        .map(|i| {
            let (target, name) = (&target, format!("W{} {i}", a.worker));
            async move { ChatConn::join(target, &name).await }
        })
        .buffer_unordered(JOINING_AT_ONCE);
    let mut conns = Vec::with_capacity(a.viewers);
    while let Ok(Some(joined)) = tokio::time::timeout_at(join_until, joining.next()).await {
        if let Ok(conn) = joined {
            conns.push(conn);
        }
    }
    drop(joining);
    say(&WorkerMsg::Joined { joined: conns.len(), failed: a.viewers - conns.len() }).await?;
    let rss_kib = usage(std::process::id()).map_or(0, |u| u.rss_kib);

    // Wait for every worker to have joined; give up when the coordinator is gone.
    let go = tokio::time::timeout(Duration::from_secs(a.join_timeout_s + 60), stdin.next_line()).await;
    if !matches!(go, Ok(Ok(Some(ref l))) if l == "go") {
        return Err("no go from the coordinator".into());
    }

    let recorder = Recorder::shared(2); // 0: same node, 1: cross node
    let sent = Arc::new(Sent::default());
    let start = Instant::now();
    let stop = start + Duration::from_secs(a.seconds);
    let cpu = CpuWindow::start(None);
    let mut tasks = Vec::with_capacity(conns.len());
    for (i, conn) in conns.into_iter().enumerate() {
        let send = a.senders.get(i).map(|&(offset, period)| Sending {
            origin: a.node,
            offset: Duration::from_micros(offset),
            period: Duration::from_micros(period),
            stop,
        });
        let node = a.node;
        let class = move |s: &Stamp, _: u64| usize::from(s.origin != node);
        tasks.push(tokio::spawn(watch(
            conn,
            Watch { send, until: stop + Duration::from_secs(a.drain_s) },
            Arc::clone(&sent),
            Samples::new(&recorder),
            class,
        )));
    }
    let cpu = close_all(tasks, || cpu.finish()).await;
    let (same_node, cross_node) = {
        let recorder = recorder.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (Counts::of(&recorder.classes[0]), Counts::of(&recorder.classes[1]))
    };
    say(&WorkerMsg::Done(WorkerFigures {
        sent: sent.ok.load(Ordering::Relaxed),
        refused: sent.refused.load(Ordering::Relaxed),
        same_node,
        cross_node,
        cpu,
        rss_kib,
    }))
    .await
}

async fn say(msg: &WorkerMsg) -> Result<(), Error> {
    let mut out = tokio::io::stdout();
    out.write_all(format!("{}\n", serde_json::to_string(msg)?).as_bytes()).await?;
    out.flush().await?;
    Ok(())
}
