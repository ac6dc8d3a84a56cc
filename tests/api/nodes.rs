//! Several real `livecart` processes on loopback sharing one PostgreSQL and one Redis,
//! for the multi-node tests (`cluster`, `history`). They need the shared services: without
//! them [`Cluster::start`] says so and returns `None`, and the test returns.
//!
//! Each node's output is kept in a file (see [`NodeLog`]); when a test fails with a
//! cluster alive, the cluster prints each node's last warnings and errors as it drops,
//! and keeps the logs (under `target/tmp`) for reading in full.

use crate::helpers::{Backing, Client, TEST_POSTGRES, TEST_REDIS, WAIT};
use crate::node_log::NodeLog;
use livecart::store::Store;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How many of a node's notable log lines a failed test prints.
const TAIL: usize = 40;

/// How long a failed test waits for its killed nodes' last output to reach their logs.
const LAST_WORDS: Duration = Duration::from_secs(5);

/// One `livecart serve` process.
pub struct Node {
    pub client: Client,
    process: Child,
    log: NodeLog,
    alive: bool,
}

/// The nodes, the services they share, and a [`Store`] on their database for checks.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub backing: Backing,
    pub store: Store,
    /// Environment every node gets on top of the harness's own settings.
    env: Vec<(String, String)>,
    /// Where the nodes' logs are: removed with the cluster, unless its test failed.
    logs: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.process.start_kill();
        }
        if std::thread::panicking() {
            self.tell_logs();
        }
        self.backing.clean_up();
    }
}

impl Cluster {
    /// Starts `n` nodes, or `None` (after saying why) when the shared services are not
    /// configured for this run.
    pub async fn start(n: usize) -> Option<Cluster> {
        Cluster::start_with(n, &[]).await
    }

    /// As [`Cluster::start`], every node also given `env` (e.g. `LIVECART_HOLD_SECS`),
    /// which overrides the harness's settings of the same name.
    pub async fn start_with(n: usize, env: &[(&str, &str)]) -> Option<Cluster> {
        if std::env::var(TEST_POSTGRES).is_err() || std::env::var(TEST_REDIS).is_err() {
            eprintln!("skipped: multi-node tests need {TEST_POSTGRES} and {TEST_REDIS}");
            return None;
        }
        let backing = Backing::new().await;
        // Migrate once, before the nodes race to.
        let store = Store::connect(&backing.database_url, 4).await.expect("database");
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let logs = tempfile::Builder::new()
            .prefix("cluster-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("a directory for the nodes' logs");
        let mut cluster = Cluster { nodes: Vec::new(), backing, store, env, logs };
        for _ in 0..n {
            let node = cluster.spawn_node().await;
            cluster.nodes.push(node);
        }
        Some(cluster)
    }

    async fn spawn_node(&self) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_livecart"));
        command
            .arg("serve")
            .env("DATABASE_URL", &self.backing.database_url)
            .env("REDIS_URL", self.backing.redis_url.as_deref().unwrap_or_default())
            .env("LIVECART_REDIS_PREFIX", &self.backing.redis_prefix)
            .env("LIVECART_BIND", "127.0.0.1:0")
            .env("LIVECART_METRICS_BIND", "127.0.0.1:0")
            .env("LIVECART_SEED_DEMO", "false")
            .env("LIVECART_ARGON2_KIB", "64")
            .env("LIVECART_TICK_MS", "100")
            .env("LIVECART_COMMENT_BURST", "1000")
            .env("LIVECART_DB_CONNECTIONS", "4")
            .env("LIVECART_LOG_JSON", "true")
            .env("RUST_LOG", "livecart=info");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let mut process = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start a livecart node");
        let stdout = process.stdout.take().map(|s| s.into_owned_fd()).expect("piped").expect("node stdout");
        let stderr = process.stderr.take().map(|s| s.into_owned_fd()).expect("piped").expect("node stderr");
        let path = self.logs.path().join(format!("node-{}.log", self.nodes.len()));
        let (log, listening) = NodeLog::start(path, stdout, stderr, |line| {
            let log = serde_json::from_str::<serde_json::Value>(line).ok()?;
            if log["fields"]["message"] != "livecart listening" {
                return None;
            }
            log["fields"]["addr"].as_str().and_then(|a| a.parse::<SocketAddr>().ok())
        });
        let addr = match tokio::time::timeout(WAIT, listening).await {
            Ok(Ok(addr)) => addr,
            Ok(Err(_)) => panic!("the node ended without reporting its address; {}", log.tell(TAIL)),
            Err(_) => panic!("the node did not start in time; {}", log.tell(TAIL)),
        };
        Node { client: Client::new(addr), process, log, alive: true }
    }

    /// Prints each node's last warnings and errors (its output ended: it was killed),
    /// and keeps the logs for reading in full; for a test that failed.
    fn tell_logs(&mut self) {
        let deadline = Instant::now() + LAST_WORDS;
        for (i, node) in self.nodes.iter().enumerate() {
            node.log.wait_for_end(deadline);
            eprintln!("node {i} ({}), {}", node.client.addr, node.log.tell(TAIL));
        }
        self.logs.disable_cleanup(true);
    }

    pub fn node(&self, i: usize) -> &Client {
        &self.nodes[i].client
    }

    /// Whether node `i` has not been killed.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].alive
    }

    /// SIGKILLs node `i` and waits for it to be gone.
    pub async fn kill(&mut self, i: usize) {
        self.nodes[i].process.start_kill().expect("SIGKILL");
        let _ = self.nodes[i].process.wait().await;
        self.nodes[i].alive = false;
    }
}
