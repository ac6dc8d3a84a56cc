//! The one Redis subscription a node listens on. Room events and brand sales arrive on
//! channels of their own kinds (`room:{id}`, `brand:{id}`); each kind has a [`Listener`].
//! A node subscribes to a channel only while it has someone to deliver it to, so Redis
//! sends one message per event per interested node, never one per viewer.
//!
//! The subscription is a RESP3 connection, and what Redis pushes on it is handed to the
//! listeners right on the task that reads its socket, without a queue in between. So
//! reception is bounded: a node that cannot keep up stops reading, what waits is held by
//! the socket buffers and then by Redis's output buffer for subscribers, and past Redis's
//! limit for that buffer Redis drops the connection; the node reconnects and its rooms
//! catch up from history, so no viewer is left without events and without a reset.
//!
//! That is also why this is a plain multiplexed connection and not the crate's
//! `ConnectionManager`: the manager passes every push through an unbounded channel of its
//! own (to watch for disconnections) before the push sender sees it, which is exactly the
//! queue we avoid, and an idle manager stops reconnecting after a few failed attempts.
//! Reconnecting and re-subscribing are done here instead, retried until shutdown.
//!
//! On a Redis Cluster the subscription is the cluster client's RESP3 connection, with a
//! socket to every master, and the channels are plain (`SUBSCRIBE`/`PUBLISH`), not
//! sharded (`SSUBSCRIBE`/`SPUBLISH`). Chosen deliberately: a cluster forwards every plain
//! message to all of its nodes, so a subscription anywhere hears it and no resharding or
//! failover of a slot can silently end one (a sharded subscription is ended by the server
//! when its slot moves, and would need re-subscribing and a catch-up of its own). The cost
//! is that each message crosses the cluster bus to every master: fine for a few masters
//! and room events coalesced per tick; sharded channels would pay off on a large cluster.
//! A livecart node still receives one message per event of a room it serves. Losing the
//! socket to any master counts as losing the subscription: the whole connection is
//! replaced and every room catches up, as on one server.

use super::BusError;
use crate::redis::{Redis, RedisError, Subscriber};
use crate::telemetry::Causes;
use redis::{PushInfo, PushKind, Value};
use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The first wait before reconnecting a lost subscription; it doubles on every failure.
const RECONNECT_MIN: Duration = Duration::from_millis(200);
/// The longest wait between two reconnection attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// Handles the messages of one kind of channel. Neither call may block or wait: messages
/// come from the task that reads the subscription's socket, where every other channel's
/// messages wait behind them, and a resumption is announced to each listener in turn.
/// Anything slow goes on a task of its own.
pub(super) trait Listener: Send + Sync + 'static {
    /// The kind of channel it owns: the part after the deployment prefix and before the
    /// name, e.g. `room:`.
    fn kind(&self) -> &'static str;
    /// A message on channel `name` of its kind.
    fn message(&self, name: &str, payload: &[u8]);
    /// The subscription was lost and is back, every channel confirmed again: whatever was
    /// published meanwhile never arrived.
    fn resumed(&self);
}

pub(super) struct Channels {
    redis: Redis,
    /// Guarded by a tokio mutex: subscribing awaits Redis's confirmation, and a reconnection
    /// re-subscribes under it, so no subscription can slip in between the channels it
    /// re-subscribes and the swap to the new connection.
    held: tokio::sync::Mutex<Held>,
}

struct Held {
    /// The subscription connection: none before [`Channels::start`] and after shutdown.
    conn: Option<Subscriber>,
    /// Cancelled when `conn` is lost.
    lost: CancellationToken,
    /// Channels Redis confirmed, re-subscribed after a reconnect.
    channels: HashSet<String>,
}

impl Channels {
    pub(super) fn new(redis: Redis) -> Channels {
        let held = Held { conn: None, lost: CancellationToken::new(), channels: HashSet::new() };
        Channels { redis, held: tokio::sync::Mutex::new(held) }
    }

    /// Connects and starts delivering messages to `listeners`, and keeps the subscription
    /// up until `shutdown`.
    pub(super) async fn start(
        self: &Arc<Self>,
        listeners: Vec<Arc<dyn Listener>>,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        let dispatch = Arc::new(Dispatch { prefix: self.redis.prefix().to_owned(), listeners });
        let (conn, lost) = self.connect(&dispatch).await?;
        let mut held = self.held.lock().await;
        held.conn = Some(conn);
        held.lost = lost.clone();
        drop(held);
        tokio::spawn(Arc::clone(self).supervise(dispatch, lost, shutdown));
        Ok(())
    }

