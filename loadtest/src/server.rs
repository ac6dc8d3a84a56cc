//! The server under test: found by process id or started here, and measured through
//! /proc (CPU time, resident memory), so figures are per unit of work it did.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// CPU time and memory of a process, read from `/proc/<pid>/stat`.
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
    let pages: u64 = fields.get(21)?.parse().ok()?;
    // Linux reports CPU in clock ticks of 1/100 s and memory in 4 KiB pages here.
    Some(Usage { cpu: Duration::from_millis(ticks * 10), rss_kib: pages * 4 })
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
        let dir = std::env::temp_dir().join(format!("livecart-bench-{}", std::process::id()));
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

/// The Socket.IO peer (`loadtest/peers/socketio`) started on loopback for a comparison.
pub struct SpawnedPeer {
    pub url: String,
    pub pid: u32,
    process: Child,
}

impl SpawnedPeer {
    pub async fn start(dir: &str) -> Result<SpawnedPeer, String> {
        let mut process = Command::new("node")
            .arg("server.js")
            .current_dir(dir)
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("could not start node in {dir}: {e} (run npm ci there first)"))?;
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
        .ok_or("the peer did not report its port (is socket.io installed? npm ci)")?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(SpawnedPeer { url: format!("http://127.0.0.1:{port}"), pid, process })
    }

    pub async fn stop(mut self) {
        let _ = self.process.kill().await;
    }
}
