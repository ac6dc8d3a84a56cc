//! The server under test: found by process id or started here, and measured through
//! /proc (CPU time, resident memory), so figures are per unit of work it did; beside it
//! the load client's own CPU and the whole machine's, so a reader sees whose figure it is.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// CPU time and memory of a process, read from `/proc/<pid>/stat` and
/// `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub cpu: Duration,
    pub rss_kib: u64,
}

pub fn usage(pid: u32) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports CPU in clock ticks of 1/100 s here.
    Some(Usage { cpu: Duration::from_millis(ticks * 10), rss_kib: resident_kib(pid)? })
}

/// The process's resident memory, exactly: `VmRSS` of `/proc/PID/status`, which sums the
/// kernel's per-CPU counters. The RSS of `/proc/PID/stat` is their cached approximation:
/// on this machine's kernel (6.18) it was 36 to 128 KiB off the exact figure in the same
/// run, and video runs at 10 viewers read 268.8, 281.6 or 294.4 KiB per viewer, in steps
/// of 128 KiB in all, a step as large as the changes measured.
pub fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmRSS:"))?.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// Busy and total CPU time of the whole machine (all cores) since boot, from the first
/// line of `/proc/stat`; busy is everything but idle and I/O wait.
#[derive(Debug, Clone, Copy)]
pub struct MachineTime {
    pub busy: Duration,
    pub total: Duration,
}

pub fn machine_time() -> Option<MachineTime> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> =
        stat.lines().next()?.strip_prefix("cpu ")?.split_whitespace().filter_map(|t| t.parse().ok()).collect();
    let total: u64 = ticks.iter().take(8).sum(); // user nice system idle iowait irq softirq steal
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some(MachineTime { busy: Duration::from_millis((total - idle) * 10), total: Duration::from_millis(total * 10) })
}

/// CPU used during a stretch of a run: by this load client, by the server (when its
/// process is known) and by the whole machine.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CpuFigures {
    pub client_cpu_s: f64,
    pub server_cpu_s: Option<f64>,
    /// Busy CPU time of all cores together, and that as a share of what they had.
    pub machine_busy_cpu_s: f64,
    pub machine_busy_percent: f64,
}

/// The start of a stretch measured as [`CpuFigures`].
pub struct CpuWindow {
    server_pid: Option<u32>,
    client: Option<Usage>,
    server: Option<Usage>,
    machine: Option<MachineTime>,
}

impl CpuWindow {
    pub fn start(server_pid: Option<u32>) -> CpuWindow {
        CpuWindow {
            server_pid,
            client: usage(std::process::id()),
            server: server_pid.and_then(usage),
            machine: machine_time(),
        }
    }

    pub fn finish(&self) -> CpuFigures {
        let spent =
            |a: Option<Usage>, b: Option<Usage>| a.zip(b).map(|(a, b)| b.cpu.saturating_sub(a.cpu).as_secs_f64());
        let (busy, total) = self.machine.zip(machine_time()).map_or((0.0, 0.0), |(a, b)| {
            (b.busy.saturating_sub(a.busy).as_secs_f64(), b.total.saturating_sub(a.total).as_secs_f64())
        });
        CpuFigures {
            client_cpu_s: spent(self.client, usage(std::process::id())).unwrap_or(0.0),
            server_cpu_s: spent(self.server, self.server_pid.and_then(usage)),
            machine_busy_cpu_s: busy,
            machine_busy_percent: if total > 0.0 { 100.0 * busy / total } else { 0.0 },
        }
    }
}

/// A livecart process started for a benchmark on loopback, with the demo data seeded.
pub struct Spawned {
    pub url: String,
    pub pid: u32,
    process: Child,
    _dir: TempDir,
}

/// A temporary directory removed on drop, without a dependency for it.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Spawned {
    pub async fn start(binary: &str) -> Result<Spawned, String> {
        Spawned::start_with(binary, &[]).await
    }

    /// Started with extra environment (settings to compare, e.g. `LIVECART_ANALYTICS`).
    pub async fn start_with(binary: &str, env: &[(&str, &str)]) -> Result<Spawned, String> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("livecart-bench-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let dir = TempDir(dir);
        let mut process = Command::new(binary)
            .arg("serve")
            .env("DATABASE_URL", format!("sqlite://{}?mode=rwc", dir.0.join("bench.db").display()))
            .env("LIVECART_BIND", "127.0.0.1:0")
            .env("LIVECART_METRICS_BIND", "127.0.0.1:0")
            .env("LIVECART_SEED_DEMO", "true")
            .env("LIVECART_LOG_JSON", "true")
            .env("RUST_LOG", "livecart=info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("could not start {binary}: {e} (build it with cargo build --release)"))?;
        let pid = process.id().ok_or("the server exited at once")?;
        let mut lines = BufReader::new(process.stdout.take().ok_or("no stdout")?).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(log) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
                if log["fields"]["message"] == "livecart listening" {
                    return log["fields"]["addr"].as_str().map(str::to_owned);
                }
            }
            None
        })
        .await
        .map_err(|_| "the server did not start within 30 s")?
        .ok_or("the server did not report its address")?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Spawned { url: format!("http://{addr}"), pid, process, _dir: dir })
    }

    pub async fn stop(mut self) {
        let _ = self.process.kill().await;
    }
}

/// A peer server started on loopback for a comparison: the Socket.IO peer
/// (`loadtest/peers/socketio`) or the minimal tokio-tungstenite one (`crate::minimal`).
/// Either prints `listening <port>` once ready.
pub struct SpawnedPeer {
    pub url: String,
    pub pid: u32,
    process: Child,
}

impl SpawnedPeer {
    /// The Socket.IO peer in `dir` (after `npm ci` there).
    pub async fn start(dir: &str) -> Result<SpawnedPeer, String> {
        let mut node = Command::new("node");
        node.arg("server.js").current_dir(dir).env("PORT", "0");
        SpawnedPeer::start_command(node, &format!("node in {dir} (run npm ci there first)")).await
    }

    /// The minimal peer: this load tester's own binary, `minimal-peer` subcommand, for at
    /// most `seconds`.
    pub async fn minimal(seconds: u64) -> Result<SpawnedPeer, String> {
        let binary = std::env::current_exe().map_err(|e| format!("no path to this binary: {e}"))?;
        let mut peer = Command::new(binary);
        peer.args(["minimal-peer", "--seconds", &seconds.to_string()]);
        SpawnedPeer::start_command(peer, "the minimal peer").await
    }

    async fn start_command(mut command: Command, what: &str) -> Result<SpawnedPeer, String> {
        let mut process = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("could not start {what}: {e}"))?;
        let pid = process.id().ok_or("the peer exited at once")?;
        let mut lines = BufReader::new(process.stdout.take().ok_or("no stdout")?).lines();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix("listening ") {
                    return port.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .map_err(|_| "the peer did not start within 30 s")?
        .ok_or_else(|| format!("{what} did not report its port"))?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(SpawnedPeer { url: format!("http://127.0.0.1:{port}"), pid, process })
    }

    pub async fn stop(mut self) {
        let _ = self.process.kill().await;
    }
}