    /// Subscribes once Redis confirms; until then the channel does not count as ours.
    pub(super) async fn subscribe(&self, channel: String) -> Result<(), BusError> {
        let mut held = self.held.lock().await;
        if held.channels.contains(&channel) {
            return Ok(());
        }
        let result = match held.conn.as_mut() {
            Some(conn) => conn.subscribe(&channel).await,
            None => Err(closed()),
        };
        match result {
            Ok(()) => {
                held.channels.insert(channel);
                Ok(())
            }
            Err(e) => Err(held.failed(e).into()),
        }
    }

    /// Unsubscribes; a channel we do not hold is left alone.
    pub(super) async fn unsubscribe(&self, channel: &str) -> Result<(), BusError> {
        let mut held = self.held.lock().await;
        if !held.channels.remove(channel) {
            return Ok(());
        }
        let result = match held.conn.as_mut() {
            Some(conn) => conn.unsubscribe(channel).await,
            None => Ok(()),
        };
        result.map_err(|e| held.failed(e).into())
    }

    /// A connection that dispatches to `dispatch`, and the token cancelled when it is lost.
    async fn connect(&self, dispatch: &Arc<Dispatch>) -> Result<(Subscriber, CancellationToken), RedisError> {
        let lost = CancellationToken::new();
        let (to, on_loss) = (Arc::clone(dispatch), lost.clone());
        let conn = self
            .redis
            .subscriber(move |push: PushInfo| {
                to.push(push, &on_loss);
                Ok::<_, Infallible>(())
            })
            .await?;
        Ok((conn, lost))
    }

    /// Replaces the connection whenever it is lost, until `shutdown`; then closes it. Once a
    /// new connection holds every channel again, each listener hears of the interruption.
    async fn supervise(
        self: Arc<Self>,
        dispatch: Arc<Dispatch>,
        mut lost: CancellationToken,
        shutdown: CancellationToken,
    ) {
        'serve: loop {
            tokio::select! {
                _ = shutdown.cancelled() => break 'serve,
                _ = lost.cancelled() => {}
            }
            tracing::warn!("redis subscription lost; reconnecting");
            let mut delay = RECONNECT_MIN;
            lost = loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break 'serve,
                    _ = tokio::time::sleep(delay) => {}
                }
                match self.reconnect(&dispatch).await {
                    Ok(lost) => break lost,
                    Err(e) => tracing::warn!(error = %Causes(&e), "redis resubscribe failed"),
                }
                delay = (delay * 2).min(RECONNECT_MAX);
            };
            tracing::info!("redis subscription restored");
            for listener in &dispatch.listeners {
                listener.resumed();
            }
        }
        // Dropping the connection stops its reading task, and with it the listeners it
        // holds (which hold these channels: the cycle ends here).
        self.held.lock().await.conn = None;
    }

    /// A new connection holding every channel we hold, swapped in for the lost one.
    async fn reconnect(&self, dispatch: &Arc<Dispatch>) -> Result<CancellationToken, RedisError> {
        let (mut conn, lost) = self.connect(dispatch).await?;
        let mut held = self.held.lock().await;
        conn.subscribe_all(held.channels.iter()).await?;
        held.conn = Some(conn);
        held.lost = lost.clone();
        Ok(lost)
    }
}

impl Held {
    /// Passes on a failed subscription command. One that timed out leaves us not knowing
    /// whether Redis applied it: the connection is given up, and the new one subscribes to
    /// exactly the channels we hold.
    fn failed(&self, e: RedisError) -> RedisError {
        if e.is_timeout() {
            self.lost.cancel();
        }
        e
    }
}

fn closed() -> RedisError {
    RedisError::from((redis::ErrorKind::Client, "the subscription is closed: the node is shutting down"))
}

/// Routes what Redis pushes on the subscription to the listener of each channel's kind.
struct Dispatch {
    prefix: String,
    listeners: Vec<Arc<dyn Listener>>,
}

impl Dispatch {
    /// Runs on the task reading the socket, for every push in order.
    fn push(&self, push: PushInfo, lost: &CancellationToken) {
        match push.kind {
            PushKind::Message => {
                if let [channel, payload] = push.data.as_slice() {
                    if let (Some(channel), Some(payload)) = (text(channel), bytes(payload)) {
                        self.message(channel, payload);
                    }
                }
            }
            PushKind::Disconnection => lost.cancel(),
            // Confirmations are awaited as the replies of the commands that asked for them.
            _ => {}
        }
    }

    fn message(&self, channel: &str, payload: &[u8]) {
        let Some(rest) = channel.strip_prefix(self.prefix.as_str()) else { return };
        for listener in &self.listeners {
            if let Some(name) = rest.strip_prefix(listener.kind()) {
                listener.message(name, payload);
                return;
            }
        }
    }
}

fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn text(value: &Value) -> Option<&str> {
    bytes(value).and_then(|b| std::str::from_utf8(b).ok())
}
