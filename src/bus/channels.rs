//! The one Redis subscription a node listens on. Room events and brand sales arrive on
//! channels of their own kinds (`room:{id}`, `brand:{id}`); each kind has a [`Listener`].
//! A node subscribes to a channel only while it has someone to deliver it to, so Redis
//! sends one message per event per interested node, never one per viewer.

use super::BusError;
use crate::redis::Redis;
use async_trait::async_trait;
use dashmap::DashSet;
use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Handles the messages of one kind of channel.
#[async_trait]
pub(super) trait Listener: Send + Sync + 'static {
    /// The kind of channel it owns: the part after the deployment prefix and before the
    /// name, e.g. `room:`.
    fn kind(&self) -> &'static str;
    /// A message on channel `name` of its kind.
    async fn message(&self, name: &str, payload: &[u8]);
    /// The subscription was lost and is back: whatever was published meanwhile is gone.
    async fn resumed(&self);
}

pub(super) struct Channels {
    redis: Redis,
    /// Guarded by a tokio mutex: subscribing awaits Redis's confirmation.
    sink: tokio::sync::Mutex<PubSubSink>,
    /// Taken by [`Channels::start`].
    stream: std::sync::Mutex<Option<PubSubStream>>,
    /// Channels Redis confirmed, re-subscribed after a reconnect.
    subscribed: DashSet<String>,
}

impl Channels {
    pub(super) async fn connect(redis: &Redis) -> Result<Arc<Channels>, BusError> {
        let (sink, stream) = redis.pubsub().await?.split();
        Ok(Arc::new(Channels {
            redis: redis.clone(),
            sink: tokio::sync::Mutex::new(sink),
            stream: std::sync::Mutex::new(Some(stream)),
            subscribed: DashSet::new(),
        }))
    }

    /// Starts delivering messages to `listeners` until `shutdown`.
    pub(super) fn start(self: &Arc<Self>, listeners: Vec<Arc<dyn Listener>>, shutdown: CancellationToken) {
        let stream = self.stream.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(stream) = stream {
            tokio::spawn(Arc::clone(self).listen(stream, listeners, shutdown));
        }
    }

    /// Subscribes once Redis confirms; until then the channel does not count as ours.
    pub(super) async fn subscribe(&self, channel: String) -> Result<(), BusError> {
        if !self.subscribed.contains(&channel) {
            self.sink.lock().await.subscribe(&channel).await?;
            self.subscribed.insert(channel);
        }
        Ok(())
    }

    pub(super) async fn unsubscribe(&self, channel: &str) -> Result<(), BusError> {
        if self.subscribed.remove(channel).is_some() {
            self.sink.lock().await.unsubscribe(channel).await?;
        }
        Ok(())
    }

    /// Delivers messages in arrival order; after a lost connection, reconnects,
    /// re-subscribes and tells every listener, which catches up on its own.
    async fn listen(
        self: Arc<Self>,
        mut stream: PubSubStream,
        listeners: Vec<Arc<dyn Listener>>,
        shutdown: CancellationToken,
    ) {
        loop {
            loop {
                let msg = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    msg = stream.next() => msg,
                };
                let Some(msg) = msg else { break };
                self.dispatch(&listeners, msg.get_channel_name(), msg.get_payload_bytes()).await;
            }
            tracing::warn!("redis subscription lost; reconnecting");
            stream = loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
                match self.resubscribe().await {
                    Ok(stream) => break stream,
                    Err(e) => tracing::warn!(error = &e as &dyn std::error::Error, "redis resubscribe failed"),
                }
            };
            for listener in &listeners {
                listener.resumed().await;
            }
        }
    }

    async fn dispatch(&self, listeners: &[Arc<dyn Listener>], channel: &str, payload: &[u8]) {
        let Some(rest) = channel.strip_prefix(self.redis.prefix()) else { return };
        for listener in listeners {
            if let Some(name) = rest.strip_prefix(listener.kind()) {
                listener.message(name, payload).await;
                return;
            }
        }
    }

    async fn resubscribe(&self) -> Result<PubSubStream, BusError> {
        let (mut sink, stream) = self.redis.pubsub().await?.split();
        let channels: Vec<String> = self.subscribed.iter().map(|c| c.clone()).collect();
        if !channels.is_empty() {
            sink.subscribe(&channels).await?;
        }
        *self.sink.lock().await = sink;
        Ok(stream)
    }
}
