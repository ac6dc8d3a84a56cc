//! A `livecart serve` process's output (stdout and stderr) kept in a file while it runs,
//! so that a multi-node test that fails can say what its nodes logged (see
//! [`crate::nodes::Cluster`]'s drop).
//!
//! The output is copied by threads of their own, not tasks: a test's runtime runs no
//! task while the test unwinds from a failed assertion, and the tail printed then must
//! hold the nodes' last words, the ones that explain the failure.

use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Instant;
use tokio::sync::oneshot;

/// The most one node's log keeps, so a node stuck repeating a warning cannot fill the
/// disk. Output past it is still read (the node never blocks on a full pipe), and dropped.
const MAX_BYTES: u64 = 64 << 20;

/// A node's output, as it is copied to its file.
pub struct NodeLog {
    path: PathBuf,
    /// One message from each copier as it reaches the end of its stream: the process is
    /// gone and the file holds everything it wrote.
    ended: mpsc::Receiver<()>,
}

/// The file both streams are copied into, line by line, and how much it holds.
struct Sink {
    file: File,
    written: u64,
}

impl Sink {
    /// Appends one line, while the log is under [`MAX_BYTES`] (then one last line says so).
    fn line(&mut self, text: &str) {
        if self.written >= MAX_BYTES {
            return;
        }
        self.written += text.len() as u64 + 1;
        let line = if self.written > MAX_BYTES {
            self.written = MAX_BYTES;
            format!("[log cut at {MAX_BYTES} bytes: the rest of the node's output was dropped]\n")
        } else {
            format!("{text}\n")
        };
        let _ = self.file.write_all(line.as_bytes());
    }
}

impl NodeLog {
    /// Copies the process's `stdout` and `stderr` into a new file at `path` until they
    /// end; the first stdout line `find` picks something from is sent to the receiver
    /// (dropped unsent when the output ends first).
    pub fn start<T: Send + 'static>(
        path: PathBuf,
        stdout: OwnedFd,
        stderr: OwnedFd,
        mut find: impl FnMut(&str) -> Option<T> + Send + 'static,
    ) -> (NodeLog, oneshot::Receiver<T>) {
        let file = File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // A std Mutex: each holder writes one line, with no await in between.
        let sink = Arc::new(Mutex::new(Sink { file, written: 0 }));
        let (ended_tx, ended) = mpsc::channel();
        let (found_tx, found) = oneshot::channel();
        let mut found_tx = Some(found_tx);
        copy(stdout, Arc::clone(&sink), ended_tx.clone(), move |line| {
            if found_tx.is_some() {
                if let Some(found) = find(line) {
                    let _ = found_tx.take().map(|tx| tx.send(found));
                }
            }
        });
        copy(stderr, sink, ended_tx, |_| {});
        (NodeLog { path, ended }, found)
    }

    /// Waits, until `deadline` at the latest, for the copiers to reach the end of the
    /// output of the process (which the caller has killed).
    pub fn wait_for_end(&self, deadline: Instant) {
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.ended.recv_timeout(left).is_err() {
                return;
            }
        }
    }

    /// What to read first when a test failed: the last `n` lines that are warnings,
    /// errors or no log record at all (a panic's message), or, when there are none, the
    /// last `n` lines; each on one readable line, after where the whole log is.
    pub fn tell(&self, n: usize) -> String {
        let text = std::fs::read(&self.path).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let all: Vec<&str> = text.lines().collect();
        let notable: Vec<&str> = all.iter().copied().filter(|line| is_notable(line)).collect();
        let (what, lines) = match notable.is_empty() {
            true => ("no warnings or errors; its last lines", all),
            false => ("its last warnings, errors and other output", notable),
        };
        let shown = &lines[lines.len().saturating_sub(n)..];
        let mut told = format!("{}: {what} ({} of {}):\n", self.path.display(), shown.len(), lines.len());
        for line in shown {
            told.push_str("  ");
            told.push_str(&render(line));
            told.push('\n');
        }
        told
    }
}

/// Copies `from` into `sink` line by line on a thread of its own, handing each line to
/// `each` first, and says so on `ended` when `from` ends.
fn copy(from: OwnedFd, sink: Arc<Mutex<Sink>>, ended: mpsc::Sender<()>, mut each: impl FnMut(&str) + Send + 'static) {
    std::thread::spawn(move || {
        let mut from = BufReader::new(File::from(from));
        let mut raw = Vec::new();
        while matches!(from.read_until(b'\n', &mut raw), Ok(n) if n > 0) {
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            each(line);
            sink.lock().unwrap_or_else(PoisonError::into_inner).line(line);
            raw.clear();
        }
        let _ = ended.send(());
    });
}

/// A log record at WARN or ERROR, or a line that is no log record at all.
fn is_notable(line: &str) -> bool {
    match serde_json::from_str::<Value>(line) {
        Ok(record) => matches!(record["level"].as_str(), Some("WARN" | "ERROR")),
        Err(_) => !line.trim().is_empty(),
    }
}

/// A JSON log record as a person reads it: time, level, message, its fields, and the
/// spans it happened in with theirs (`in checkout{key=… order=…}`). Other lines as they are.
fn render(line: &str) -> String {
    let Ok(record) = serde_json::from_str::<Value>(line) else { return line.to_owned() };
    let fields = |value: &Value| -> String {
        value
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| !matches!(key.as_str(), "message" | "name"))
            .map(|(key, value)| match value.as_str() {
                Some(text) => format!("{key}={text}"),
                None => format!("{key}={value}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut told = format!(
        "{} {} {}",
        record["timestamp"].as_str().unwrap_or("-"),
        record["level"].as_str().unwrap_or("-"),
        record["fields"]["message"].as_str().unwrap_or("")
    );
    let own = fields(&record["fields"]);
    if !own.is_empty() {
        told.push_str(&format!(" {own}"));
    }
    let spans: Vec<String> = record["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|span| format!("{}{{{}}}", span["name"].as_str().unwrap_or("?"), fields(span)))
        .collect();
    if !spans.is_empty() {
        told.push_str(&format!(" in {}", spans.join(" > ")));
    }
    told
}
