//! The batched writer of the event log: a bounded queue in front, a task behind that
//! writes what is queued every second, or as soon as a batch is full.

use super::Event;
use crate::domain::Clock;
use crate::store::{EventRow, Store};
use crate::telemetry::Causes;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Events waiting to be written, at most: a minute of a busy show's chat, far more than a
/// second's worth, so only a database that stops answering fills it.
const QUEUE: usize = 65_536;
/// Events written in one go at most.
const BATCH: usize = 2_000;
/// How often what is queued is written.
const EVERY: Duration = Duration::from_secs(1);

/// Where events are recorded; cheap to clone. A disabled recorder drops everything (the
/// fan-out measurement with analytics off).
#[derive(Clone)]
pub struct Recorder {
    queue: Option<mpsc::Sender<EventRow>>,
    clock: Clock,
    /// The writer, stopped and waited for at shutdown (after the checkouts drained) so
    /// its last batch is written.
    writer: TaskTracker,
    stop: CancellationToken,
}

impl Recorder {
    /// A recorder and the task that writes its events until [`Recorder::finish`].
    pub fn start(store: Store, clock: Clock) -> Recorder {
        let (queue, events) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let writer = TaskTracker::new();
        writer.spawn(write(store, events, stop.clone()));
        writer.close();
        Recorder { queue: Some(queue), clock, writer, stop }
    }

    pub fn disabled(clock: Clock) -> Recorder {
        Recorder { queue: None, clock, writer: TaskTracker::new(), stop: CancellationToken::new() }
    }

    /// Writes what is queued and stops the writer; events recorded later are dropped.
    pub async fn finish(&self) {
        self.stop.cancel();
        self.writer.close();
        self.writer.wait().await;
    }

    /// Records the event now, without waiting; a full queue drops it and counts it.
    pub fn record(&self, event: Event) {
        let Some(queue) = &self.queue else { return };
        if queue.try_send(event.row(self.clock.now())).is_err() {
            metrics::counter!("livecart_analytics_dropped_total").increment(1);
        }
    }
}

async fn write(store: Store, mut events: mpsc::Receiver<EventRow>, stop: CancellationToken) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut tick = tokio::time::interval(EVERY);
    loop {
        let room = BATCH - batch.len();
        tokio::select! {
            _ = stop.cancelled() => {
                // What is queued when stopped is still written.
                while let Ok(event) = events.try_recv() {
                    batch.push(event);
                    if batch.len() >= BATCH {
                        flush(&store, &mut batch).await;
                    }
                }
                flush(&store, &mut batch).await;
                return;
            }
            _ = tick.tick() => flush(&store, &mut batch).await,
            received = events.recv_many(&mut batch, room), if room > 0 => {
                if received == 0 {
                    flush(&store, &mut batch).await;
                    return;
                }
                if batch.len() >= BATCH {
                    flush(&store, &mut batch).await;
                }
            }
        }
    }
}

async fn flush(store: &Store, batch: &mut Vec<EventRow>) {
    if batch.is_empty() {
        return;
    }
    match store.append_events(batch).await {
        Ok(()) => metrics::counter!("livecart_analytics_written_total").increment(batch.len() as u64),
        Err(e) => {
            // The log is for reports, not money: a lost batch costs a figure, not an order.
            metrics::counter!("livecart_analytics_dropped_total").increment(batch.len() as u64);
            tracing::warn!(events = batch.len(), error = %Causes(&e), "analytics batch not written");
        }
    }
    batch.clear();
}
