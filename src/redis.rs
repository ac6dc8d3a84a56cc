//! The shared Redis connection of the scaled-out deployment: one multiplexed connection
//! (reconnecting on its own) and the key prefix that keeps this deployment's keys, or one
//! test's, apart from any other user of the same Redis. The bus, the inventory and the
//! carts each build their keys and scripts on top of it.

use redis::aio::{ConnectionManager, PubSub};

pub use redis::RedisError;

#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
}

impl Redis {
    pub async fn connect(url: &str, prefix: &str) -> Result<Redis, RedisError> {
        let client = redis::Client::open(url)?;
        let conn = client.get_connection_manager().await?;
        Ok(Redis { client, conn, prefix: prefix.to_owned() })
    }

    /// A handle on the shared connection; cheap, every clone multiplexes onto it.
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// A dedicated connection for subscriptions (pub/sub cannot share the multiplexed one).
    pub async fn pubsub(&self) -> Result<PubSub, RedisError> {
        self.client.get_async_pubsub().await
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
