//! The shared Redis connection of the scaled-out deployment: one multiplexed connection
//! (reconnecting on its own) and the key prefix that keeps this deployment's keys, or one
//! test's, apart from any other user of the same Redis. The bus, the inventory and the
//! carts each build their keys and scripts on top of it.

use redis::aio::{AsyncPushSender, ConnectionManager, MultiplexedConnection};
use redis::{AsyncConnectionConfig, ProtocolVersion};
use std::time::Duration;

pub use redis::RedisError;

/// How long a subscriber's connection attempt may take before it counts as failed.
const SUBSCRIBER_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command on a subscriber connection (a subscription, chiefly) waits for its
/// reply. Replies queue behind the messages already on their way, so this is longer than
/// the crate's default of half a second; yet bounded, so that a connection that went
/// silent without closing cannot hold a subscription up for ever.
const SUBSCRIBER_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    /// The same server spoken to in RESP3, where what a subscription receives arrives as
    /// pushes on an ordinary connection instead of on a connection of its own kind.
    resp3: redis::Client,
    prefix: String,
}

impl Redis {
    pub async fn connect(url: &str, prefix: &str) -> Result<Redis, RedisError> {
        let client = redis::Client::open(url)?;
        let conn = client.get_connection_manager().await?;
        let info = client.get_connection_info().clone();
        let resp3 = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
        let resp3 = redis::Client::open(info.set_redis_settings(resp3))?;
        Ok(Redis { conn, resp3, prefix: prefix.to_owned() })
    }

    /// A handle on the shared connection; cheap, every clone multiplexes onto it.
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// A new connection for subscriptions, named [`Redis::subscriber_name`]. Everything
    /// Redis pushes on it (messages, subscription confirmations, and a
    /// [`redis::PushKind::Disconnection`] when it drops) is handed to `pushes` on the task
    /// that reads the socket, one at a time and in order; `pushes` must not block. It does
    /// not reconnect: its owner decides what a lost subscription means.
    pub async fn subscriber(&self, pushes: impl AsyncPushSender) -> Result<MultiplexedConnection, RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(SUBSCRIBER_CONNECT_TIMEOUT))
            .set_response_timeout(Some(SUBSCRIBER_RESPONSE_TIMEOUT))
            .set_push_sender(pushes);
        let mut conn = self.resp3.get_multiplexed_async_connection_with_config(&config).await?;
        redis::cmd("CLIENT").arg("SETNAME").arg(self.subscriber_name()).exec_async(&mut conn).await?;
        Ok(conn)
    }

    /// What this deployment's (or test's) subscriber connections are called in `CLIENT
    /// LIST`, so that an operator can tell them apart: the prefix, with anything a client
    /// name may not hold replaced, and `subscriber`.
    pub fn subscriber_name(&self) -> String {
        let prefix: String = self.prefix.chars().map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect();
        format!("{prefix}subscriber")
    }

    /// The prefix every key and channel of this deployment starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    pub async fn ping(&self) -> Result<(), RedisError> {
        redis::cmd("PING").query_async::<String>(&mut self.conn()).await.map(drop)
    }
}
