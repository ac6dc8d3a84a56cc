//! Turns at writing, for SQLite.
//!
//! SQLite lets one connection write at a time. Another that wants to write meanwhile is
//! put to sleep by its busy handler (1 ms, then 2, 5, 10… until the lock is free),
//! holding its pooled connection and its worker thread while it sleeps: at a busy
//! checkout that was over a thousand sleeps a second, of about 4 ms each, where the lock
//! was held for well under one. The store's busiest writers (the placement and
//! settlement batches, the analytics batches, the test cards' books) take turns here
//! instead, in-process, and the next one starts the moment the last one commits.
//! PostgreSQL locks rows, not the database: there the gate stays open.

use super::Backend;
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Clone)]
pub(super) struct WriteGate(Option<Arc<Mutex<()>>>);

/// A writer's turn: it lasts until dropped.
pub(super) type Turn = Option<OwnedMutexGuard<()>>;

impl WriteGate {
    pub(super) fn for_backend(backend: Backend) -> WriteGate {
        WriteGate((backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))))
    }

    /// Waits for this writer's turn; hold it across the whole write. Take it before
    /// acquiring a pooled connection, never while holding one: a writer waiting here
    /// with a connection could keep the one whose turn it is from getting any.
    pub(super) async fn turn(&self) -> Turn {
        match &self.0 {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        }
    }
}
